/**
 * Atomic replacement and whole-record appends, the file operations of `coord write` and
 * `coord append`.
 */
import * as fs from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { processStartTime, sameProcess } from '../util/proc.js';
import { TEMP_SUFFIX, TEMP_TAIL } from '../util/write-temp.js';
import type { FileOps } from './file-ops.js';
import { beginJournal, endJournal, repairTornTail } from './journal.js';

export { TEMP_SUFFIX } from '../util/write-temp.js';
export { JOURNAL_SUFFIX } from './journal.js';
export type { FileOps } from './file-ops.js';

function writeAll(ops: FileOps, fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += ops.writeSync(fd, data, off, data.length - off);
}

/**
 * Replaces `target` with `data` so that every reader sees the old or the new content, never
 * a mix, whenever the writer is killed: write a temp file in the same directory (see
 * PendingReplace), fsync it, rename(2) it over the target — atomic on one file system — and
 * fsync the directory so the rename itself survives a crash. `beforeRename` runs last, so a
 * fencing check sits as close to the rename as it can.
 */
export function atomicReplace(target: string, data: Uint8Array, beforeRename?: () => void, ops: FileOps = fs): void {
  const tmp = PendingReplace.open(target, ops);
  try {
    tmp.write(data);
  } catch (e) {
    tmp.discard();
    throw e;
  }
  tmp.commitSync(beforeRename);
}

/** atomicReplace with a check that may wait (a fencing check against a lock server). */
export async function atomicReplaceAsync(target: string, data: Uint8Array, beforeRename?: () => Promise<void>, ops: FileOps = fs): Promise<void> {
  const tmp = PendingReplace.open(target, ops);
  try {
    tmp.write(data);
  } catch (e) {
    tmp.discard();
    throw e;
  }
  await tmp.commit(beforeRename);
}

/**
 * This host in temp file names: a directory may be shared by several hosts (over the
 * network), and a pid says nothing about another host's processes.
 */
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 6);

/** This process's start time (null where there is no /proc): with the pid, it names the process. */
const OWN_START = processStartTime(process.pid);

/** `.NAME.<pid>-<start>-<host>-<random>.coord-tmp`: names the writer, so the next write can tell a killed writer's leftover from a live one's. */
function tempName(base: string): string {
  return `.${base}.${process.pid}-${OWN_START ?? ''}-${HOST_TAG}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
}

/**
 * Removes the temp files of `base` that killed writers left in `dir`: those made on this host
 * by a process that is gone (its pid ended or was reused). A write of the file runs this, so
 * leftovers last until the next write of the same file and no longer. Temp files of live
 * writers, of other hosts, and names that say no process (made by older versions) are left.
 */
function sweepStaleTemps(ops: FileOps, dir: string, base: string): void {
  const prefix = `.${base}.`;
  let names: string[];
  try {
    names = ops.readdirSync(dir);
  } catch {
    return; // a directory we may write but not list: the leftovers stay, the write goes on
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = TEMP_TAIL.exec(name.slice(prefix.length));
    if (!m || m[3] !== HOST_TAG || sameProcess(Number(m[1]), m[2] ? Number(m[2]) : null)) continue;
    dropTemp(ops, join(dir, name));
  }
}

interface Ownership {
  mode: number;
  uid: number;
  gid: number;
}

function ownership(ops: FileOps, target: string): Ownership | null {
  try {
    const st = ops.statSync(target);
    return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return null;
  }
}

/** Gives `fd` the owner (as root) and the mode bits of `old` that `mask` keeps; the owner first, since chown(2) may clear set-id bits. */
function adopt(ops: FileOps, fd: number, old: Ownership, mask: number): void {
  const st = ops.fstatSync(fd);
  if (process.getuid?.() === 0 && (st.uid !== old.uid || st.gid !== old.gid)) ops.fchownSync(fd, old.uid, old.gid);
  if ((st.mode & 0o7777) !== (old.mode & mask)) ops.fchmodSync(fd, old.mode & mask);
}

/**
 * The temp file of an atomic replacement, filled bit by bit (`coord write` streams its input
 * into it) and then renamed over the target.
 *
 * Its mode is never wider than the target's, from the open(2) on: it is created with the
 * target's permission bits (the umask can only narrow them) and given exactly those before
 * its first byte, so a writer killed at any point leaves no copy that more users can read than
 * can read the target. A new target's temp file gets 0666 less the umask, as a shell
 * redirection would. At the commit the target's mode and owner are read again (they may have
 * changed while the input came) and given in full, set-id bits included.
 *
 * Creating one first sweeps the temp files killed writers left for the same target.
 */
export class PendingReplace {
  private fd: number | null;
  private finished = false;

  private constructor(
    readonly target: string,
    readonly path: string,
    readonly dir: string,
    fd: number,
    private readonly ops: FileOps,
  ) {
    this.fd = fd;
  }

  static open(target: string, ops: FileOps = fs): PendingReplace {
    const dir = dirname(target);
    const base = basename(target);
    sweepStaleTemps(ops, dir, base);
    const old = ownership(ops, target);
    const path = join(dir, tempName(base));
    const fd = ops.openSync(path, 'wx', old ? old.mode & 0o777 : 0o666);
    try {
      if (old) adopt(ops, fd, old, 0o777);
    } catch (e) {
      ops.closeSync(fd);
      dropTemp(ops, path);
      throw e;
    }
    return new PendingReplace(target, path, dir, fd, ops);
  }

  write(data: Uint8Array): void {
    if (this.fd === null) throw new Error(`${this.path} is closed`);
    writeAll(this.ops, this.fd, data);
  }

  /** fsync, the target's current mode and owner, `beforeRename`, rename, fsync of the directory; the temp file is removed when any of it fails. */
  commitSync(beforeRename?: () => void): void {
    this.guarded(() => {
      this.seal();
      beforeRename?.();
    });
    this.renameIntoPlace();
  }

  /** commitSync with a check that may wait (a fencing check against a lock server). */
  async commit(beforeRename?: () => Promise<void>): Promise<void> {
    try {
      this.seal();
      await beforeRename?.();
    } catch (e) {
      this.discard();
      throw e;
    }
    this.renameIntoPlace();
  }

  /** Runs `step`; the temp file is removed when it throws. */
  private guarded(step: () => void): void {
    try {
      step();
    } catch (e) {
      this.discard();
      throw e;
    }
  }

  /** The temp file takes the target's place, and the directory entry is made durable. */
  private renameIntoPlace(): void {
    this.guarded(() => this.ops.renameSync(this.path, this.target));
    this.finished = true;
    syncDir(this.ops, this.dir);
  }

  /** Closes and removes the temp file; nothing once it has been renamed over the target. */
  discard(): void {
    if (this.finished) return;
    this.finished = true;
    this.close();
    dropTemp(this.ops, this.path);
  }

  private seal(): void {
    if (this.fd === null) throw new Error(`${this.path} is closed`);
    const now = ownership(this.ops, this.target);
    if (now) adopt(this.ops, this.fd, now, 0o7777);
    this.ops.fsyncSync(this.fd);
    this.close();
  }

  private close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      this.ops.closeSync(fd);
    } catch {
      /* closed already */
    }
  }
}

function dropTemp(ops: FileOps, tmp: string): void {
  try {
    ops.unlinkSync(tmp);
  } catch {
    /* renamed or gone */
  }
}

function syncDir(ops: FileOps, dir: string): void {
  const dfd = ops.openSync(dir, 'r');
  try {
    ops.fsyncSync(dfd);
  } finally {
    ops.closeSync(dfd);
  }
}

const NEWLINE = Buffer.from('\n');

function regularOrMissing(ops: FileOps, target: string): boolean {
  try {
    return ops.statSync(target).isFile();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

/**
 * Appends one whole record to `target` (created when missing) and flushes it. Callers hold
 * the file's write lock: a write(2) of more than a page may be split, and fs.appendFile
 * splits writes over 512 KiB, so O_APPEND alone does not keep large records whole.
 *
 * An appender killed part way leaves a torn record; the next append removes it. While it
 * writes, an append keeps a journal beside the target (`.NAME.coord-append`: its process,
 * the file, the offset and length of its record) and removes it once the record is flushed;
 * the next append (holding the lock in turn) that finds a journal of a process that is gone
 * truncates the file back to that offset (see repairTornTail). A record also always starts on
 * a line of its own: when the file does not end with a newline (a torn record no journal
 * describes — the directory did not take one — or a last line another program left
 * unfinished), one goes first, so no record is ever glued to what came before it.
 */
export function appendRecord(target: string, data: Uint8Array, ops: FileOps = fs): void {
  if (!regularOrMissing(ops, target)) {
    // a pipe or a device: there is no end to repair or look at, the record is written as it is
    const fd = ops.openSync(target, 'a');
    try {
      writeAll(ops, fd, data);
      try {
        ops.fdatasyncSync(fd);
      } catch (e) {
        // EINVAL: a pipe or a character device has nothing to flush
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
      }
    } finally {
      ops.closeSync(fd);
    }
    return;
  }
  let fd: number;
  let readable = true;
  try {
    fd = ops.openSync(target, 'a+', 0o666);
  } catch (e) {
    // a file we may append to but not read (a drop box): no look at its last byte
    if ((e as NodeJS.ErrnoException).code !== 'EACCES') throw e;
    fd = ops.openSync(target, 'a', 0o666);
    readable = false;
  }
  try {
    const size = repairTornTail(ops, target, fd, ops.fstatSync(fd).size);
    let record = data;
    if (readable && size > 0) {
      const last = Buffer.alloc(1);
      if (ops.readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a) record = Buffer.concat([NEWLINE, data]);
    }
    const journal = beginJournal(ops, target, fd, size, record.length);
    try {
      writeAll(ops, fd, record);
      ops.fdatasyncSync(fd);
    } catch (e) {
      // alive to clean up after itself (a full disk, a file size limit): no partial record stays
      try {
        ops.ftruncateSync(fd, size);
        endJournal(ops, journal);
      } catch {
        /* the journal stays: the next append repairs it */
      }
      throw e;
    }
    endJournal(ops, journal);
  } finally {
    ops.closeSync(fd);
  }
}
