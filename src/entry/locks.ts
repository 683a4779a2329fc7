/**
 * `@coord-run/coord/locks`: cross-process read/write locks with fencing tokens, and the atomic
 * writes and appends of `coord write` / `coord append` (docs/coordination.md, Locks). Loads no Redis client:
 * the locks on a Redis server are `RedisLockStore` in `@coord-run/coord/redis`.
 */
export { FileLockManager, LockTimeoutError, DeadlockError, LockLostError } from '../locks/manager.js';
export type { LockHandle, AcquireOptions, FileLockManagerOptions, LockContention, LockEvent } from '../locks/manager.js';
export type { LockMode, LockState } from '../locks/state.js';
export { FileLockStore, type LockStore } from '../locks/store.js';
export { lockRegistryDir, canonicalPath } from '../locks/registry.js';
export { atomicReplace, appendRecord } from '../locks/files.js';
