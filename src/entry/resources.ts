/** `@coord-run/coord/resources`: units of a running run's resource pools (the requests of `coord resource acquire`). */
export { ResourcePool, ResourceLease } from '../client/resource-pool.js';
export type { ResourceAcquireOptions } from '../client/resource-pool.js';
export type { PoolRecord } from '../backend/types.js';
export { ControlError, type RunTarget } from '../client/control-client.js';
