/**
 * coord as a library (SPEC §6): the same machinery the CLI uses.
 *
 *   import { loadPlanFile, StreamCoordinator } from 'coord';
 *   const plan = await loadPlanFile('plan.yaml');
 *   if (plan.ok) await new StreamCoordinator({ plan: plan.value, home: '.coord' }).run();
 */
export { StreamCoordinator, DEFAULT_CONCURRENCY } from './orchestrator/coordinator.js';
export type { CoordinatorOptions, RunOutcome } from './orchestrator/coordinator.js';
export { loadPlanFile, parsePlan } from './plan/load.js';
export { formatDiagnostics } from './plan/diagnostics.js';
export type { Diagnostic } from './plan/diagnostics.js';
export { buildGraph } from './graph/graph.js';
export type * from './plan/types.js';
export type * from './events/types.js';
export type { Backend, RunRecord, StreamRecord, PointRecord } from './backend/types.js';
export { FileBackend } from './backend/file/file-backend.js';
export { RedisBackend, type RedisBackendOptions, type ConnectionEvent } from './backend/redis/redis-backend.js';
export { parseBackendUrl } from './backend/url.js';
export { nodeSpawner } from './supervise/spawner.js';
export type { Spawner, SpawnRequest, StreamProcess, ExitInfo } from './supervise/spawner.js';
export { mergeAll, mergeOne } from './workspace/merge.js';
export { parseDuration } from './util/duration.js';
export { FileLockManager, LockTimeoutError, DeadlockError, LockLostError } from './locks/manager.js';
export type { LockHandle, AcquireOptions, FileLockManagerOptions, LockContention, LockEvent } from './locks/manager.js';
export type { LockMode, LockState } from './locks/state.js';
export { FileLockStore, type LockStore } from './locks/store.js';
export { RedisLockStore } from './locks/redis-store.js';
export { lockRegistryDir, canonicalPath } from './locks/registry.js';
export { atomicReplace, appendRecord } from './locks/files.js';
export { VersionedDir } from './primitives/versioned-dir.js';
export type { Version, VersionedDirOptions } from './primitives/versioned-dir.js';
export { ResourcePool, ResourceLease } from './client/resource-pool.js';
export type { ResourceAcquireOptions } from './client/resource-pool.js';
export { Consensus } from './client/consensus.js';
export type { ProposeOptions, Decision } from './client/consensus.js';
export type { ProposalRecord, VoteRecord, ProposalKind, DecisionReason } from './consensus/board.js';
export { ControlError } from './client/control-client.js';
export type { RunTarget } from './client/control-client.js';
export { parseQuorum, quorumNeeded, tally } from './consensus/tally.js';
export type { Quorum, ProposalState, VoteValue, TallyResult } from './consensus/tally.js';
export type { PoolRecord } from './backend/types.js';
export { MessageQueue, QueueError, queueSummary } from './queue/queue.js';
export type { MessageQueueOptions, QueueDelivery, RecvOptions, AckOptions, TopicSummary, ConsumerSummary, StoredMessage, ConsumerCursor, PendingDelivery } from './queue/queue.js';
export { StateStore, VersionConflictError, StateLimitError, stateMessage } from './state/store.js';
export { MAX_DEPTH, MAX_STATE_BYTES, MAX_MESSAGE_BYTES } from './util/limits.js';
export type { ChangeEntry, StateVersion, UpdateResult, UpdateOptions, StateStoreOptions } from './state/store.js';
export { SeqLog } from './primitives/seq-log.js';
