/**
 * Workspace directories: the shared root (`workspace_root`, SPEC §2) and each stream's own
 * directory under it. Everything here is created with mode 0700 and refused when it is a
 * symbolic link, not a directory, or owned by someone else: a directory another user can
 * swap or read is not a safe place for a stream's work (think `/tmp/streams` on a shared box).
 */
import fs from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { CoordError } from '../core/errors.js';

/**
 * A workspace directory (or the root) is unsafe or cannot be created, or a path in it is not
 * what coord will write through; the message names the path. Code `refused` (exit 1): `coord
 * run` reports an unusable workspace root as bad usage itself.
 */
export class WorkspaceError extends CoordError {
  /** The offending path. */
  readonly path: string;
  constructor(message: string, filePath: string) {
    super('refused', message);
    this.name = 'WorkspaceError';
    this.path = filePath;
  }
}

function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/** `lstat`, or undefined when nothing is there. */
async function lstatOrNone(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** Throws unless `st` (from lstat of `p`) is a real directory owned by this process's user. */
function assertOwnDirectory(p: string, st: Stats, what: string): void {
  if (st.isSymbolicLink()) {
    throw new WorkspaceError(`${what} ${p} is a symbolic link; refusing to use it (point to the real directory instead)`, p);
  }
  if (!st.isDirectory()) {
    throw new WorkspaceError(`${what} ${p} exists and is not a directory`, p);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new WorkspaceError(`${what} ${p} is owned by uid ${st.uid}, not by the current user (uid ${uid}); refusing to use it`, p);
  }
}

/**
 * Makes `root` ready to hold workspaces: creates it (recursively, mode 0700) when missing;
 * refuses with a {@link WorkspaceError} when it is a symbolic link, not a directory, or owned
 * by another user. Only `root` itself is checked, not its ancestors.
 */
export async function prepareWorkspaceRoot(root: string): Promise<void> {
  const abs = path.resolve(root);
  let st = await lstatOrNone(abs);
  if (st === undefined) {
    try {
      await fs.mkdir(abs, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new WorkspaceError(`cannot create workspace root ${abs}: ${(e as Error).message}`, abs);
    }
    st = await fs.lstat(abs);
  }
  assertOwnDirectory(abs, st, 'workspace root');
}

/** Options of {@link createWorkspace}. */
export interface CreateWorkspaceOptions {
  /**
   * true (the default): the directory must not exist yet and is created empty (its parents
   * are created as needed, mode 0700). false (a user's explicit `workspace:` path): created
   * when missing, reused when it is already a real directory of ours.
   */
  fresh?: boolean;
}

/**
 * Creates one stream's workspace directory with mode 0700. A fresh workspace that already
 * exists is an error (EEXIST → {@link WorkspaceError}) rather than a silent reuse of someone
 * else's files; a reused one must be a real directory (not a symbolic link) owned by us.
 */
export async function createWorkspace(dir: string, opts: CreateWorkspaceOptions = {}): Promise<void> {
  const abs = path.resolve(dir);
  const fresh = opts.fresh ?? true;
  if (fresh) {
    try {
      // The parent usually exists (the run's directory): one mkdir(2) in the common case.
      await fs.mkdir(abs, { mode: 0o700 }).catch(async (e: unknown) => {
        if (errnoCode(e) !== 'ENOENT') throw e;
        await fs.mkdir(path.dirname(abs), { recursive: true, mode: 0o700 });
        await fs.mkdir(abs, { mode: 0o700 });
      });
    } catch (e) {
      if (errnoCode(e) === 'EEXIST') {
        throw new WorkspaceError(`workspace ${abs} already exists; a fresh workspace must not`, abs);
      }
      throw new WorkspaceError(`cannot create workspace ${abs}: ${(e as Error).message}`, abs);
    }
    return;
  }
  let st = await lstatOrNone(abs);
  if (st === undefined) {
    try {
      await fs.mkdir(abs, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new WorkspaceError(`cannot create workspace ${abs}: ${(e as Error).message}`, abs);
    }
    st = await fs.lstat(abs);
  }
  assertOwnDirectory(abs, st, 'workspace');
}

/** The `code` of a Node system error (`ENOENT`, …), or undefined. */
export function fsErrorCode(e: unknown): string | undefined {
  return errnoCode(e);
}
