/**
 * coord as a library (SPEC §6): the API docs/library.md documents.
 *
 *   import { loadPlanFile, StreamCoordinator } from '@coord-run/coord';
 *   const plan = await loadPlanFile('plan.yaml');
 *   if (plan.ok) await new StreamCoordinator({ plan: plan.value, home: '.coord' }).run();
 *
 * The index loads no Redis client (ioredis, BullMQ): a run with `workers` loads them when it
 * starts, and the Redis backend is `@coord-run/coord/redis`. Each part also has a subpath that
 * loads only that part: `/locks`, `/state`, `/queue`, `/backend`, `/plan`, `/merge`,
 * `/consensus`, `/resources`, `/primitives` and `/redis` (see src/entry/).
 */
export { StreamCoordinator, DEFAULT_CONCURRENCY } from './orchestrator/coordinator.js';
export type { CoordinatorOptions, RunOutcome } from './orchestrator/coordinator.js';
export { loadPlanFile, parsePlan, formatDiagnostics, type Diagnostic } from './entry/plan.js';
export type * from './plan/types.js';
export type * from './events/types.js';
export { FileBackend, type Backend, type RunRecord, type StreamRecord, type PointRecord, type PoolRecord } from './entry/backend.js';
export { nodeSpawner } from './supervise/spawner.js';
export type { Spawner, SpawnRequest, StreamProcess, ExitInfo } from './supervise/spawner.js';
export { FileLockManager, LockTimeoutError, DeadlockError, LockLostError } from './entry/locks.js';
export type { LockHandle, AcquireOptions, FileLockManagerOptions, LockContention, LockEvent, LockMode } from './entry/locks.js';
export { StateStore, VersionConflictError, StateLimitError, MAX_DEPTH, MAX_STATE_BYTES } from './entry/state.js';
export type { ChangeEntry, StateVersion, UpdateResult, UpdateOptions, StateStoreOptions } from './entry/state.js';
export { MessageQueue, QueueError } from './entry/queue.js';
export type { MessageQueueOptions, QueueDelivery, RecvOptions, AckOptions, TopicSummary, ConsumerSummary } from './entry/queue.js';
export { ResourcePool, ResourceLease, type ResourceAcquireOptions } from './entry/resources.js';
export { Consensus, ControlError, type ProposeOptions, type Decision, type RunTarget } from './entry/consensus.js';
export { CoordError, type ErrorCode } from './core/errors.js';
