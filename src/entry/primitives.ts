/** `@coord-run/coord/primitives`: the file primitives state and queues are built on (compare-and-set and publish by link(2)). */
export { VersionedDir } from '../primitives/versioned-dir.js';
export type { Version, VersionedDirOptions } from '../primitives/versioned-dir.js';
export { SeqLog } from '../primitives/seq-log.js';
