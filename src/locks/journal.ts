/**
 * The journal of an append in progress (`.NAME.coord-append` beside its target), and the
 * repair of the torn record a killed appender left: the part of appendRecord (files.ts) that
 * makes a killed append harmless to the next one.
 */
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { processStartTime, sameProcess } from '../util/proc.js';
import type { FileOps } from './file-ops.js';

/** Suffix of the journal an append keeps beside its target while it writes (`.NAME.coord-append`). */
export const JOURNAL_SUFFIX = '.coord-append';

/**
 * The journal of an append in progress: who writes (to tell a killed appender from a live
 * one), which file (device and inode: a `coord write` since then replaced it with another
 * one), and the bytes it is adding, from `offset` on.
 */
interface AppendJournal {
  pid: number;
  start: number | null;
  host: string;
  dev: string;
  ino: string;
  offset: number;
  length: number;
}

function journalOf(target: string): string {
  return join(dirname(target), `.${basename(target)}${JOURNAL_SUFFIX}`);
}

function parseJournal(text: string): AppendJournal | null {
  try {
    const j = JSON.parse(text) as Partial<AppendJournal>;
    const int = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
    if (!int(j.pid) || !int(j.offset) || !int(j.length) || typeof j.host !== 'string' || typeof j.dev !== 'string' || typeof j.ino !== 'string') return null;
    return { pid: j.pid, start: int(j.start) ? j.start : null, host: j.host, dev: j.dev, ino: j.ino, offset: j.offset, length: j.length };
  } catch {
    return null;
  }
}

/**
 * Cuts off the torn record a killed appender left at the end of the file open on `fd` (the
 * caller holds the write lock), as its journal describes it: when the file is still the one
 * it wrote and ends part way into its record. Returns the file's size afterwards.
 *
 * The journal goes first: a journal that cannot be removed is never acted on, so that one
 * left behind cannot cut a later record. A live appender's journal (one that lost its lock
 * while paused, and may still write) is left alone; so are its bytes. A journal that does not
 * parse was being written when its appender died, before any byte of its record.
 */
export function repairTornTail(ops: FileOps, target: string, fd: number, size: number): number {
  const path = journalOf(target);
  let text: string;
  try {
    text = ops.readFileSync(path, 'utf8');
  } catch {
    return size; // none: the last append ended (or the directory refused it one)
  }
  const j = parseJournal(text);
  // this process appends one record at a time: a journal of its own is from an append that ended
  if (j && j.host === hostname() && j.pid !== process.pid && sameProcess(j.pid, j.start)) return size;
  try {
    ops.unlinkSync(path);
  } catch {
    return size;
  }
  if (!j || size <= j.offset || size >= j.offset + j.length) return size; // nothing of it written, or all of it
  const st = ops.fstatSync(fd, { bigint: true });
  if (String(st.dev) !== j.dev || String(st.ino) !== j.ino) return size;
  ops.ftruncateSync(fd, j.offset);
  return j.offset;
}

/** This process's start time, for its journals (null where there is no /proc). */
const OWN_START = processStartTime(process.pid);

/** Writes the journal of the record about to be appended; null when the directory will not take it (the append goes on without). */
export function beginJournal(ops: FileOps, target: string, fd: number, offset: number, length: number): { path: string; text: string } | null {
  const st = ops.fstatSync(fd, { bigint: true });
  const j: AppendJournal = { pid: process.pid, start: OWN_START, host: hostname(), dev: String(st.dev), ino: String(st.ino), offset, length };
  const path = journalOf(target);
  const text = JSON.stringify(j) + '\n';
  try {
    ops.writeFileSync(path, text);
  } catch {
    // (a full disk): no journal, and no empty one left behind either (the lock is ours)
    try {
      ops.unlinkSync(path);
    } catch {
      /* never made */
    }
    return null;
  }
  return { path, text };
}

/** Removes the journal once the record is whole — only when it is still ours (an appender that took over a lost lock writes its own). */
export function endJournal(ops: FileOps, journal: { path: string; text: string } | null): void {
  if (!journal) return;
  try {
    if (ops.readFileSync(journal.path, 'utf8') === journal.text) ops.unlinkSync(journal.path);
  } catch {
    /* gone */
  }
}
