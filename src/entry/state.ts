/** `@coord-run/coord/state`: a run's versioned shared state, the store `coord state` uses (docs/coordination.md, Shared state). */
export { StateStore, VersionConflictError, StateLimitError, stateMessage } from '../state/store.js';
export type { ChangeEntry, StateVersion, UpdateResult, UpdateOptions, StateStoreOptions } from '../state/store.js';
export { MAX_DEPTH, MAX_STATE_BYTES } from '../util/limits.js';
