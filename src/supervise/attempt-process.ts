/**
 * One attempt's process under supervision where no engine watches it: on a `coord worker`,
 * whose coordinator is on another host. It is the local supervision put together: the process
 * is spawned in its own group (spawner.ts: leftovers stopped and gone before the exit counts,
 * output drained line by line), its liveness is watched by a LivenessMonitor (liveness.ts:
 * heartbeat file changes and output lines), and signals are taken before the process exists
 * too, since a stop may come while the attempt still prepares.
 *
 * It judges no stall: the beats go to `onBeat`, for whoever decides (the coordinator's
 * guardian, which reads the relayed heartbeat file as it reads a local one).
 */
import { LivenessMonitor } from './liveness.js';
import { spawnProcess, type ExitInfo, type SpawnRequest, type StreamProcess } from './spawner.js';

/** How an AttemptProcess watches its process. */
export interface AttemptProcessOptions {
  /** The attempt's heartbeat file (`COORD_HEARTBEAT_FILE`). */
  heartbeatFile: string;
  /**
   * Each sign of life: `file` when the heartbeat file changed (written, touched, replaced or
   * removed), else output. Both are reported whatever the plan's `heartbeat.source`: a relay
   * passes the file on even where only output counts, since its last content is read at the end.
   */
  onBeat(at: Date, file: boolean): void;
  /** How often the heartbeat file is looked at. */
  pollMs: number;
  /** Starts the process (spawnProcess; tests inject theirs). */
  spawn?: (req: SpawnRequest) => StreamProcess;
}

/** A running attempt, its result with the heartbeat file looked at once more after the exit. */
export interface AttemptRun {
  proc: StreamProcess;
  /** Resolves after the exit and a last look at the heartbeat file (a beat just before the exit counts). */
  exited: Promise<ExitInfo>;
}

const ID = 'attempt';

/** One attempt's process: started once, signalled before or after it exists, watched until it has exited. */
export class AttemptProcess {
  private proc: StreamProcess | undefined;
  private pending: NodeJS.Signals | undefined;
  private readonly escalations: NodeJS.Timeout[] = [];
  private ended = false;

  constructor(private readonly opts: AttemptProcessOptions) {}

  /** The process, once started. */
  get process(): StreamProcess | undefined {
    return this.proc;
  }

  /**
   * Signals the process group; before the process exists, the signal waits for it (a SIGKILL
   * replaces a waiting signal, another one does not).
   */
  signal(sig: NodeJS.Signals): void {
    if (this.proc) this.proc.signal(sig);
    else if (sig === 'SIGKILL' || !this.pending) this.pending = sig;
  }

  /** SIGTERM now, SIGKILL after `graceMs` unless the attempt has ended by then. */
  terminate(graceMs: number): void {
    this.signal('SIGTERM');
    const t = setTimeout(() => {
      if (!this.ended) this.signal('SIGKILL');
    }, graceMs);
    t.unref();
    this.escalations.push(t);
  }

  /** Starts the process (once) and watches it until it has exited. */
  start(req: SpawnRequest): AttemptRun {
    if (this.proc) throw new Error('the attempt was started already');
    const liveness = new LivenessMonitor({
      // the monitor reports beats; silence is the coordinator's to judge
      timeoutMs: Number.POSITIVE_INFINITY,
      source: 'any',
      onStall: () => undefined,
      onBeat: (_id, at, file) => this.opts.onBeat(at, file),
      pollMs: this.opts.pollMs,
      // stat polling alone: a worker runs many short attempts, a watcher each would cost more
      watcher: null,
    });
    // watched from before the spawn: a file the process writes at once is a change, not the baseline
    liveness.watch(ID, this.opts.heartbeatFile);
    let proc: StreamProcess;
    try {
      proc = (this.opts.spawn ?? spawnProcess)({
        ...req,
        onLine: (fd, line) => {
          liveness.output(ID);
          req.onLine?.(fd, line);
        },
      });
    } catch (e) {
      liveness.stop();
      throw e;
    }
    this.proc = proc;
    if (this.pending) proc.signal(this.pending);
    const exited = proc.exited.then((info) => {
      liveness.check();
      liveness.stop();
      this.ended = true;
      for (const t of this.escalations) clearTimeout(t);
      return info;
    });
    return { proc, exited };
  }
}
