/**
 * The run's one record writer. Every backend write of the engine (stream, point, pool and
 * run records, proposals, the event log) goes through it, one after another in the order
 * they were made. A failed write is kept (the first one) and the run goes on; at its end the
 * engine writes every record once more, so that what is stored is what the run printed.
 *
 * Records that change often are coalesced in lanes: a lane collects the keys marked dirty and
 * writes them together at most every `delayMs` (a stream that starts and ends within one
 * window is written once). On a slow disk a write+rename per transition costs more than the
 * spawn; the event log, written at once, has every transition meanwhile. What a lane writes
 * is taken when it flushes, not when it was marked.
 */

import { realTimers, type Timers } from '../supervise/timers.js';

export type { Timers } from '../supervise/timers.js';

export interface RecordWriterOptions {
  /** Told of each failed write (the first is also kept as `error`). */
  onError?: (e: unknown) => void;
  timers?: Timers;
}

/** A coalescing lane: keys marked dirty are written together at most every `delayMs`. */
export interface Lane<K> {
  mark(key: K): void;
  /** Writes what is dirty now (nothing when nothing is). */
  flush(): void;
  /** How many keys wait for the next flush. */
  readonly pending: number;
}

export class RecordWriter {
  private chain: Promise<void> = Promise.resolve();
  private firstError: unknown;
  private failed = false;
  private readonly lanes: Array<Lane<unknown>> = [];
  private readonly timers: Timers;

  constructor(private readonly opts: RecordWriterOptions = {}) {
    this.timers = opts.timers ?? realTimers;
  }

  /** Queues a write after every write made before it. */
  write(fn: () => Promise<unknown>): void {
    this.chain = this.chain
      .then(fn)
      .then(() => undefined)
      .catch((e: unknown) => {
        if (!this.failed) {
          this.failed = true;
          this.firstError = e;
        }
        this.opts.onError?.(e);
      });
  }

  /**
   * A lane of records written together: `take` reads the dirty keys' records when the lane
   * flushes (synchronously), `store` writes them.
   */
  lane<K, S>(delayMs: number, take: (keys: K[]) => S, store: (records: S) => Promise<unknown>): Lane<K> {
    const dirty = new Set<K>();
    let timer: unknown;
    const flush = (): void => {
      if (timer !== undefined) this.timers.clearTimeout(timer);
      timer = undefined;
      if (dirty.size === 0) return;
      const records = take([...dirty]);
      dirty.clear();
      this.write(() => store(records));
    };
    const lane: Lane<K> = {
      mark: (key) => {
        dirty.add(key);
        timer ??= this.timers.setTimeout(flush, delayMs);
      },
      flush,
      get pending() {
        return dirty.size;
      },
    };
    this.lanes.push(lane as Lane<unknown>);
    return lane;
  }

  /** Flushes every lane now. */
  flushAll(): void {
    for (const l of this.lanes) l.flush();
  }

  /** Resolves once every write queued so far is done (or failed). */
  settled(): Promise<void> {
    return this.chain;
  }

  /** Whether a write failed (since the last `forgetError`). */
  get hasFailed(): boolean {
    return this.failed;
  }

  /** The first failed write's error. */
  get error(): unknown {
    return this.firstError;
  }

  /** Forgets the failure (before the records are written once more). */
  forgetError(): void {
    this.failed = false;
    this.firstError = undefined;
  }
}
