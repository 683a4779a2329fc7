/**
 * `coord worker`: a host that runs streams of runs coordinated elsewhere, through a Redis
 * server (see profile.ts for the keys).
 *
 * - It registers as `worker:<id>` (host, pid, slots, capabilities, resources), a hash that
 *   expires after the lease unless renewed every lease/3. A coordinator that sees it gone
 *   gives the worker's attempts to other workers as new attempts. A worker that finds its own
 *   registration expired (it was cut off longer than the lease) kills what it runs, since
 *   those attempts were given away, and registers again.
 * - It serves every BullMQ queue whose profile it satisfies, fetching jobs by hand
 *   (`getNextJob`) only while it has a free slot and the units the profile holds, round-robin
 *   over its queues, woken by the `dispatch` channel (and every second). A job's BullMQ lock is
 *   the attempt's lease, extended every lease/3; the queues' stalled-job check (maxStalledCount
 *   0) fails a job whose worker stopped extending it, so it never runs twice. An extension that
 *   fails means the attempt was lost: its process tree is killed and nothing of it is reported.
 * - An attempt: the inputs archives (the coordinator's workspace of the stream and its
 *   dependencies' outputs) are unpacked into `<workspace_root>/<run>/.workers/<id>/<stream>`
 *   and `.coord/workers/<id>/<run>/streams/<stream>/inputs`, the command runs under the same supervision
 *   as a local stream (its own process group; leftovers stopped when it exits), its output
 *   lines and heartbeat file go to the run's wire stream (and its beats renew its heartbeat
 *   key `run:<id>:beat:<stream>`, src/backend/redis/beats.ts), signals come from the coordinator
 *   on `worker:<id>:signal`, and its control-socket connections (`coord spawn`, `coord
 *   resource acquire`, consensus) are carried to the coordinator (tunnel.ts). At the end the
 *   workspace is packed into `run:<id>:out:…`, the job is completed (which fails for an
 *   attempt whose lease was lost: its result is discarded), and then `exit` goes on the wire.
 *   The local copies are then removed (and the attempt's control socket closed).
 * - Attempts of a run whose coordinator is gone (its lease `run:<id>:lease`, which the
 *   coordinator holds through its backend, was missing at two checks a worker lease apart)
 *   are stopped, like the streams a local coordinator leaves behind.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hostname, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { mkdir, readdir, rm, readFile, stat } from 'node:fs/promises';
import { Worker as BullWorker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { spawnProcess, type ExitInfo, type StreamProcess } from '../supervise/spawner.js';
import { heartbeatSays, signature } from '../supervise/liveness.js';
import { coordBinDir, streamEnv } from '../orchestrator/environment.js';
import { ArchiveTooLarge, archiveLimit, packDir, unpackInto } from './archive.js';
import { bullConnection, connect, followStream, redisOptions } from './connection.js';
import { keys, mismatch, type Keys, type Profile, type StreamJob, type WireMessage } from './profile.js';
import { socketPath, WorkerTunnels, type DownMessage } from './tunnel.js';
import { BeatWriter } from '../backend/beat-writer.js';
import { DEFAULTS } from '../plan/types.js';
import { endBeat, putBeat } from '../backend/redis/beats.js';

export const DEFAULT_LEASE_MS = 10_000;
const REAPER = fileURLToPath(new URL('./reaper.js', import.meta.url));
/** How long outputs and inputs archives are kept on the server when nobody takes them. */
export const ARCHIVE_TTL_MS = 24 * 3600_000;
const WIRE_MAXLEN = '100000';
const OUT_FLUSH_MS = 50;
const BEAT_POLL_MS = 250;
const MAX_BEAT_BYTES = 64 * 1024;
/** Extends the registration only while it exists (an expired one is never half recreated). */
const RENEW = `if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'busy', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
  return 1
end
return 0`;

export interface WorkerOptions {
  /** The Redis server (`redis://HOST[:PORT][/DB]`). */
  url: string;
  slots?: number;
  capabilities?: string[];
  resources?: Record<string, number>;
  /** The worker id (default `<host>-<pid>`). */
  name?: string;
  /** How long the worker stays registered without renewing (and its jobs' lock duration). */
  leaseMs?: number;
  /** The `.coord` directory of this host (its runs' logs and inputs while they run). */
  home: string;
  prefix?: string;
  /** Where the worker says what it does (a line at a time). */
  log?: (line: string) => void;
  /** After SIGTERM, how long an attempt has before SIGKILL when its coordinator is gone or the worker stops. */
  graceMs?: number;
  env?: NodeJS.ProcessEnv;
}

interface Attempt {
  data: StreamJob;
  job: Job;
  token: string;
  profile: Profile;
  proc?: StreamProcess;
  pendingSignal?: NodeJS.Signals;
  /** The last signal from the coordinator this attempt got. */
  appliedSignal?: string;
  lost: boolean;
  outSeq: number;
  buf: { stdout: string[]; stderr: string[] };
  flushTimer?: NodeJS.Timeout;
  timers: NodeJS.Timeout[];
  workspace: string;
  logDir: string;
  /** The attempt's heartbeat key on the server (src/backend/redis/beats.ts). */
  beats?: BeatWriter;
}

const attemptKey = (run: string, stream: string, attempt: number) => `${run}/${stream}/${attempt}`;

export class WorkerHost {
  readonly id: string;
  readonly slots: number;
  readonly capabilities: string[];
  readonly resources: Record<string, number>;
  private readonly opts: WorkerOptions;
  private readonly k: Keys;
  private readonly leaseMs: number;
  private readonly conn: ReturnType<typeof redisOptions>;
  private readonly log: (line: string) => void;
  private cmd!: Redis;
  private sub!: Redis;
  /** Reads `worker:<id>:ctl` (blocking). */
  private down!: Redis;
  private reading: Promise<void> = Promise.resolve();
  private readonly tunnels = new WorkerTunnels((attempt, c) => {
    const a = this.running.get(attempt);
    if (a) void this.wire(a.data.run, { k: 'ctl', s: a.data.stream, a: a.data.attempt, w: this.id, c }).catch(() => undefined);
  });
  private readonly queues = new Map<string, { w: BullWorker; profile: Profile }>();
  private readonly running = new Map<string, Attempt>();
  private freeSlots: number;
  private readonly free: Record<string, number>;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private pumping = false;
  private again = false;
  private rr = 0;
  private tokens = 0;
  private readonly coordinatorMisses = new Map<string, number>();
  private readonly limit: number;
  private idle: Array<() => void> = [];
  private lastError = '';
  /** Stops the attempts' process groups if this process dies (reaper.ts). */
  private reaper: ChildProcess | undefined;

  constructor(opts: WorkerOptions) {
    this.opts = opts;
    this.conn = redisOptions(opts.url, 'coord worker --backend');
    this.id = opts.name ?? `${hostname()}-${process.pid}`;
    this.slots = opts.slots ?? availableParallelism();
    this.capabilities = [...new Set(opts.capabilities ?? [])];
    this.resources = { ...(opts.resources ?? {}) };
    this.freeSlots = this.slots;
    this.free = { ...this.resources };
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.k = keys(opts.prefix ?? 'coord:');
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
    this.limit = archiveLimit(opts.env ?? process.env);
  }

  /** The server, without credentials. */
  get where(): string {
    return this.conn.display;
  }

  private onError = (e: Error): void => {
    const m = e.message || String(e);
    if (m !== this.lastError) this.log(`coord worker: ${this.where}: ${m}`);
    this.lastError = m;
  };

  async start(): Promise<void> {
    this.reaper = fork(REAPER, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...(this.opts.env ?? process.env), COORD_REAPER_GRACE_MS: String(this.opts.graceMs ?? 5000) } });
    this.reaper.on('error', (e) => this.onError(e));
    this.cmd = connect(this.conn, this.onError);
    this.sub = connect(this.conn, this.onError);
    this.down = connect(this.conn, this.onError);
    this.cmd.on('ready', () => (this.lastError = ''));
    await this.register();
    this.sub.on('message', (channel: string, message: string) => this.message(channel, message));
    await this.sub.subscribe(this.k.dispatch, this.k.signal(this.id));
    const every = (ms: number, f: () => Promise<void>) => {
      const t = setInterval(() => void f().catch((e: unknown) => this.onError(e instanceof Error ? e : new Error(String(e)))), ms);
      this.timers.push(t);
    };
    every(Math.max(100, Math.floor(this.leaseMs / 3)), () => this.renew());
    every(1000, async () => {
      await this.discover();
      void this.pump();
    });
    every(this.leaseMs, () => this.checkCoordinators());
    const [last] = await this.cmd.xrevrange(this.k.ctl(this.id), '+', '-', 'COUNT', 1);
    this.reading = this.readDown(last?.[0] ?? '0-0');
    await this.discover();
    void this.pump();
  }

  private async register(): Promise<void> {
    const key = this.k.worker(this.id);
    await this.cmd
      .multi()
      .del(key)
      .hset(key, {
        id: this.id,
        host: hostname(),
        pid: String(process.pid),
        slots: String(this.slots),
        capabilities: JSON.stringify(this.capabilities),
        resources: JSON.stringify(this.resources),
        busy: String(this.slots - this.freeSlots),
        startedAt: new Date().toISOString(),
      })
      .pexpire(key, this.leaseMs)
      .sadd(this.k.workers, this.id)
      .exec();
  }

  /** Control-socket replies from coordinators, for the tunnels of this worker's attempts. */
  private readDown(from: string): Promise<void> {
    return followStream(
      this.down,
      this.k.ctl(this.id),
      from,
      () => this.stopping && this.running.size === 0,
      (json) => {
        try {
          this.tunnels.down(JSON.parse(json) as DownMessage);
        } catch {
          /* not ours */
        }
      },
    );
  }

  /** Renews the registration; when it had expired, what this worker runs was given away. */
  private async renew(): Promise<void> {
    if (this.stopping && this.running.size === 0) return;
    const key = this.k.worker(this.id);
    const renewed = await this.cmd.eval(RENEW, 2, key, this.k.workers, this.leaseMs, this.slots - this.freeSlots, this.id);
    if (renewed === 1) return;
    if (this.running.size > 0) this.log(`coord worker ${this.id}: its registration expired (out of reach for longer than the ${this.leaseMs} ms lease); its ${this.running.size} attempt(s) were given to other workers: stopping them`);
    for (const a of this.running.values()) this.lose(a, 'the worker registration expired');
    await this.register();
  }

  /** Opens the queues whose profile this worker satisfies. */
  private async discover(): Promise<void> {
    if (this.stopping) return;
    const all = await this.cmd.hgetall(this.k.queues);
    for (const [name, json] of Object.entries(all)) {
      if (this.queues.has(name)) continue;
      let profile: Profile;
      try {
        profile = JSON.parse(json) as Profile;
      } catch {
        continue;
      }
      if (mismatch(profile, this) !== null) continue;
      const w = new BullWorker(name, null, {
        connection: bullConnection(this.conn),
        prefix: this.k.bull,
        autorun: false,
        lockDuration: this.leaseMs,
        stalledInterval: this.leaseMs,
        maxStalledCount: 0,
      });
      w.on('error', (e) => this.onError(e));
      this.queues.set(name, { w, profile });
      void w.startStalledCheckTimer().catch((e: unknown) => this.onError(e instanceof Error ? e : new Error(String(e))));
    }
  }

  private fits(p: Profile): boolean {
    for (const [k, n] of Object.entries(p.resources)) if (this.free[k] !== undefined && this.free[k]! < n) return false;
    return true;
  }

  /** Takes jobs while slots are free: one pass over the queues finding nothing ends it. */
  private async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        const list = [...this.queues.values()];
        let empty = 0;
        while (this.freeSlots > 0 && !this.stopping && list.length > 0 && empty < list.length) {
          const q = list[this.rr++ % list.length]!;
          if (!this.fits(q.profile)) {
            empty++;
            continue;
          }
          const token = `${this.id}:${++this.tokens}`;
          let job: Job | undefined;
          try {
            job = (await q.w.getNextJob(token, { block: false })) as Job | undefined;
          } catch (e) {
            this.onError(e instanceof Error ? e : new Error(String(e)));
          }
          if (!job) {
            empty++;
            continue;
          }
          empty = 0;
          this.take(job, token, q.profile);
        }
      } while (this.again && !this.stopping);
    } finally {
      this.pumping = false;
    }
  }

  private take(job: Job, token: string, profile: Profile): void {
    this.freeSlots--;
    for (const [k, n] of Object.entries(profile.resources)) if (this.free[k] !== undefined) this.free[k] -= n;
    const data = job.data as StreamJob;
    const a: Attempt = {
      data,
      job,
      token,
      profile,
      lost: false,
      outSeq: 0,
      buf: { stdout: [], stderr: [] },
      timers: [],
      // apart from the coordinator's directories, which may be on this host too
      workspace: join(data.workspaceRoot, data.run, '.workers', this.id, data.stream),
      logDir: join(this.runDir(data.run), 'streams', data.stream),
    };
    this.running.set(attemptKey(data.run, data.stream, data.attempt), a);
    void this.runAttempt(a)
      .catch((e: unknown) => {
        // the coordinator must not wait for an attempt this worker gave up on: it runs again
        const why = `the worker failed: ${e instanceof Error ? e.message : String(e)}`;
        this.log(`coord worker ${this.id}: ${data.run}/${data.stream} attempt ${data.attempt}: ${why}`);
        a.proc?.signal('SIGKILL');
        this.lose(a, why);
      })
      .finally(() => this.release(a));
  }

  private release(a: Attempt): void {
    this.tunnels.close(attemptKey(a.data.run, a.data.stream, a.data.attempt));
    for (const t of a.timers) clearInterval(t);
    if (a.flushTimer) clearTimeout(a.flushTimer);
    this.running.delete(attemptKey(a.data.run, a.data.stream, a.data.attempt));
    this.freeSlots++;
    for (const [k, n] of Object.entries(a.profile.resources)) if (this.free[k] !== undefined) this.free[k] += n;
    if (this.running.size === 0) for (const f of this.idle.splice(0)) f();
    void this.pump();
  }

  private wire(run: string, m: WireMessage): Promise<unknown> {
    return this.cmd.xadd(this.k.wire(run), 'MAXLEN', '~', WIRE_MAXLEN, '*', 'm', JSON.stringify(m));
  }

  /** The attempt's lease is gone: its processes are killed, nothing of it is reported. */
  private lose(a: Attempt, why: string): void {
    if (a.lost) return;
    a.lost = true;
    a.proc?.signal('SIGKILL');
    void this.wire(a.data.run, { k: 'lost', s: a.data.stream, a: a.data.attempt, w: this.id, why }).catch(() => undefined);
  }

  private async runAttempt(a: Attempt): Promise<void> {
    const d = a.data;
    const base = { s: d.stream, a: d.attempt, w: this.id };
    await this.wire(d.run, { k: 'taken', ...base, host: hostname() });
    a.timers.push(
      setInterval(() => {
        void this.cmd.hget(this.k.signals(d.run), `${d.stream}:${d.attempt}`).then(
          (sig) => {
            if (sig && sig !== a.appliedSignal) this.deliver(a, sig as NodeJS.Signals);
          },
          () => undefined,
        );
        void a.job.extendLock(a.token, this.leaseMs).then(
          (ok) => {
            if (!ok) this.lose(a, 'the job lock was lost');
          },
          () => undefined, // the server is away: the registration's renewal decides
        );
      }, Math.max(100, Math.floor(this.leaseMs / 3))),
    );
    const runDir = this.runDir(d.run);
    const inputs = join(a.logDir, 'inputs');
    let prepareError: string | undefined;
    try {
      await rm(a.workspace, { recursive: true, force: true });
      await mkdir(a.workspace, { recursive: true, mode: 0o700 });
      await rm(a.logDir, { recursive: true, force: true });
      await mkdir(a.logDir, { recursive: true, mode: 0o700 });
      if (d.inputs.length > 0) {
        const key = this.k.inputs(d.run, d.stream, d.attempt);
        const parts = await this.cmd.hgetallBuffer(key);
        for (const field of d.inputs) {
          const buf = parts[field];
          if (!buf) throw new Error(`the inputs archive "${field}" is missing on the server`);
          await unpackInto(buf, field === 'workspace' ? a.workspace : join(inputs, field.slice('input:'.length)));
        }
        await this.cmd.del(key);
      }
    } catch (e) {
      prepareError = `could not prepare the workspace on worker ${this.id}: ${e instanceof Error ? e.message : String(e)}`;
    }
    if (a.lost) return this.cleanup(a);
    let info: ExitInfo;
    if (prepareError !== undefined) {
      info = { exitCode: null, signal: null, error: prepareError };
    } else {
      const env = streamEnv({
        runId: d.run,
        runDir,
        spec: { id: d.stream, env: d.env },
        paths: { workspace: a.workspace, shared: null, heartbeatFile: join(a.logDir, 'heartbeat'), inputs },
        attempt: d.attempt,
        binDir: coordBinDir(runDir),
        base: this.opts.env ?? process.env,
        ...(d.fileAccess ? { fileAccess: d.fileAccess } : {}),
      });
      env.COORD_BACKEND = this.opts.url;
      env.COORD_WORKER = this.id;
      const control = socketPath(a.logDir, 'control.sock');
      await this.tunnels.listen(attemptKey(d.run, d.stream, d.attempt), control);
      env.COORD_CONTROL_SOCKET = control;
      const proc = spawnProcess({
        command: d.command,
        cwd: a.workspace,
        env,
        stdoutFile: join(a.logDir, 'stdout'),
        stderrFile: join(a.logDir, 'stderr'),
        onLine: (fd, line) => this.line(a, fd, line),
      });
      a.proc = proc;
      if (proc.pid > 0) this.reaper?.send({ t: 'add', pgid: proc.pgid });
      if (a.pendingSignal) proc.signal(a.pendingSignal);
      if (a.lost) proc.signal('SIGKILL');
      await this.wire(d.run, { k: 'started', ...base, pid: proc.pid });
      a.beats = this.keepBeat(a);
      const beat = this.watchHeartbeat(a, join(a.logDir, 'heartbeat'));
      info = await proc.exited;
      await beat(); // a last beat just before the exit goes too
      if (proc.pid > 0 && this.reaper?.connected) this.reaper.send({ t: 'remove', pgid: proc.pgid });
    }
    this.flush(a);
    if (a.lost) return this.cleanup(a);
    // the outputs: the whole workspace (the coordinator's merge applies `outputs:`)
    const outKey = this.k.outputs(d.run, d.stream, d.attempt);
    let bytes = 0;
    let tooLarge: string | undefined;
    let outputs: string | null = null;
    try {
      if ((await readdir(a.workspace)).length > 0) {
        const buf = await packDir(a.workspace, this.limit, `the workspace of "${d.stream}" (attempt ${d.attempt}) on worker ${this.id}`);
        bytes = buf.length;
        await this.cmd.multi().hset(outKey, 'workspace', buf).pexpire(outKey, ARCHIVE_TTL_MS).exec();
        outputs = outKey;
      }
    } catch (e) {
      if (e instanceof ArchiveTooLarge) tooLarge = e.message;
      else tooLarge = `could not pack the workspace on worker ${this.id}: ${e instanceof Error ? e.message : String(e)}`;
    }
    try {
      await a.job.moveToCompleted({ exitCode: info.exitCode, signal: info.signal }, a.token, false);
    } catch (e) {
      // the job's lock ran out (BullMQ failed it as stalled): the result is discarded, and the
      // coordinator, which may not know yet, is told the attempt was lost
      if (outputs) await this.cmd.del(outKey);
      const why = `its job lock ran out before the result (${e instanceof Error ? e.message : String(e)})`;
      this.log(`coord worker ${this.id}: the result of ${d.run}/${d.stream} attempt ${d.attempt} came too late and was discarded: ${why}`);
      this.lose(a, why);
      return this.cleanup(a);
    }
    await this.wire(d.run, {
      k: 'exit',
      ...base,
      exitCode: info.exitCode,
      signal: info.signal,
      ...(info.error ? { error: info.error } : {}),
      outputs,
      bytes,
      ...(tooLarge ? { tooLarge } : {}),
    });
    await this.cleanup(a);
  }

  /** This worker's directory of a run: the streams' logs, heartbeat files and inputs. */
  private runDir(run: string): string {
    return join(this.opts.home, 'workers', this.id, run);
  }

  /** The attempt's heartbeat key: written now, renewed by its beats (what counts: `heartbeat.source`), deleted at its end. */
  private keepBeat(a: Attempt): BeatWriter {
    const { run, stream, attempt } = a.data;
    const prefix = this.opts.prefix ?? 'coord:';
    const ttl = a.data.heartbeat?.timeoutMs ?? DEFAULTS.heartbeatTimeoutMs;
    return new BeatWriter(
      { put: (beat) => putBeat(this.cmd, prefix, run, stream, beat, ttl), end: (n) => endBeat(this.cmd, prefix, run, stream, n) },
      { attempt, startedAt: new Date().toISOString(), time: null, progress: null, message: null, host: hostname(), worker: this.id },
    );
  }

  private async cleanup(a: Attempt): Promise<void> {
    await a.beats?.finish();
    await rm(a.workspace, { recursive: true, force: true }).catch(() => undefined);
    await rm(a.logDir, { recursive: true, force: true }).catch(() => undefined);
  }

  private line(a: Attempt, fd: 'stdout' | 'stderr', line: string): void {
    if ((a.data.heartbeat?.source ?? DEFAULTS.heartbeatSource) !== 'file') a.beats?.update(new Date());
    a.buf[fd].push(line);
    a.flushTimer ??= setTimeout(() => this.flush(a), OUT_FLUSH_MS);
  }

  private flush(a: Attempt): void {
    if (a.flushTimer) clearTimeout(a.flushTimer);
    a.flushTimer = undefined;
    if (a.lost) return;
    for (const fd of ['stdout', 'stderr'] as const) {
      const lines = a.buf[fd].splice(0);
      if (lines.length === 0) continue;
      void this.wire(a.data.run, { k: 'out', s: a.data.stream, a: a.data.attempt, w: this.id, n: ++a.outSeq, fd, data: lines.join('\n') }).catch(() => undefined);
    }
  }

  /**
   * Each change of the heartbeat file goes to the coordinator, which writes it to its copy.
   * Returns a check to run once more at the end.
   */
  private watchHeartbeat(a: Attempt, file: string): () => Promise<void> {
    let last = '';
    let busy: Promise<void> | undefined;
    const check = async (): Promise<void> => {
      try {
        const sig = signature(file);
        if (sig === last || sig === 'absent' || a.lost) return;
        last = sig;
        const text = (await stat(file)).size <= MAX_BEAT_BYTES ? await readFile(file, 'utf8') : '';
        await this.wire(a.data.run, { k: 'beat', s: a.data.stream, a: a.data.attempt, w: this.id, data: text });
        if ((a.data.heartbeat?.source ?? DEFAULTS.heartbeatSource) !== 'output') a.beats?.update(new Date(), heartbeatSays(text));
      } catch {
        /* not written yet */
      }
    };
    const t = setInterval(() => {
      busy ??= check().finally(() => (busy = undefined));
    }, BEAT_POLL_MS);
    a.timers.push(t);
    return async () => {
      clearInterval(t);
      await busy;
      await check();
    };
  }

  private message(channel: string, message: string): void {
    if (channel === this.k.dispatch) {
      if (!this.queues.has(message)) void this.discover().then(() => this.pump());
      else void this.pump();
      return;
    }
    try {
      const m = JSON.parse(message) as { run: string; stream: string; attempt: number; signal: NodeJS.Signals };
      const a = this.running.get(attemptKey(m.run, m.stream, m.attempt));
      if (a) this.deliver(a, m.signal);
    } catch {
      /* not ours */
    }
  }

  /** A signal from the coordinator for an attempt (by pub/sub, or found in the run's signals hash). */
  private deliver(a: Attempt, sig: NodeJS.Signals): void {
    a.appliedSignal = sig;
    if (a.proc) a.proc.signal(sig);
    else if (sig === 'SIGKILL' || !a.pendingSignal) a.pendingSignal = sig;
  }

  /** Attempts of runs whose coordinator is gone (two lease periods running) are stopped. */
  private async checkCoordinators(): Promise<void> {
    const runs = [...new Set([...this.running.values()].map((a) => a.data.run))];
    if (runs.length === 0) return;
    const p = this.cmd.pipeline();
    for (const r of runs) p.exists(this.k.lease(r));
    const res = (await p.exec()) ?? [];
    runs.forEach((run, i) => {
      const alive = res[i]?.[1] === 1;
      const misses = alive ? 0 : (this.coordinatorMisses.get(run) ?? 0) + 1;
      this.coordinatorMisses.set(run, misses);
      if (misses !== 2) return;
      this.log(`coord worker ${this.id}: the coordinator of run ${run} is gone: stopping its streams`);
      for (const a of this.running.values()) if (a.data.run === run) this.terminate(a);
    });
  }

  private terminate(a: Attempt): void {
    if (a.proc) a.proc.signal('SIGTERM');
    else a.pendingSignal = 'SIGTERM';
    const t = setTimeout(() => a.proc?.signal('SIGKILL'), this.opts.graceMs ?? 10_000);
    t.unref();
  }

  /** Attempts running now (for status and tests). */
  get busy(): number {
    return this.running.size;
  }

  /**
   * Stops taking jobs; running attempts get SIGTERM (`force`: SIGKILL) and are reported as
   * usual; then the registration is removed and the connections closed.
   */
  async stop(force = false): Promise<void> {
    const first = !this.stopping;
    this.stopping = true;
    for (const a of this.running.values()) {
      if (force) {
        if (a.proc) a.proc.signal('SIGKILL');
        else a.pendingSignal = 'SIGKILL';
      } else if (first) this.terminate(a);
    }
    if (!first) return;
    if (this.running.size > 0) await new Promise<void>((r) => this.idle.push(r));
    for (const t of this.timers) clearInterval(t);
    await Promise.all([...this.queues.values()].map((q) => q.w.close(true).catch(() => undefined)));
    await this.cmd.multi().del(this.k.worker(this.id)).srem(this.k.workers, this.id).exec().catch(() => undefined);
    this.sub.disconnect();
    this.tunnels.closeAll();
    this.down.disconnect();
    await this.reading.catch(() => undefined);
    await this.cmd.quit().catch(() => this.cmd.disconnect());
    if (this.reaper?.connected) {
      this.reaper.send({ t: 'bye' });
      this.reaper.disconnect();
    }
  }
}
