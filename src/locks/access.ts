/**
 * The plan's `isolation.file_access` as the file commands apply it, read from the stream's
 * environment (COORD_FILE_ACCESS, set by the coordinator):
 * - `exclusive_write` (the default, also outside a run): `coord write` and `coord append`
 *   take the path's write lock, so they wait for `coord lock PATH` holders and readers;
 * - `atomic`: `coord write` only replaces the file atomically (temp file and rename), no lock;
 *   `coord append` still locks, since whole records need it;
 * - `shared_read`: the shared directory ($COORD_SHARED) is read-only to hybrid streams:
 *   `coord write`, `append` and write locks under it are refused. Streams whose workspace
 *   is the shared directory (mode `shared`) are its writers and keep writing it.
 */
import { realpathSync } from 'node:fs';
import { sep } from 'node:path';
import { CoordError } from '../core/errors.js';

export type FileAccess = 'exclusive_write' | 'shared_read' | 'atomic';

export function fileAccess(env: NodeJS.ProcessEnv = process.env): FileAccess {
  const v = env.COORD_FILE_ACCESS;
  return v === 'shared_read' || v === 'atomic' ? v : 'exclusive_write';
}

/** Throws (exit 1) when `canonical` is under the shared directory of a `shared_read` stream. */
export function refuseSharedRead(canonical: string, env: NodeJS.ProcessEnv = process.env): void {
  if (fileAccess(env) !== 'shared_read' || !env.COORD_SHARED) return;
  let shared: string;
  try {
    shared = realpathSync(env.COORD_SHARED);
  } catch {
    return;
  }
  try {
    if (env.COORD_WORKSPACE && realpathSync(env.COORD_WORKSPACE) === shared) return;
  } catch {
    /* no workspace: a reader */
  }
  if (canonical === shared || canonical.startsWith(shared + sep)) {
    throw new CoordError('refused', `${canonical} is in the shared directory, which is read-only to this stream (isolation.file_access: shared_read)`);
  }
}
