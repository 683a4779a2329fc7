/**
 * Directories coord trusts without looking inside: the lock registry, its token ledger and a
 * run's `.coord` home. Whoever can write into one of them can rename what is in it — rename a
 * lock's state away and a waiter is granted while the holder still holds, with a smaller token;
 * forge a run's records — and a symbolic link sends everything somewhere else. So each must be
 * a real directory, owned by the current user and writable by nobody else. When it is missing it
 * is created with mode 0700, and checked once made: another user may have been quicker.
 *
 * This is the check `workspace_root` already gets (src/workspace/root.ts), plus the mode: those
 * directories are often in /tmp, where any user can create the name first. Only the directory
 * itself is checked, not its parents (the default places are in /tmp, sticky, or the user's own).
 * The check is synchronous because the lock store is.
 */
import { lstatSync, mkdirSync, type Stats } from 'node:fs';
import { CoordError } from '../core/errors.js';

/** A directory coord must not trust (code `unsafe`); the message names the path and what to do. */
export class UnsafeDirectoryError extends CoordError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super('unsafe', message);
    this.name = 'UnsafeDirectoryError';
  }
}

function lstatOrNone(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Who besides the owner may write a directory of mode `mode`, or null when nobody. */
function otherWriters(mode: number): string | null {
  const group = (mode & 0o020) !== 0;
  const others = (mode & 0o002) !== 0;
  return group && others ? 'its group and others' : group ? 'its group' : others ? 'others' : null;
}

export interface PrivateDirOptions {
  /** Create the directory (and its parents, mode 0700) when it is missing (default true). */
  create?: boolean;
  /** What to do instead, added to the refusal ("set COORD_LOCK_DIR to …"). */
  hint?: string;
}

/**
 * Makes sure `dir` is a directory only this user can change: creates it when missing (unless
 * `create` is false), then refuses with an {@link UnsafeDirectoryError} naming `what` and the
 * path when it is a symbolic link, not a directory, owned by another uid, or writable by its
 * group or by others. Returns whether the directory exists (false only with `create: false`).
 */
export function ensurePrivateDir(dir: string, what: string, opts: PrivateDirOptions = {}): boolean {
  const hint = opts.hint ? ` (${opts.hint})` : '';
  let st = lstatOrNone(dir);
  if (st === undefined) {
    if (opts.create === false) return false;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new UnsafeDirectoryError(`cannot create ${what} ${dir}: ${(e as Error).message}${hint}`, dir);
    }
    st = lstatSync(dir);
  }
  if (st.isSymbolicLink()) {
    throw new UnsafeDirectoryError(`${what} ${dir} is a symbolic link; refusing to use it${hint || ' (point to the real directory instead)'}`, dir);
  }
  if (!st.isDirectory()) throw new UnsafeDirectoryError(`${what} ${dir} exists and is not a directory${hint}`, dir);
  const uid = process.getuid?.();
  if (uid === undefined) return true; // no owners or modes to check (Windows)
  if (st.uid !== uid) {
    throw new UnsafeDirectoryError(`${what} ${dir} is owned by uid ${st.uid}, not by the current user (uid ${uid}); refusing to use it${hint}`, dir);
  }
  const writers = otherWriters(st.mode);
  if (writers) {
    const mode = '0' + (st.mode & 0o7777).toString(8).padStart(3, '0');
    throw new UnsafeDirectoryError(`${what} ${dir} is writable by ${writers} (mode ${mode}); refusing to use it${hint || ` (chmod go-w ${dir})`}`, dir);
  }
  return true;
}
