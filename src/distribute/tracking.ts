/**
 * The coordinator's view of its remote attempts, fed by the run's wire stream (dispatcher.ts
 * reads it in order): one tracker per attempt from the job's submission to its end.
 *
 * Output lines are written to the run's local log files and handed to the engine as if the
 * process were local; heartbeat file contents are written to the stream's local heartbeat file,
 * so the guardian watches a remote stream exactly like a local one; `exit` brings the outputs
 * archive, unpacked into the stream's local workspace (which the merge then reads) before the
 * process counts as exited. A report of an attempt no longer tracked (lost, called off, or of
 * another worker than the one that took it) is discarded, its outputs deleted unread.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { lazyFile, logErrorOf, type ExitInfo, type LazyFile, type StreamProcess } from '../supervise/spawner.js';
import { formatBytes, unpackInto } from './archive.js';
import { LaunchAborted, WorkerLost } from './errors.js';
import type { Keys, WireMessage } from './profile.js';
import type { CoordinatorTunnels } from './tunnel.js';
import type { RemoteRequest } from './remote-request.js';

/** One remote attempt as the coordinator follows it. */
export interface Tracker {
  req: RemoteRequest;
  jobId: string;
  queue: Queue;
  worker?: string;
  host?: string;
  state: 'queued' | 'taken' | 'started' | 'done';
  outSeq: number;
  files: Record<'stdout' | 'stderr', LazyFile>;
  /** The first write to a local log file that failed (a full disk): the output after it is lost. */
  logError?: ExitInfo['logError'];
  /** Resolves when a worker runs it; rejects when it was called off or lost before. */
  started: Promise<StreamProcess>;
  resolveStarted: (p: StreamProcess) => void;
  rejectStarted: (e: Error) => void;
  resolveExited: (i: ExitInfo) => void;
  exited: Promise<ExitInfo>;
  proc?: StreamProcess;
}

/** What the trackers use of the dispatcher. */
export interface TrackingOptions {
  runId: string;
  cmd: Redis;
  k: Keys;
  tunnels: CoordinatorTunnels;
  /** Sends a signal to a remote attempt through its worker. */
  sendSignal(worker: string, stream: string, attempt: number, sig: NodeJS.Signals): Promise<unknown>;
}

const idOf = (stream: string, attempt: number): string => `${stream}:${attempt}`;

/** The remote attempts of a run being followed, by `<stream>:<attempt>`. */
export class Trackers {
  private readonly trackers = new Map<string, Tracker>();

  constructor(private readonly o: TrackingOptions) {}

  /** Follows an attempt's reports from now on. */
  track(req: RemoteRequest, jobId: string, queue: Queue): Tracker {
    let resolveStarted!: (p: StreamProcess) => void;
    let rejectStarted!: (e: Error) => void;
    const started = new Promise<StreamProcess>((res, rej) => {
      resolveStarted = res;
      rejectStarted = rej;
    });
    started.catch(() => undefined); // an adopted attempt's launch is nobody's to wait for
    let resolveExited!: (i: ExitInfo) => void;
    const exited = new Promise<ExitInfo>((res) => (resolveExited = res));
    const logFile = (path: string) => lazyFile(path, (e) => (t.logError ??= logErrorOf(path, e)));
    const files = { stdout: logFile(req.stdoutFile), stderr: logFile(req.stderrFile) };
    const t: Tracker = { req, jobId, queue, state: 'queued', outSeq: 0, files, started, resolveStarted, rejectStarted, resolveExited, exited };
    this.trackers.set(idOf(req.remote.stream, req.remote.attempt), t);
    return t;
  }

  /** The attempts a worker holds now (taken, not ended). */
  held(): Tracker[] {
    return [...this.trackers.values()].filter((t) => t.worker !== undefined && t.state !== 'done');
  }

  /** A job nobody took yet is removed; one already taken starts and is stopped by the caller. */
  async abortQueued(t: Tracker): Promise<void> {
    if (t.state !== 'queued') return;
    const removed = await t.queue.remove(t.jobId).catch(() => 0);
    if (removed !== 1 || t.state !== 'queued') return;
    const r = t.req.remote;
    t.state = 'done';
    this.trackers.delete(idOf(r.stream, r.attempt));
    await this.o.cmd.del(this.o.k.inputs(this.o.runId, r.stream, r.attempt)).catch(() => undefined);
    t.rejectStarted(new LaunchAborted('called off before a worker took it'));
  }

  /** One report from the wire. */
  async handle(m: WireMessage): Promise<void> {
    const t = this.trackers.get(idOf(m.s, m.a));
    if (m.k === 'ctl') {
      this.o.tunnels.up(m.w, idOf(m.s, m.a), m.c, t !== undefined && t.state !== 'done' && (t.worker === undefined || t.worker === m.w));
      return;
    }
    if (!t || t.state === 'done' || (t.worker !== undefined && m.w !== t.worker)) {
      // a report of an attempt that was lost or called off: its outputs are dropped unread
      if (m.k === 'exit' && m.outputs) await this.o.cmd.del(m.outputs);
      return;
    }
    switch (m.k) {
      case 'taken':
        t.worker = m.w;
        t.host = m.host;
        if (t.state === 'queued') t.state = 'taken';
        return;
      case 'started':
        this.started(t, m.w);
        return;
      case 'out': {
        if (m.n <= t.outSeq) return; // sent twice across a reconnect
        t.outSeq = m.n;
        t.files[m.fd].write(Buffer.from(`${m.data}\n`));
        t.req.onOutput?.();
        if (t.req.onLine) for (const line of m.data.split('\n')) t.req.onLine(m.fd, line);
        return;
      }
      case 'beat':
        await writeFile(t.req.remote.heartbeatFile, m.data, { mode: 0o600 }).catch(() => undefined);
        return;
      case 'lost':
        this.lost(t, `worker ${m.w}: ${m.why}`);
        return;
      case 'exit':
        await this.exit(t, m);
        return;
    }
  }

  /** The attempt runs on `worker`: its process (signalled through the worker) is handed to the engine. */
  started(t: Tracker, worker: string): void {
    if (t.proc) return;
    t.state = 'started';
    t.worker ??= worker;
    const r = t.req.remote;
    const proc: StreamProcess = {
      pid: 0,
      pgid: 0,
      procStartTime: null,
      worker,
      host: t.host ?? '',
      exited: t.exited,
      signal: (sig) => {
        if (t.state === 'done') return false;
        void this.o.sendSignal(worker, r.stream, r.attempt, sig);
        return true;
      },
    };
    t.proc = proc;
    t.resolveStarted(proc);
  }

  private async exit(t: Tracker, m: Extract<WireMessage, { k: 'exit' }>): Promise<void> {
    if (!t.proc) this.started(t, m.w);
    t.state = 'done';
    this.trackers.delete(idOf(m.s, m.a));
    this.o.tunnels.closeAttempt(m.w, idOf(m.s, m.a));
    let outputsError = m.tooLarge;
    if (!m.outputs && !m.tooLarge) {
      // the workspace was empty on the worker
      const ws = t.req.remote.workspace;
      await rm(ws, { recursive: true, force: true });
      await mkdir(ws, { recursive: true, mode: 0o700 });
    } else if (m.outputs) {
      try {
        const buf = await this.o.cmd.hgetBuffer(m.outputs, 'workspace');
        if (!buf) throw new Error('the outputs archive is not on the server (expired?)');
        const ws = t.req.remote.workspace;
        await rm(ws, { recursive: true, force: true });
        await mkdir(ws, { recursive: true, mode: 0o700 });
        await unpackInto(buf, ws);
      } catch (e) {
        outputsError = `the outputs of "${m.s}" (${formatBytes(m.bytes)} from worker ${m.w}) could not be unpacked: ${e instanceof Error ? e.message : String(e)}`;
      }
      await this.o.cmd.del(m.outputs).catch(() => undefined);
    }
    await this.closeFiles(t);
    t.resolveExited({
      exitCode: m.exitCode,
      signal: m.signal,
      ...(m.error ? { error: m.error } : {}),
      ...(outputsError ? { outputsError } : {}),
      ...(t.logError ? { logError: t.logError } : {}),
    });
  }

  /** The attempt's worker is gone (or gave it up): it ends as lost, or its launch fails with WorkerLost. */
  lost(t: Tracker, why: string): void {
    if (t.state === 'done') return;
    const r = t.req.remote;
    t.state = 'done';
    this.trackers.delete(idOf(r.stream, r.attempt));
    if (t.worker !== undefined) this.o.tunnels.closeAttempt(t.worker, idOf(r.stream, r.attempt));
    void this.closeFiles(t);
    // the job stays BullMQ's: failed by the stalled check once its lock runs out, removed then
    void t.queue.remove(t.jobId).catch(() => undefined);
    void this.o.cmd.del(this.o.k.inputs(this.o.runId, r.stream, r.attempt)).catch(() => undefined);
    if (t.proc) t.resolveExited({ exitCode: null, signal: null, lost: why });
    else t.rejectStarted(new WorkerLost(why));
  }

  private async closeFiles(t: Tracker): Promise<void> {
    await Promise.all([t.files.stdout.close(), t.files.stderr.close()]);
  }
}
