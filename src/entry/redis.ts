/**
 * `@coord-run/coord/redis`: the Redis backend and the locks kept on a Redis server. The one
 * entry point that loads ioredis; the index and the other subpaths never do.
 */
export { RedisBackend, type RedisBackendOptions, type ConnectionEvent } from '../backend/redis/redis-backend.js';
export { RedisLockStore } from '../locks/redis-store.js';
export { parseBackendUrl, type BackendUrl, type RedisBackendUrl } from '../backend/url.js';
