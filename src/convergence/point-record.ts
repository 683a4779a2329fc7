/** The record a convergence point starts from: what `coord status` shows of it before any stream ran. */
import { join } from 'node:path';
import type { PointRecord } from '../backend/types.js';
import type { PointSpec } from '../plan/types.js';

/**
 * A pending point's record: nothing merged, no conflict, its target `<run dir>/converged/<point>/`.
 * `fingerprint` is what `--resume` compares to tell a point whose plan entry changed.
 */
export function initialRecord(spec: PointSpec, runDir: string, fingerprint: string | undefined): PointRecord {
  return {
    name: spec.name,
    type: spec.type,
    state: 'pending',
    streams: [...spec.streams],
    merged: [],
    conflicts: [],
    reason: null,
    message: null,
    target: join(runDir, 'converged', spec.name),
    ...(fingerprint !== undefined ? { fingerprint } : {}),
  };
}
