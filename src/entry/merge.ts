/** `@coord-run/coord/merge`: the merge engine of convergence points (conflict policies, three-way text merges). */
export { mergeAll, mergeOne, DEFAULT_MERGE_LIMITS, MergeLimitError, MergedPaths } from '../merge/merge.js';
export type { MergeLimits, MergeSource, ConflictRules, Conflict, ConflictDetail, ConflictVersion, MergeOptions, MergeResult } from '../merge/merge.js';
