/** Small file-system helpers with the guarantees coord needs (atomic replace, private modes). */
import { closeSync, fsyncSync, openSync, renameSync, writeSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Replaces `file` with `data` so that a reader sees the old or the new content, never a mix:
 * write a temp file in the same directory, optionally fsync it, then rename(2) over the target
 * (atomic within one file system).
 */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, opts: { mode?: number; fsync?: boolean } = {}): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', opts.mode ?? 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (opts.fsync) fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
}

/** mkdir -p with a private mode (0700 unless told otherwise). */
export function mkdirPrivate(dir: string, mode = 0o700): void {
  mkdirSync(dir, { recursive: true, mode });
}
