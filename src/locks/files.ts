/**
 * Atomic replacement and whole-record appends, the file operations of `coord write` and
 * `coord append`.
 */
import { closeSync, fchmodSync, fchownSync, fdatasyncSync, fstatSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** Suffix of the temp files `coord write` makes next to its target (left behind only by a killed writer). */
export const TEMP_SUFFIX = '.coord-tmp';

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

/**
 * Replaces `target` with `data` so that every reader sees the old or the new content, never
 * a mix, whenever the writer is killed: write a temp file in the same directory, fsync it,
 * give it the old file's mode (and owner, as root), rename(2) it over the target — atomic on
 * one file system — and fsync the directory so the rename itself survives a crash.
 * `beforeRename` runs last, so a fencing check sits as close to the rename as it can.
 */
export function atomicReplace(target: string, data: Uint8Array, beforeRename?: () => void): void {
  const tmp = writeTemp(target, data);
  try {
    beforeRename?.();
    renameSync(tmp.path, target);
  } catch (e) {
    dropTemp(tmp.path);
    throw e;
  }
  syncDir(tmp.dir);
}

/** atomicReplace with a check that may wait (a fencing check against a lock server). */
export async function atomicReplaceAsync(target: string, data: Uint8Array, beforeRename?: () => Promise<void>): Promise<void> {
  const tmp = writeTemp(target, data);
  try {
    await beforeRename?.();
    renameSync(tmp.path, target);
  } catch (e) {
    dropTemp(tmp.path);
    throw e;
  }
  syncDir(tmp.dir);
}

/** The temp file of atomicReplace: written, given the old file's mode (and owner), fsynced, closed. */
function writeTemp(target: string, data: Uint8Array): { path: string; dir: string } {
  let old: { mode: number; uid: number; gid: number } | null = null;
  try {
    const st = statSync(target);
    old = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${randomBytes(5).toString('hex')}${TEMP_SUFFIX}`);
  const fd = openSync(tmp, 'wx', 0o666);
  try {
    writeAll(fd, data);
    if (old) {
      fchmodSync(fd, old.mode);
      const st = fstatSync(fd);
      if (process.getuid?.() === 0 && (st.uid !== old.uid || st.gid !== old.gid)) fchownSync(fd, old.uid, old.gid);
    }
    fsyncSync(fd);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* closed already */
    }
    dropTemp(tmp);
    throw e;
  }
  closeSync(fd);
  return { path: tmp, dir };
}

function dropTemp(tmp: string): void {
  try {
    unlinkSync(tmp);
  } catch {
    /* renamed or gone */
  }
}

function syncDir(dir: string): void {
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

/**
 * Appends one whole record to `target` (created when missing) and flushes it. Callers hold
 * the file's write lock: a write(2) of more than a page may be split, and fs.appendFile
 * splits writes over 512 KiB, so O_APPEND alone does not keep large records whole.
 */
export function appendRecord(target: string, data: Uint8Array): void {
  const fd = openSync(target, 'a', 0o666);
  try {
    writeAll(fd, data);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
