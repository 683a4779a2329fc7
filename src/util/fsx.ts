/** Small file-system helpers with the guarantees coord needs (atomic replace, private modes). */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, renameSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { diskFullAt, writeAllSync } from './disk-full.js';

/**
 * Replaces `file` with `data` so that a reader sees the old or the new content, never a mix:
 * write a temp file in the same directory, optionally fsync it, then rename(2) over the target
 * (atomic within one file system). When any step fails the temp file is removed and `file`
 * keeps its old content; a full disk is thrown as a DiskFullError naming `file`.
 */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, opts: { mode?: number; fsync?: boolean } = {}): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', opts.mode ?? 0o600);
  } catch (e) {
    throw diskFullAt(e, file);
  }
  try {
    try {
      writeAllSync(fd, data);
      if (opts.fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw diskFullAt(e, file);
  }
}

/**
 * The last resort when the disk is full: rewrites `file` in place with `data`, which must fit
 * in the blocks the file already has (a rewrite there needs no new space on ext4, xfs or
 * tmpfs). Not atomic: a reader at that moment may see part of it. False, with nothing
 * written, when `data` would need more space than the file holds.
 */
export function overwriteInPlaceSync(file: string, data: string): boolean {
  const buf = Buffer.from(data);
  const fd = openSync(file, 'r+');
  try {
    const st = fstatSync(fd);
    if (buf.length > st.blocks * 512) return false;
    writeAllSync(fd, buf);
    if (buf.length < st.size) ftruncateSync(fd, buf.length);
    return true;
  } catch (e) {
    throw diskFullAt(e, file);
  } finally {
    closeSync(fd);
  }
}

/** mkdir -p with a private mode (0700 unless told otherwise). */
export function mkdirPrivate(dir: string, mode = 0o700): void {
  try {
    mkdirSync(dir, { recursive: true, mode });
  } catch (e) {
    throw diskFullAt(e, dir);
  }
}
