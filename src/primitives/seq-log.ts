/**
 * An append-only log of JSON entries numbered 1, 2, 3… in one directory, written by many
 * processes without a mutex: entry n is the file `<dir>/<n div 1000>/<n>.json`, published by
 * link(2) of a complete temp file, so it appears whole or not at all and is never replaced
 * (link fails with EEXIST when the name is taken). An appender links at one past the newest
 * entry it saw, so appends leave no gaps; `put` writes at a given number (the state store's
 * change log, whose numbers are state versions).
 *
 * Entries are grouped a thousand to a directory so that finding the newest reads two short
 * directories however long the log grows.
 */
import { existsSync, mkdirSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { fsyncPath, isErrno, linkPublish, numberedNames } from './link-publish.js';

const PER_DIR = 1000;
const ENTRY = /^(\d+)\.json$/;
const SEGMENT = /^\d+$/;

export interface SeqEntry<T> {
  seq: number;
  body: T;
}

export class SeqLog<T> {
  readonly dir: string;
  private readonly mode: number;
  /** The newest number this instance saw or wrote: where the next append starts looking. */
  private hint = 0;

  constructor(dir: string, opts: { mode?: number } = {}) {
    this.dir = dir;
    this.mode = opts.mode ?? 0o700;
  }

  private segment(seq: number): string {
    return join(this.dir, String(Math.floor(seq / PER_DIR)));
  }

  file(seq: number): string {
    return join(this.segment(seq), `${seq}.json`);
  }

  /** The newest entry's number; 0 when the log is empty. */
  head(): number {
    const segs = numberedNames(this.dir, SEGMENT);
    for (let i = segs.length - 1; i >= 0; i--) {
      const entries = numberedNames(join(this.dir, String(segs[i])), ENTRY);
      const last = entries[entries.length - 1];
      if (last !== undefined) {
        this.hint = Math.max(this.hint, last);
        return last;
      }
    }
    return 0;
  }

  get(seq: number): T | undefined {
    if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
    try {
      return JSON.parse(readFileSync(this.file(seq), 'utf8')) as T;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  has(seq: number): boolean {
    return Number.isSafeInteger(seq) && seq >= 1 && existsSync(this.file(seq));
  }

  /**
   * Writes `body` as entry `seq` when that number is free; false when it is taken. With
   * `durable`, the entry and its directory are flushed to disk before this returns.
   */
  put(seq: number, body: T, durable = false): boolean {
    if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError(`bad log position ${seq}`);
    if (!linkPublish(this.segment(seq), `${seq}.json`, JSON.stringify(body), { durable, mode: this.mode })) return false;
    this.hint = Math.max(this.hint, seq);
    return true;
  }

  /** Appends `body` at one past the newest entry; returns its number. */
  append(body: T, durable = false): number {
    let seq = this.hint > 0 && this.has(this.hint) ? this.hint + 1 : this.head() + 1;
    for (;;) {
      if (this.put(seq, body, durable)) return seq;
      // taken: somebody appended meanwhile; start again past the newest
      seq = Math.max(seq, this.head()) + 1;
    }
  }

  /** Flushes entries already written to disk (used before the data they could be rebuilt from goes). */
  sync(seqs: readonly number[]): void {
    const segs = new Set<string>();
    for (const s of seqs) {
      try {
        fsyncPath(this.file(s));
        segs.add(this.segment(s));
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
      }
    }
    for (const d of segs) fsyncPath(d);
  }

  /** Entries from `from` on, in order, at most `limit` of them; numbers that are missing are skipped. */
  range(from = 1, limit = Infinity): Array<SeqEntry<T>> {
    const out: Array<SeqEntry<T>> = [];
    const first = Math.floor(Math.max(1, from) / PER_DIR);
    for (const seg of numberedNames(this.dir, SEGMENT)) {
      if (seg < first) continue;
      for (const seq of numberedNames(join(this.dir, String(seg)), ENTRY)) {
        if (seq < from) continue;
        const body = this.get(seq);
        if (body === undefined) continue;
        out.push({ seq, body });
        if (out.length >= limit) return out;
      }
    }
    return out;
  }

  /**
   * Calls `onChange` when an entry may have been added (inotify on the log and its newest
   * directory; callers keep a slow timer as well, for file systems without notifications).
   * Returns the function that stops watching.
   */
  watch(onChange: () => void): () => void {
    let root: FSWatcher | null = null;
    let seg: FSWatcher | null = null;
    let segName = '';
    let closed = false;
    const armSegment = (): void => {
      const segs = numberedNames(this.dir, SEGMENT);
      const newest = segs[segs.length - 1];
      if (newest === undefined || String(newest) === segName) return;
      seg?.close();
      segName = String(newest);
      try {
        seg = watch(join(this.dir, segName), { persistent: false }, (_e, name) => {
          if (name === null || ENTRY.test(String(name))) onChange();
        });
        seg.on('error', () => seg?.close());
      } catch {
        seg = null;
      }
    };
    const armRoot = (): void => {
      try {
        root = watch(this.dir, { persistent: false }, () => {
          if (closed) return;
          armSegment();
          onChange();
        });
        root.on('error', () => root?.close());
      } catch {
        root = null;
      }
    };
    mkdirSync(this.dir, { recursive: true, mode: this.mode });
    armRoot();
    armSegment();
    return () => {
      closed = true;
      root?.close();
      seg?.close();
    };
  }
}
