/** `@coord-run/coord/plan`: plans read and checked as `coord validate` does, diagnostics with line:col, the graph. */
export { loadPlanFile, parsePlan } from '../plan/load.js';
export { formatDiagnostics } from '../plan/diagnostics.js';
export type { Diagnostic } from '../plan/diagnostics.js';
export type * from '../plan/types.js';
export { buildGraph, type PlanGraph, type NodeRef } from '../graph/graph.js';
export { parseDuration } from '../util/duration.js';
