/**
 * One attempt's process under supervision, the same for every attempt wherever it runs: on the
 * coordinator (a local spawn, a launcher's process, or the proxy of a remote attempt) and on a
 * `coord worker` (the remote attempt itself). It owns
 *
 * - the process handle, and the signals sent to its group, those that come before the process
 *   exists too (a stop may come while the attempt still prepares);
 * - the escalation: SIGKILL after a grace unless the process has exited by then, and whether
 *   SIGKILL was sent;
 * - its time limit's timer; all its timers are injected (Timers), called off at the exit;
 * - its liveness: a LivenessMonitor of its own (a worker's: stat polling, output lines, a last
 *   look at the heartbeat file after the exit), or a slot in a monitor shared by all of a run's
 *   streams (the coordinator's);
 * - its heartbeat key, on a store that expires keys (beatWriter, src/backend/beat-writer.ts).
 *
 * It judges nothing: stalls, which signal for which reason, and what an end makes of the
 * stream are its owner's (the coordinator's guardian; a worker's RemoteAttempt only relays).
 */
import { beatWriter, type BeatKey, type BeatKeys, type BeatWriter } from '../backend/beat-writer.js';
import { LivenessMonitor } from './liveness.js';
import { spawnProcess, type ExitInfo, type SpawnRequest, type StreamProcess } from './spawner.js';
import { realTimers, type Timers } from './timers.js';

interface Common {
  /** The attempt's heartbeat file (`COORD_HEARTBEAT_FILE`). */
  heartbeatFile: string;
  /** The timers of its escalations and time limit (default: Node's). */
  timers?: Timers;
  /** Starts the process in `start` (spawnProcess; tests inject theirs). */
  spawn?: (req: SpawnRequest) => StreamProcess;
}

/** Liveness watched by a monitor of the attempt's own (a worker's). */
export interface OwnLiveness extends Common {
  shared?: undefined;
  /**
   * Each sign of life: `file` when the heartbeat file changed (written, touched, replaced or
   * removed), else output. Both are reported whatever the plan's `heartbeat.source`: a relay
   * passes the file on even where only output counts, since its last content is read at the end.
   */
  onBeat(at: Date, file: boolean): void;
  /** How often the heartbeat file is looked at. */
  pollMs: number;
}

/** Liveness watched as the slot `id` of a monitor shared by many attempts, whose callbacks judge it (the coordinator's). */
export interface SharedLiveness extends Common {
  shared: { monitor: LivenessMonitor; id: string };
}

/** How an AttemptProcess watches its process. */
export type AttemptProcessOptions = OwnLiveness | SharedLiveness;

/** A running attempt, its result with the heartbeat file looked at once more after the exit. */
export interface AttemptRun {
  proc: StreamProcess;
  /** Resolves after the exit and a last look at the heartbeat file (a beat just before the exit counts). */
  exited: Promise<ExitInfo>;
}

/** The attempt's id in a monitor of its own. */
const ID = 'attempt';

/** One attempt's process: given or started once, signalled before or after it exists, supervised until it has exited. */
export class AttemptProcess {
  private proc: StreamProcess | undefined;
  private pending: NodeJS.Signals | undefined;
  private readonly timers: Timers;
  private armed: unknown[] = [];
  private ended = false;
  private sentKill = false;
  private own: LivenessMonitor | undefined;
  private watching = false;
  private beats: BeatWriter | undefined;

  constructor(private readonly opts: AttemptProcessOptions) {
    this.timers = opts.timers ?? realTimers;
  }

  /** The process, once started (or attached). */
  get process(): StreamProcess | undefined {
    return this.proc;
  }

  /** SIGKILL was sent by an escalation (the attempt did not end on the soft signal). */
  get killSent(): boolean {
    return this.sentKill;
  }

  /** How many of its timers are armed (its time limit, its escalations). */
  get armedTimers(): number {
    return this.armed.length;
  }

  /**
   * Signals the process group; false when nothing of it was left to signal. Before the process
   * exists, the signal waits for it (a SIGKILL replaces a waiting signal, another one does not).
   */
  signal(sig: NodeJS.Signals): boolean {
    if (this.proc) return this.proc.signal(sig);
    if (sig === 'SIGKILL' || !this.pending) this.pending = sig;
    return true;
  }

  /**
   * SIGKILL after `graceMs` unless the process has exited by then: `kill` sends it (default:
   * `signal('SIGKILL')`; an owner's also reports it) and says whether it reached anything, which
   * `killSent` then tells.
   */
  escalate(graceMs: number, kill: () => boolean = () => this.signal('SIGKILL')): void {
    this.arm(graceMs, () => {
      if (kill()) this.sentKill = true;
    });
  }

  /** SIGTERM now, SIGKILL after `graceMs` unless the attempt has ended by then. */
  terminate(graceMs: number): void {
    this.signal('SIGTERM');
    this.escalate(graceMs);
  }

  /** The attempt's time limit: `onLimit` once it has run `ms`, unless it has exited by then. */
  limit(ms: number, onLimit: () => void): void {
    this.arm(ms, onLimit);
  }

  private arm(ms: number, fn: () => void): void {
    if (this.ended) return;
    // (none fires after the end: the end calls every armed one off)
    this.armed.push(this.timers.setTimeout(fn, ms));
  }

  /** The process has exited: its time limit and escalations are called off, and no more are armed. */
  end(): void {
    this.ended = true;
    for (const t of this.armed) this.timers.clearTimeout(t);
    this.armed = [];
  }

  /** A process started elsewhere (a spawner's, a launcher's, a remote attempt's proxy) comes under supervision; a waiting signal goes to it. */
  attach(proc: StreamProcess): this {
    if (this.proc) throw new Error('the attempt was started already');
    this.proc = proc;
    const sig = this.pending;
    this.pending = undefined;
    if (sig) proc.signal(sig);
    return this;
  }

  /** Starts the process (once), watched from before the spawn until it has exited. */
  start(req: SpawnRequest): AttemptRun {
    if (this.proc) throw new Error('the attempt was started already');
    // watched from before the spawn: a file the process writes at once is a change, not the baseline
    this.watch();
    let proc: StreamProcess;
    try {
      proc = (this.opts.spawn ?? spawnProcess)({
        ...req,
        onLine: (fd, line) => {
          this.output();
          req.onLine?.(fd, line);
        },
      });
    } catch (e) {
      this.unwatch(false);
      throw e;
    }
    this.attach(proc);
    const exited = proc.exited.then((info) => {
      this.unwatch();
      this.end();
      return info;
    });
    return { proc, exited };
  }

  /** Its liveness is watched from now on: a monitor of its own, or its slot in the shared one. */
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    const { opts } = this;
    if (opts.shared) {
      opts.shared.monitor.watch(opts.shared.id, opts.heartbeatFile);
      return;
    }
    this.own = new LivenessMonitor({
      // the monitor reports beats; silence is the owner's to judge
      timeoutMs: Number.POSITIVE_INFINITY,
      source: 'any',
      onStall: () => undefined,
      onBeat: (_id, at, file) => opts.onBeat(at, file),
      pollMs: opts.pollMs,
      // stat polling alone: a worker runs many short attempts, a watcher each would cost more
      watcher: null,
    });
    this.own.watch(ID, opts.heartbeatFile);
  }

  /** Output of the process (a sign of life, where output counts). */
  output(): void {
    const { shared } = this.opts;
    if (shared) shared.monitor.output(shared.id);
    else this.own?.output(ID);
  }

  /** No more watching; a monitor of its own looks at the heartbeat file once more first (`last`). */
  unwatch(last = true): void {
    if (!this.watching) return;
    this.watching = false;
    const { shared } = this.opts;
    if (shared) {
      shared.monitor.unwatch(shared.id);
      return;
    }
    if (last) this.own?.check();
    this.own?.stop();
    this.own = undefined;
  }

  /** Keeps the attempt's heartbeat key in `keys`: written now, renewed by `beat`, deleted by the writer `releaseBeat` hands over. */
  keepBeat(keys: BeatKeys, key: BeatKey): void {
    this.beats = beatWriter(keys, key);
  }

  /** A beat for its heartbeat key (if it keeps one); progress and message when the heartbeat file said them. */
  beat(at: Date, said?: { progress: number | null; message: string | null }): void {
    this.beats?.update(at, said);
  }

  /** The writer of its heartbeat key, which no beat updates any more: its `finish()` deletes the key. */
  releaseBeat(): BeatWriter | undefined {
    const b = this.beats;
    this.beats = undefined;
    return b;
  }
}
