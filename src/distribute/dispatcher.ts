/**
 * The coordinator's side of distributed execution (`coord run --workers`): a Spawner whose
 * processes run on `coord worker` hosts (worker.ts; keys in profile.ts). This file submits
 * jobs, reads the wire, sends signals and notices lost workers; tracking.ts follows each
 * attempt's reports to its exit.
 *
 * A launch packs the stream's workspace as the coordinator prepared it (base seed, what an
 * earlier attempt left, a checkpoint) and each dependency's outputs into archives on the server,
 * and adds a job to the BullMQ queue of the stream's profile, with the stream's priority. The
 * launch resolves when a worker reports `started`; until then the stream is `waiting`.
 * Everything workers report arrives on the run's wire stream (XREAD), read in order. Signals go
 * to the worker over pub/sub. Control-socket connections of remote streams arrive as tunnels
 * (tunnel.ts) and are relayed to this host's control socket.
 *
 * Resuming (`coord run --resume`): the wire is read on from the last entry the dead
 * coordinator handled; its remote attempts still running (their job active) are adopted, or
 * stopped through their worker.
 *
 * Lost workers: the registration of each worker running an attempt is checked every half
 * lease; when it has expired, the attempt is lost (a new attempt is made elsewhere), and any
 * later report of it (an old attempt number) is discarded, its outputs deleted unread.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { readdir, realpath } from 'node:fs/promises';
import type { StreamProcess } from '../supervise/spawner.js';
import { ArchiveTooLarge, archiveLimit, packDir } from './archive.js';
import { bullConnection, connect, followStream, redisOptions } from './connection.js';
import {
  ARCHIVE_TTL_MS,
  DEFAULT_LEASE_MS,
  describeProfile,
  keys,
  liveWorkers,
  mismatch,
  profileOf,
  queueOf,
  type Keys,
  type Profile,
  type StreamJob,
  type WireMessage,
} from './profile.js';
import { CoordinatorTunnels } from './tunnel.js';
import { Trackers } from './tracking.js';
import type { RemoteRequest, RemoteSpec } from './remote-request.js';

/** The run's server and how the dispatcher tells the run what goes wrong. */
export interface DispatcherOptions {
  url: string;
  runId: string;
  prefix?: string;
  /** The workers' lease: a worker whose registration is older than this is lost (checked every half of it). */
  leaseMs?: number;
  warn: (message: string, stream?: string) => void;
  env?: NodeJS.ProcessEnv;
  /** The run's control socket on this host, which remote streams' control connections reach through tunnels. */
  controlPath?: () => string | undefined;
  /** A resumed run: the wire is read from where the dead coordinator stopped, once `readWire()` is called (after adopting). */
  resume?: boolean;
}

/** BullMQ priorities: 1 is served first; a stream's higher `priority` is a lower number. */
const PRIORITY_ZERO = 2 ** 20;
const bullPriority = (p: number) => Math.max(1, Math.min(2 ** 21 - 1, PRIORITY_ZERO - p));

/** The remote spawner of one run (see the file comment). */
export class Dispatcher {
  private readonly opts: DispatcherOptions;
  private readonly conn: ReturnType<typeof redisOptions>;
  private readonly k: Keys;
  private readonly leaseMs: number;
  private readonly limit: number;
  private cmd!: Redis;
  private reader!: Redis;
  private readonly queues = new Map<string, Queue>();
  private trackers!: Trackers;
  private readonly timers: NodeJS.Timeout[] = [];
  /** When each profile's workers are to be looked at again (see warnUnmatched). */
  private readonly warned = new Map<string, number>();
  private closed = false;
  private reading: Promise<void> = Promise.resolve();
  private wireStarted = false;
  private lastError = '';
  private readonly tunnels: CoordinatorTunnels;

  constructor(opts: DispatcherOptions) {
    this.opts = opts;
    this.conn = redisOptions(opts.url, '--backend');
    this.k = keys(opts.prefix ?? 'coord:');
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.limit = archiveLimit(opts.env ?? process.env);
    this.tunnels = new CoordinatorTunnels(opts.controlPath ?? (() => undefined), (worker, m) => {
      const key = this.k.ctl(worker);
      void this.cmd
        .multi()
        .xadd(key, 'MAXLEN', '~', '10000', '*', 'm', JSON.stringify(m))
        .pexpire(key, ARCHIVE_TTL_MS)
        .exec()
        .catch(() => undefined);
    });
  }

  private onError = (e: Error): void => {
    const m = e.message || String(e);
    if (m !== this.lastError && !this.closed) this.opts.warn(`workers: ${this.conn.display}: ${m}`);
    this.lastError = m;
  };

  async start(): Promise<void> {
    this.cmd = connect(this.conn, this.onError);
    this.reader = connect(this.conn, this.onError);
    this.trackers = new Trackers({
      runId: this.opts.runId,
      cmd: this.cmd,
      k: this.k,
      tunnels: this.tunnels,
      sendSignal: (w, s, a, sig) => this.sendSignal(w, s, a, sig),
    });
    this.timers.push(setInterval(() => void this.checkWorkers().catch(() => undefined), Math.max(100, Math.floor(this.leaseMs / 2))));
    if (!this.opts.resume) this.readWire('0');
  }

  /** Starts reading the wire: from `from`, else (a resumed run) after the last entry the run's coordinator handled. */
  readWire(from?: string): void {
    if (this.wireStarted) return;
    this.wireStarted = true;
    this.reading = (async () => {
      const start = from ?? (await this.cmd.get(this.k.wireRead(this.opts.runId))) ?? '0';
      await this.wireLoop(start);
    })();
  }

  /** The BullMQ job of a remote attempt, and its state (`unknown` once it is removed: completed or failed). */
  private async jobOf(r: RemoteSpec): Promise<{ queue: Queue; jobId: string; state: string }> {
    const { queue } = this.queueFor(profileOf(r.requires, r.resources));
    const jobId = `${this.opts.runId}.${r.stream}.${r.attempt}`;
    return { queue, jobId, state: await queue.getJobState(jobId) };
  }

  /** Whether the unread part of the wire holds the end (`exit` or `lost`) of an attempt. */
  private async endOnWire(stream: string, attempt: number): Promise<boolean> {
    const key = this.k.wire(this.opts.runId);
    let from = (await this.cmd.get(this.k.wireRead(this.opts.runId))) ?? '-';
    for (;;) {
      const start = from === '-' ? '-' : `(${from}`;
      const rows = await this.cmd.xrange(key, start, '+', 'COUNT', 1000);
      for (const [id, fields] of rows) {
        from = id;
        try {
          const m = JSON.parse(fields[1] ?? '{}') as WireMessage;
          if ((m.k === 'exit' || m.k === 'lost') && m.s === stream && m.a === attempt) return true;
        } catch {
          /* not a report */
        }
      }
      if (rows.length < 1000) return false;
    }
  }

  /**
   * A remote attempt the dead coordinator of a resumed run started: watched to its end as if
   * this coordinator had launched it, when its job is still active on `worker` or its end is
   * waiting on the wire; undefined otherwise (a job still queued is removed: the stream runs
   * again).
   */
  async adopt(req: RemoteRequest, worker: string): Promise<StreamProcess | undefined> {
    const r = req.remote;
    const { queue, jobId, state } = await this.jobOf(r);
    if (state !== 'active' && !(await this.endOnWire(r.stream, r.attempt))) {
      if (state !== 'unknown') await queue.remove(jobId).catch(() => 0);
      return undefined;
    }
    const t = this.trackers.track(req, jobId, queue);
    t.worker = worker;
    t.state = 'taken';
    this.trackers.started(t, worker);
    return t.proc;
  }

  /**
   * Stops a remote attempt the dead coordinator of a resumed run started: SIGTERM through its
   * worker, SIGKILL after `graceMs`, then waits (at most two leases) for its job to end. A job
   * still queued is removed.
   */
  async stopRemote(req: RemoteRequest, worker: string, graceMs: number): Promise<boolean> {
    const r = req.remote;
    const { queue, jobId, state } = await this.jobOf(r);
    if (state !== 'active') {
      if (state !== 'unknown') await queue.remove(jobId).catch(() => 0);
      return false;
    }
    const send = (sig: NodeJS.Signals) => this.sendSignal(worker, r.stream, r.attempt, sig);
    const ended = async (ms: number): Promise<boolean> => {
      const deadline = Date.now() + ms;
      for (;;) {
        if ((await queue.getJobState(jobId)) !== 'active') return true;
        if (Date.now() > deadline) return false;
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    await send('SIGTERM');
    if (!(await ended(graceMs))) {
      await send('SIGKILL');
      await ended(this.leaseMs * 2);
    }
    return true;
  }

  private queueFor(p: Profile): { name: string; queue: Queue; known: boolean } {
    const name = queueOf(p);
    let queue = this.queues.get(name);
    const known = queue !== undefined;
    if (!queue) {
      queue = new Queue(name, { connection: bullConnection(this.conn), prefix: this.k.bull });
      queue.on('error', (e) => this.onError(e));
      this.queues.set(name, queue);
    }
    return { name, queue, known };
  }

  /** Starts one attempt on a worker; resolves when it runs there (see the file comment). */
  async spawn(req: RemoteRequest): Promise<StreamProcess> {
    const r = req.remote;
    const run = this.opts.runId;
    // the inputs: this host's workspace of the stream, and each dependency's outputs
    const parts: Array<[string, Buffer]> = [];
    let used = 0;
    const add = async (field: string, dir: string, what: string) => {
      const real = await realpath(dir);
      if (field === 'workspace' && (await readdir(real)).length === 0) return; // nothing to send
      const buf = await packDir(real, this.limit - used, what);
      used += buf.length;
      parts.push([field, buf]);
    };
    try {
      await add('workspace', r.workspace, `the workspace of "${r.stream}"`);
      for (const i of r.inputs) await add(`input:${i.name}`, i.target, `the inputs of "${r.stream}" (up to "${i.name}")`);
    } catch (e) {
      if (e instanceof ArchiveTooLarge) throw e;
      throw new Error(`could not pack the inputs of "${r.stream}": ${e instanceof Error ? e.message : String(e)}`);
    }
    if (parts.length > 0) {
      const inputsKey = this.k.inputs(run, r.stream, r.attempt);
      const m = this.cmd.multi().del(inputsKey);
      for (const [f, b] of parts) m.hset(inputsKey, f, b);
      await m.pexpire(inputsKey, ARCHIVE_TTL_MS).exec();
    }

    const profile = profileOf(r.requires, r.resources);
    const { name, queue, known } = this.queueFor(profile);
    if (!known) await this.cmd.hset(this.k.queues, name, JSON.stringify(profile));
    const job: StreamJob = {
      run,
      stream: r.stream,
      attempt: r.attempt,
      command: req.command,
      env: r.planEnv,
      workspaceRoot: r.workspaceRoot,
      ...(r.fileAccess ? { fileAccess: r.fileAccess } : {}),
      heartbeat: r.heartbeat,
      inputs: parts.map(([f]) => f),
      profile,
    };
    const jobId = `${run}.${r.stream}.${r.attempt}`;
    const t = this.trackers.track(req, jobId, queue);
    await queue.add('stream', job, { jobId, priority: bullPriority(r.priority), removeOnComplete: true, removeOnFail: true });
    await this.cmd.publish(this.k.dispatch, name);
    void this.warnUnmatched(profile, r.stream);
    req.abort?.addEventListener('abort', () => void this.trackers.abortQueued(t), { once: true });
    if (req.abort?.aborted) void this.trackers.abortQueued(t);
    return t.started;
  }

  private async warnUnmatched(p: Profile, stream: string): Promise<void> {
    const name = queueOf(p);
    // a profile some worker matched is checked again after 5 s; one warned about after a minute
    const last = this.warned.get(name);
    if (last !== undefined && Date.now() < last) return;
    this.warned.set(name, Date.now() + 5000);
    const workers = await liveWorkers(this.cmd, this.k).catch(() => undefined);
    if (!workers || workers.some((w) => mismatch(p, w) === null)) return;
    this.warned.set(name, Date.now() + 60_000);
    const why = workers.length === 0 ? 'no worker is registered' : workers.map((w) => `${w.id} ${mismatch(p, w)}`).join('; ');
    this.opts.warn(
      `no live worker can take "${stream}" (${describeProfile(p)}): ${why}; it waits for one (start one with coord worker --backend ${this.conn.display})`,
      stream,
    );
  }

  private wireLoop(from: string): Promise<void> {
    return followStream(
      this.reader,
      this.k.wire(this.opts.runId),
      from,
      () => this.closed,
      async (json) => {
        try {
          await this.trackers.handle(JSON.parse(json) as WireMessage);
        } catch (e) {
          this.opts.warn(`workers: a report could not be handled: ${e instanceof Error ? e.message : String(e)}`);
        }
      },
      // where a coordinator resuming this run reads on (a crash between a batch and this
      // line hands that batch's reports to it again: output lines can then appear twice)
      (last) => void this.cmd.set(this.k.wireRead(this.opts.runId), last, 'PX', ARCHIVE_TTL_MS).catch(() => undefined),
    );
  }

  /**
   * A signal for a remote attempt: kept in the run's signals hash (for a worker whose
   * subscription missed it; workers look every third of a lease), then published to the worker.
   */
  private sendSignal(worker: string, stream: string, attempt: number, sig: NodeJS.Signals): Promise<unknown> {
    return this.cmd
      .hset(this.k.signals(this.opts.runId), `${stream}:${attempt}`, sig)
      .then(() => this.cmd.publish(this.k.signal(worker), JSON.stringify({ run: this.opts.runId, stream, attempt, signal: sig })));
  }

  /** Attempts whose worker's registration expired are lost. */
  private async checkWorkers(): Promise<void> {
    const held = this.trackers.held();
    const workers = [...new Set(held.map((t) => t.worker!))];
    if (workers.length === 0) return;
    const p = this.cmd.pipeline();
    for (const w of workers) p.exists(this.k.worker(w));
    const res = (await p.exec()) ?? [];
    const gone = new Set(workers.filter((_w, i) => res[i]?.[0] === null && res[i]?.[1] === 0));
    for (const t of held) if (gone.has(t.worker!)) this.trackers.lost(t, `worker ${t.worker} is gone (its lease of ${this.leaseMs} ms ran out)`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.reader.disconnect();
    await this.reading.catch(() => undefined);
    this.tunnels.closeAll();
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    await this.cmd.quit().catch(() => this.cmd.disconnect());
  }
}
