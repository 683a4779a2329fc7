/**
 * Liveness of running streams. A stream is alive while its heartbeat file changes (any write,
 * `touch` or rename-replace: the file's mtime, inode or size moves) or, by default, while it
 * prints. Silence is measured on the monotonic clock (performance.now), so wall-clock jumps
 * can neither hide a stall nor raise a false one; the heartbeat file is checked with stat(2)
 * on one timer for all streams.
 */
import { statSync } from 'node:fs';
import type { HeartbeatSource } from '../plan/types.js';

export interface LivenessOptions {
  timeoutMs: number;
  source: HeartbeatSource;
  /** Called once when a stream has been silent for `timeoutMs` (again only after it beats). */
  onStall(id: string, silentMs: number): void;
  /** Called when a stalled stream beats again. */
  onRevive?(id: string): void;
  /** Called on every beat (callers throttle what they do with it). */
  onBeat?(id: string, at: Date): void;
  /** The monotonic clock (injectable for tests). */
  now?: () => number;
}

interface Watched {
  file: string;
  last: number;
  lastWall: Date | null;
  signature: string;
  stalled: boolean;
}

export class LivenessMonitor {
  private readonly opts: LivenessOptions;
  private readonly now: () => number;
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | undefined;
  /** How often files are checked: a quarter of the timeout, at most once a second, at least every 20 ms. */
  readonly pollMs: number;

  constructor(opts: LivenessOptions) {
    this.opts = opts;
    this.now = opts.now ?? (() => performance.now());
    this.pollMs = Math.max(20, Math.min(1000, Math.floor(opts.timeoutMs / 4)));
  }

  watch(id: string, heartbeatFile: string): void {
    this.watched.set(id, { file: heartbeatFile, last: this.now(), lastWall: null, signature: signature(heartbeatFile), stalled: false });
    if (!this.timer) {
      this.timer = setInterval(() => this.check(), this.pollMs);
      this.timer.unref();
    }
  }

  unwatch(id: string): void {
    this.watched.delete(id);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Output from the stream (counts when `source` is `output` or `any`). */
  output(id: string): void {
    if (this.opts.source !== 'file') this.beat(id);
  }

  /** The wall-clock time of the stream's last beat, if it has beaten since it started. */
  lastBeat(id: string): Date | null {
    return this.watched.get(id)?.lastWall ?? null;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }

  /** One pass over every watched stream; public so tests can drive it with their clock. */
  check(): void {
    const now = this.now();
    for (const [id, w] of this.watched) {
      if (this.opts.source !== 'output') {
        const sig = signature(w.file);
        if (sig !== w.signature) {
          w.signature = sig;
          this.beat(id);
        }
      }
      const silent = now - w.last;
      if (!w.stalled && silent >= this.opts.timeoutMs) {
        w.stalled = true;
        this.opts.onStall(id, Math.round(silent));
      }
    }
  }

  private beat(id: string): void {
    const w = this.watched.get(id);
    if (!w) return;
    w.last = this.now();
    w.lastWall = new Date();
    this.opts.onBeat?.(id, w.lastWall);
    if (w.stalled) {
      w.stalled = false;
      this.opts.onRevive?.(id);
    }
  }
}

function signature(file: string): string {
  try {
    const st = statSync(file, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch {
    return 'absent';
  }
}
