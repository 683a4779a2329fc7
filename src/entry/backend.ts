/** `@coord-run/coord/backend`: the storage interface of runs and the embedded file backend (Redis: `@coord-run/coord/redis`). */
export type { Backend, RunRecord, StreamRecord, PointRecord, PoolRecord } from '../backend/types.js';
export { FileBackend } from '../backend/file/file-backend.js';
