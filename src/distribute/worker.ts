/**
 * `coord worker`: a host that runs streams of runs coordinated elsewhere, through a Redis
 * server (see profile.ts for the keys). This file is the worker itself: its registration, the
 * routing of what coordinators send, and its stop; jobs come in through intake.ts, and each
 * attempt runs in remote-attempt.ts.
 *
 * - It registers as `worker:<id>` (host, pid, slots, capabilities, resources), a hash that
 *   expires after the lease unless renewed every lease/3. A coordinator that sees it gone
 *   gives the worker's attempts to other workers as new attempts. A worker that finds its own
 *   registration expired (it was cut off longer than the lease) kills what it runs, since
 *   those attempts were given away, and registers again.
 * - It looks for jobs when woken by the `dispatch` channel (and every second).
 * - Signals come from the coordinator on `worker:<id>:signal`; the attempts' control-socket
 *   connections (`coord spawn`, `coord resource acquire`, consensus) are carried to the
 *   coordinator (tunnel.ts), whose replies come on `worker:<id>:ctl`.
 * - Attempts of a run whose coordinator is gone (its lease `run:<id>:lease`, which the
 *   coordinator holds through its backend, was missing at two checks a worker lease apart)
 *   are stopped, like the streams a local coordinator leaves behind.
 * - A reaper process (reaper.ts) stops the attempts' process groups if this process dies.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hostname, availableParallelism } from 'node:os';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { connect, followStream, redisOptions } from './connection.js';
import { DEFAULT_LEASE_MS, keys, type Keys, type Profile, type StreamJob, type WireMessage } from './profile.js';
import { WorkerTunnels, type DownMessage } from './tunnel.js';
import { archiveLimit } from './archive.js';
import { JobIntake } from './intake.js';
import { attemptKey, RemoteAttempt, type AttemptHost } from './remote-attempt.js';

const REAPER = fileURLToPath(new URL('./reaper.js', import.meta.url));
const WIRE_MAXLEN = '100000';
/** Extends the registration only while it exists (an expired one is never half recreated). */
const RENEW = `if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'busy', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
  return 1
end
return 0`;

/** How a worker is started (`coord worker` flags). */
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
  /** Where the worker says what it does (a line at a time; `coord worker` prints it on stderr). Unset: nowhere. */
  log?: (line: string) => void;
  /** After SIGTERM, how long an attempt has before SIGKILL when its coordinator is gone or the worker stops. */
  graceMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** A `coord worker` process's work: registered on the server, running the attempts it takes. */
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
  private intake!: JobIntake;
  /** What an attempt uses of this worker (made once the connections exist). */
  private host!: AttemptHost;
  private readonly running = new Map<string, RemoteAttempt>();
  private readonly timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private readonly coordinatorMisses = new Map<string, number>();
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
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.k = keys(opts.prefix ?? 'coord:');
    this.log = opts.log ?? (() => undefined);
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

  /** Registers, subscribes, and starts taking jobs. */
  async start(): Promise<void> {
    this.reaper = fork(REAPER, [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...(this.opts.env ?? process.env), COORD_REAPER_GRACE_MS: String(this.opts.graceMs ?? 5000) },
    });
    this.reaper.on('error', (e) => this.onError(e));
    this.cmd = connect(this.conn, this.onError);
    this.sub = connect(this.conn, this.onError);
    this.down = connect(this.conn, this.onError);
    this.cmd.on('ready', () => (this.lastError = ''));
    this.intake = new JobIntake({
      id: this.id,
      cmd: this.cmd,
      k: this.k,
      conn: this.conn,
      leaseMs: this.leaseMs,
      offer: this,
      take: (job, token, profile) => this.take(job, token, profile),
      onError: this.onError,
    });
    this.host = this.attemptHost();
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
      void this.intake.pump();
    });
    every(this.leaseMs, () => this.checkCoordinators());
    const [last] = await this.cmd.xrevrange(this.k.ctl(this.id), '+', '-', 'COUNT', 1);
    this.reading = this.readDown(last?.[0] ?? '0-0');
    await this.discover();
    void this.intake.pump();
  }

  private discover(): Promise<void> {
    return this.stopping ? Promise.resolve() : this.intake.discover();
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
        busy: String(this.intake.busy),
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
    const renewed = await this.cmd.eval(RENEW, 2, key, this.k.workers, this.leaseMs, this.intake.busy, this.id);
    if (renewed === 1) return;
    if (this.running.size > 0)
      this.log(
        `coord worker ${this.id}: its registration expired (out of reach for longer than the ${this.leaseMs} ms lease); its ${this.running.size} attempt(s) were given to other workers: stopping them`,
      );
    for (const a of this.running.values()) a.lose('the worker registration expired');
    await this.register();
  }

  /** What an attempt uses of this worker. */
  private attemptHost(): AttemptHost {
    const reaper = () => this.reaper;
    return {
      id: this.id,
      cmd: this.cmd,
      k: this.k,
      prefix: this.opts.prefix ?? 'coord:',
      url: this.opts.url,
      home: this.opts.home,
      env: this.opts.env ?? process.env,
      leaseMs: this.leaseMs,
      limit: archiveLimit(this.opts.env ?? process.env),
      tunnels: this.tunnels,
      reaper: {
        add: (pgid) => reaper()?.send({ t: 'add', pgid }),
        remove: (pgid) => {
          if (reaper()?.connected) reaper()!.send({ t: 'remove', pgid });
        },
      },
      log: this.log,
      wire: (run, m) => this.wire(run, m),
    };
  }

  private take(job: Job, token: string, profile: Profile): void {
    const a = new RemoteAttempt(this.host, job.data as StreamJob, job, token, profile);
    const d = a.data;
    this.running.set(a.key, a);
    void a
      .run()
      .catch((e: unknown) => {
        // the coordinator must not wait for an attempt this worker gave up on: it runs again
        const why = `the worker failed: ${e instanceof Error ? e.message : String(e)}`;
        this.log(`coord worker ${this.id}: ${d.run}/${d.stream} attempt ${d.attempt}: ${why}`);
        a.lose(why);
      })
      .finally(() => this.release(a));
  }

  private release(a: RemoteAttempt): void {
    a.dispose();
    this.running.delete(a.key);
    if (this.running.size === 0) for (const f of this.idle.splice(0)) f();
    this.intake.release(a.profile);
  }

  private wire(run: string, m: WireMessage): Promise<unknown> {
    return this.cmd.xadd(this.k.wire(run), 'MAXLEN', '~', WIRE_MAXLEN, '*', 'm', JSON.stringify(m));
  }

  private message(channel: string, message: string): void {
    if (channel === this.k.dispatch) {
      if (!this.intake.serves(message)) void this.discover().then(() => this.intake.pump());
      else void this.intake.pump();
      return;
    }
    try {
      const m = JSON.parse(message) as { run: string; stream: string; attempt: number; signal: NodeJS.Signals };
      this.running.get(attemptKey(m.run, m.stream, m.attempt))?.deliver(m.signal);
    } catch {
      /* not ours */
    }
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
      for (const a of this.running.values()) if (a.data.run === run) a.terminate(this.opts.graceMs ?? 10_000);
    });
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
    this.intake.stop();
    for (const a of this.running.values()) {
      if (force) a.kill();
      else if (first) a.terminate(this.opts.graceMs ?? 10_000);
    }
    if (!first) return;
    if (this.running.size > 0) await new Promise<void>((r) => this.idle.push(r));
    for (const t of this.timers) clearInterval(t);
    await this.intake.close();
    await this.cmd
      .multi()
      .del(this.k.worker(this.id))
      .srem(this.k.workers, this.id)
      .exec()
      .catch(() => undefined);
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
