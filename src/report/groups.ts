/**
 * The lines of each running stream, held until the stream ends and its group is printed
 * (src/report/github.ts). A chatty stream must not grow coord's memory without end, so memory
 * holds at most {@link KEEP_CHARS} a stream and {@link TOTAL_CHARS} in all; past that, a
 * stream's lines go on to a file of its own in a private temporary directory, in the order
 * they came (its stdout and stderr mixed as they were shown), and the group is copied from
 * that file in chunks. The stream's log files in the run directory are not used for this: they
 * keep stdout and stderr apart (their order between the two is lost), and with the Redis
 * backend or on a worker they are not on this disk.
 */
import { appendFileSync, closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Characters of one stream's lines kept in memory before they go to its file. */
export const KEEP_CHARS = 64 * 1024;
/** Characters of all streams' lines kept in memory together. */
export const TOTAL_CHARS = 4 * 1024 * 1024;
/** Once a stream has a file, its lines are appended in batches of about this many characters. */
const BATCH_CHARS = 16 * 1024;
/** The chunk a group is copied from its file in. */
const CHUNK_BYTES = 64 * 1024;

interface Held {
  lines: string[];
  chars: number;
  file?: string;
  /** Lines that could not be kept (their file could not be written): told in the group, not lost silently. */
  lost: number;
  lostWhy?: string;
}

/** Limits of {@link StreamLines} (the defaults above; tests pass small ones). */
export interface StreamLinesLimits {
  keepChars?: number;
  totalChars?: number;
  /** Where the temporary directory is made (default: the OS's). */
  tmp?: string;
}

/** Each stream's lines until it ends, bounded in memory, the rest in a file. */
export class StreamLines {
  private readonly held = new Map<string, Held>();
  private total = 0;
  private dir: string | undefined;
  private files = 0;
  private readonly keep: number;
  private readonly max: number;
  private readonly tmp: string;

  constructor(limits: StreamLinesLimits = {}) {
    this.keep = limits.keepChars ?? KEEP_CHARS;
    this.max = limits.totalChars ?? TOTAL_CHARS;
    this.tmp = limits.tmp ?? tmpdir();
  }

  /** Whether anything was added for `stream` since it was last taken. */
  has(stream: string): boolean {
    return this.held.has(stream);
  }

  /** The streams holding lines, in the order their first line came. */
  streams(): string[] {
    return [...this.held.keys()];
  }

  /** Characters held in memory now, all streams together. */
  inMemory(): number {
    return this.total;
  }

  /** Adds one line (without its newline) of `stream`. */
  add(stream: string, line: string): void {
    let h = this.held.get(stream);
    if (!h) this.held.set(stream, (h = { lines: [], chars: 0, lost: 0 }));
    h.lines.push(line);
    h.chars += line.length + 1;
    this.total += line.length + 1;
    // over the total, the stream adding goes to its file: memory stays within the total and one line
    if (h.chars > (h.file ? BATCH_CHARS : this.keep) || this.total > this.max) this.spill(h);
  }

  /**
   * Writes `stream`'s lines (each with its newline) through `write`, in order, and forgets
   * them; its file is copied in chunks and removed. Nothing is written for a stream with none.
   */
  take(stream: string, write: (chunk: string | Buffer) => void): void {
    const h = this.held.get(stream);
    if (!h) return;
    this.held.delete(stream);
    if (h.file) {
      this.spill(h);
      if (h.file) this.copy(h.file, write);
    }
    if (h.lines.length > 0) write(h.lines.join('\n') + '\n');
    this.total -= h.chars;
    if (h.lost > 0) {
      const why = h.lostWhy ?? 'unknown error';
      write(`coord: ${h.lost} line(s) of ${stream} could not be kept for this group (${why}); coord logs ${stream} has them\n`);
    }
  }

  /** Removes the temporary directory (lines not taken are dropped). */
  close(): void {
    this.held.clear();
    this.total = 0;
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  private spill(h: Held): void {
    if (h.lines.length === 0) return;
    const text = h.lines.join('\n') + '\n';
    const count = h.lines.length;
    this.total -= h.chars;
    h.lines = [];
    h.chars = 0;
    try {
      this.dir ??= mkdtempSync(join(this.tmp, 'coord-groups-'));
      h.file ??= join(this.dir, String(++this.files));
      appendFileSync(h.file, text);
    } catch (e) {
      // a full disk must not stop the run: the lines are counted and the group says so
      h.lost += count;
      const message = (e as { message?: unknown } | null)?.message;
      h.lostWhy = typeof message === 'string' ? message : String(e);
    }
  }

  private copy(file: string, write: (chunk: Buffer) => void): void {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(CHUNK_BYTES);
      // raw bytes: a chunk may end inside a UTF-8 character, and the next chunk finishes it on the same output
      for (let n: number; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) write(Buffer.from(buf.subarray(0, n)));
    } finally {
      closeSync(fd);
      rmSync(file, { force: true });
    }
  }
}
