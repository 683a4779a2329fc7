/**
 * Liveness of running streams. A stream is alive while its heartbeat file changes (any write,
 * `touch` or rename-replace: the file's mtime, inode or size moves) or, by default, while it
 * prints. Silence is measured on the monotonic clock (performance.now), so wall-clock jumps
 * can neither hide a stall nor raise a false one. The heartbeat files are checked with
 * stat(2) on one timer for all streams; file-watch events (chokidar) only make a check come
 * sooner, so a missed event, or a watcher that fails (ENOSPC, EMFILE), changes nothing but
 * that: polling goes on.
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
  /** Called on every beat (callers throttle what they do with it); `file`: the heartbeat file changed. */
  onBeat?(id: string, at: Date, file: boolean): void;
  /** The monotonic clock (injectable for tests). */
  now?: () => number;
  /** Creates the file watcher whose events are hints (default: chokidar); null: stat polling only. */
  watcher?: WatcherFactory | null;
  /** Told once when the watcher fails and liveness falls back to polling alone. */
  onWatchError?(error: unknown): void;
  /** How long a stream runs before its file is watched (default HINT_DELAY_MS). */
  hintDelayMs?: number;
  /** How often files are checked, when not derived from the timeout (a relay of beats checks often whatever the timeout). */
  pollMs?: number;
}

/** The part of a file watcher liveness uses: events are hints that a file may have changed. */
export interface HintWatcher {
  add(file: string): void;
  unwatch(file: string): void;
  close(): void;
}

export type WatcherFactory = (onChange: (file: string) => void, onError: (e: unknown) => void) => Promise<HintWatcher>;

/** chokidar, loaded on first use; non-persistent so it never keeps the process alive. */
export const chokidarWatcher: WatcherFactory = async (onChange, onError) => {
  const { watch } = await import('chokidar');
  const w = watch([], { ignoreInitial: true, persistent: false });
  w.on('all', (_event, file) => onChange(file));
  w.on('error', onError);
  return { add: (f) => void w.add(f), unwatch: (f) => void w.unwatch(f), close: () => void w.close() };
};

/** A stream's file is handed to the watcher once it has run this long (short streams never are). */
export const HINT_DELAY_MS = 1000;

interface Watched {
  file: string;
  hintTimer?: NodeJS.Timeout;
  hinted: boolean;
  last: number;
  lastWall: Date | null;
  signature: string;
  stalled: boolean;
}

export class LivenessMonitor {
  private readonly opts: LivenessOptions;
  private readonly now: () => number;
  private readonly watched = new Map<string, Watched>();
  private readonly byFile = new Map<string, string>();
  private watcher: Promise<HintWatcher | undefined> | undefined;
  private watchFailed = false;
  private timer: NodeJS.Timeout | undefined;
  /** How often files are checked: `pollMs`, else a quarter of the timeout, at most once a second, at least every 20 ms. */
  readonly pollMs: number;

  constructor(opts: LivenessOptions) {
    this.opts = opts;
    this.now = opts.now ?? (() => performance.now());
    this.pollMs = opts.pollMs ?? Math.max(20, Math.min(1000, Math.floor(opts.timeoutMs / 4)));
  }

  watch(id: string, heartbeatFile: string): void {
    const w: Watched = { file: heartbeatFile, hinted: false, last: this.now(), lastWall: null, signature: signature(heartbeatFile), stalled: false };
    this.watched.set(id, w);
    this.byFile.set(heartbeatFile, id);
    if (this.opts.source !== 'output' && this.opts.watcher !== null) {
      w.hintTimer = setTimeout(() => this.hint(w), this.opts.hintDelayMs ?? HINT_DELAY_MS);
      w.hintTimer.unref();
    }
    if (!this.timer) {
      this.timer = setInterval(() => this.check(), this.pollMs);
      this.timer.unref();
    }
  }

  unwatch(id: string): void {
    const w = this.watched.get(id);
    if (w) {
      if (w.hintTimer) clearTimeout(w.hintTimer);
      if (w.hinted) void this.watcher?.then((h) => h?.unwatch(w.file));
      this.byFile.delete(w.file);
    }
    this.watched.delete(id);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Output from the stream (counts when `source` is `output` or `any`). */
  output(id: string): void {
    if (this.opts.source !== 'file') this.beat(id, false);
  }

  /** The wall-clock time of the stream's last beat, if it has beaten since it started. */
  lastBeat(id: string): Date | null {
    return this.watched.get(id)?.lastWall ?? null;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const w of this.watched.values()) if (w.hintTimer) clearTimeout(w.hintTimer);
    this.watched.clear();
    this.byFile.clear();
    void this.watcher?.then((h) => h?.close());
    this.watcher = undefined;
  }

  /** Hands a long-running stream's file to the watcher (created on first use). */
  private hint(w: Watched): void {
    if (this.watchFailed) return;
    this.watcher ??= (this.opts.watcher ?? chokidarWatcher)(
      (file) => {
        // A hint only: the file's signature decides whether it was a beat.
        const id = this.byFile.get(file);
        // Stryker disable next-line ConditionalExpression: checkFile() of no stream does nothing
        if (id !== undefined) this.checkFile(id);
      },
      (e) => this.watchError(e),
    ).catch((e: unknown) => {
      this.watchError(e);
      return undefined;
    });
    w.hinted = true;
    void this.watcher.then((h) => h?.add(w.file));
  }

  /** A watcher error (ENOSPC, EMFILE…) never crashes: polling alone goes on. */
  private watchError(e: unknown): void {
    if (this.watchFailed) return;
    this.watchFailed = true;
    void this.watcher?.then((h) => h?.close());
    this.opts.onWatchError?.(e);
  }

  private checkFile(id: string): void {
    const w = this.watched.get(id);
    // Stryker disable next-line ConditionalExpression: called only for an id in byFile, and byFile and watched change together
    if (!w) return;
    const sig = signature(w.file);
    if (sig !== w.signature) {
      w.signature = sig;
      this.beat(id, true);
    }
  }

  /** One pass over every watched stream; public so tests can drive it with their clock. */
  check(): void {
    const now = this.now();
    for (const [id, w] of this.watched) {
      if (this.opts.source !== 'output') this.checkFile(id);
      const silent = now - w.last;
      if (!w.stalled && silent >= this.opts.timeoutMs) {
        w.stalled = true;
        this.opts.onStall(id, Math.round(silent));
      }
    }
  }

  private beat(id: string, file: boolean): void {
    const w = this.watched.get(id);
    if (!w) return;
    w.last = this.now();
    w.lastWall = new Date();
    this.opts.onBeat?.(id, w.lastWall, file);
    if (w.stalled) {
      w.stalled = false;
      this.opts.onRevive?.(id);
    }
  }
}

/** What changes when a heartbeat file is written, touched or replaced ('absent' when there is none). */
export function signature(file: string): string {
  try {
    const st = statSync(file, { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch {
    return 'absent';
  }
}

/** Progress and message of a heartbeat file `coord heartbeat` wrote; undefined when it is not one (a touch, the stream's own file). */
export function heartbeatSays(text: string): { progress: number | null; message: string | null } | undefined {
  try {
    const hb = JSON.parse(text) as { progress?: unknown; message?: unknown } | null;
    // Stryker disable next-line ConditionalExpression: reading a field of null throws, and the catch below answers undefined too
    if (typeof hb !== 'object' || hb === null) return undefined;
    return { progress: typeof hb.progress === 'number' ? hb.progress : null, message: typeof hb.message === 'string' ? hb.message : null };
  } catch {
    return undefined;
  }
}
