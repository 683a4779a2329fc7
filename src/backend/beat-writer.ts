/**
 * Keeps one running attempt's heartbeat key (StreamBeat, see src/backend/redis/beats.ts) up to
 * date: written when the attempt starts, then at most once every `gapMs` while it beats (the
 * last beat of a burst is written when the gap is over), and deleted when it ends. Writes of
 * one attempt go out one after the other, never two at once: a beat that comes while one is
 * being written only updates what the next write sends, so a server that is away costs one
 * pending write, not one per beat. Failures are dropped (the next beat writes again); the
 * stream never waits for them.
 */
import { hostname } from 'node:os';
import type { StreamBeat } from './types.js';

export interface BeatSink {
  put(beat: StreamBeat): Promise<unknown>;
  end(attempt: number): Promise<unknown>;
}

export class BeatWriter {
  private beat: StreamBeat;
  private lastMs = -Infinity;
  private busy = false;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly sink: BeatSink,
    first: StreamBeat,
    private readonly gapMs = 1000,
  ) {
    this.beat = { ...first };
    this.write();
  }

  /** A beat at `time`; progress and message when the heartbeat file said them. */
  update(time: Date, said?: { progress: number | null; message: string | null }): void {
    if (this.ended) return;
    this.beat = { ...this.beat, time: time.toISOString(), ...(said ?? {}) };
    this.dirty = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.ended || !this.dirty || this.busy || this.timer) return;
    const wait = this.lastMs + this.gapMs - performance.now();
    if (wait <= 0) this.write();
    else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, wait);
      this.timer.unref();
    }
  }

  /** The attempt ended: its key is deleted (after any write in flight). */
  finish(): Promise<void> {
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const attempt = this.beat.attempt;
    const done = this.chain
      .then(() => this.sink.end(attempt))
      .then(
        () => undefined,
        () => undefined,
      );
    this.chain = done;
    return done;
  }

  private write(): void {
    this.busy = true;
    this.dirty = false;
    this.lastMs = performance.now();
    const beat = this.beat;
    this.chain = this.sink
      .put(beat)
      .catch(() => undefined)
      .finally(() => {
        this.busy = false;
        this.schedule();
      });
  }
}

/** Where heartbeat keys are kept: a backend that expires keys (BeatStore), or a worker's connection to its server. */
export interface BeatKeys {
  putBeat(runId: string, stream: string, beat: StreamBeat, ttlMs: number): Promise<unknown>;
  endBeat(runId: string, stream: string, attempt: number): Promise<unknown>;
}

/** One attempt's heartbeat key: whose it is, and how long a beat of it lives (its `heartbeat.timeout`). */
export interface BeatKey {
  runId: string;
  stream: string;
  attempt: number;
  /** When the attempt started (default: now). */
  startedAt?: string | null | undefined;
  /** The worker that runs it; null for the coordinator's own attempts. */
  worker: string | null;
  ttlMs: number;
}

/** The writer of one attempt's heartbeat key on this host, its first beat written now (the one way both the coordinator and a worker keep one). */
export function beatWriter(keys: BeatKeys, key: BeatKey): BeatWriter {
  const { runId, stream, ttlMs } = key;
  return new BeatWriter(
    { put: (beat) => keys.putBeat(runId, stream, beat, ttlMs), end: (n) => keys.endBeat(runId, stream, n) },
    {
      attempt: key.attempt,
      startedAt: key.startedAt ?? new Date().toISOString(),
      time: null,
      progress: null,
      message: null,
      host: hostname(),
      worker: key.worker,
    },
  );
}
