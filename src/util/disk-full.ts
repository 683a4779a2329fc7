/**
 * A full disk (ENOSPC) or an exhausted quota (EDQUOT) as an error that names the file coord
 * was writing: Node's errors of fd-based calls (write(2), fsync(2)) carry no path, and
 * "ENOSPC: no space left on device, write" alone does not say which disk filled up.
 */
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { CoordError } from '../core/errors.js';

/** The error codes of a write refused for want of space (see write(2): ENOSPC, EDQUOT). */
const CODES = new Set(['ENOSPC', 'EDQUOT']);

/**
 * `disk full: <path>`, code `disk-full`; `errnoCode` is the errno name the system gave (ENOSPC
 * or EDQUOT): `code` is coord's, as on every CoordError.
 */
export class DiskFullError extends CoordError {
  override readonly name = 'DiskFullError';
  readonly errnoCode: string;
  readonly path: string;

  constructor(path: string, errnoCode = 'ENOSPC') {
    super('disk-full', `disk full: ${path}${errnoCode === 'EDQUOT' ? ' (disk quota exceeded)' : ''}`);
    this.errnoCode = errnoCode;
    this.path = path;
  }
}

/** True for ENOSPC and EDQUOT (a DiskFullError included). */
export function isDiskFull(e: unknown): boolean {
  return e instanceof DiskFullError || (typeof e === 'object' && e !== null && CODES.has(String((e as NodeJS.ErrnoException).code)));
}

/** `e` as a DiskFullError naming `path` when it is a full disk, else `e` unchanged (a DiskFullError keeps its own path). */
export function diskFullAt(e: unknown, path: string): unknown {
  if (e instanceof DiskFullError || !isDiskFull(e)) return e;
  return new DiskFullError(path, String((e as NodeJS.ErrnoException).code));
}

/**
 * Writes all of `data` at the descriptor's offset. write(2) may write less than asked when
 * the disk fills up part way (the next call then fails with ENOSPC): one fs.writeSync alone
 * would leave a short file that looks complete.
 */
export function writeAllSync(fd: number, data: string | Uint8Array): void {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/**
 * Creates `file` (O_EXCL) holding `bytes` zero bytes: space set aside, given back by removing
 * it. Zeros written, not a sparse file: the blocks are taken now. Nothing stays when it fails.
 */
export function reserveSpaceSync(file: string, bytes: number): void {
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeAllSync(fd, Buffer.alloc(bytes));
    closeSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(file);
    } catch {
      /* gone */
    }
    throw diskFullAt(e, file);
  }
}
