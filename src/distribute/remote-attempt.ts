/**
 * One attempt a `coord worker` took from a queue, from its job to its `exit` on the wire:
 *
 * - the inputs archives are unpacked into the attempt's workspace
 *   (`<workspace_root>/<run>/.workers/<id>/<stream>`) and inputs directory
 *   (`.coord/workers/<id>/<run>/streams/<stream>/inputs`);
 * - the process runs as a local stream's does (AttemptProcess: its own process group, leftovers
 *   stopped when it exits, liveness from its heartbeat file and output); its output lines and
 *   heartbeat file go to the run's wire stream, and its beats renew its heartbeat key
 *   `run:<id>:beat:<stream>` (src/backend/redis/beats.ts), which the AttemptProcess keeps as
 *   the coordinator's keeps a local attempt's; this file has only the wire's part of it;
 * - signals from the coordinator are applied (pub/sub, or the run's signals hash looked at every
 *   third of a lease, together with the extension of the job's lock, which is the attempt's lease);
 * - at the end the workspace is packed into `run:<id>:out:…`, the job is completed (which fails
 *   for an attempt whose lease was lost: its result is discarded), then `exit` goes on the wire,
 *   and the local copies are removed.
 *
 * A lost attempt (its lock or the worker's registration ran out: it was given to another
 * worker) is killed and reports nothing more.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { mkdir, readdir, rm, readFile, stat } from 'node:fs/promises';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ExitInfo } from '../supervise/spawner.js';
import { AttemptProcess } from '../supervise/attempt-process.js';
import { heartbeatSays } from '../supervise/liveness.js';
import { coordBinDir, streamEnv } from '../supervise/environment.js';
import type { BeatKeys } from '../backend/beat-writer.js';
import { endBeat, putBeat } from '../backend/redis/beats.js';
import { unrefTimers } from '../supervise/timers.js';
import { DEFAULTS, type HeartbeatSource } from '../plan/types.js';
import { ArchiveTooLarge, packDir, unpackInto } from './archive.js';
import { ARCHIVE_TTL_MS, type Keys, type Profile, type StreamJob, type WireMessage } from './profile.js';
import { socketPath, type WorkerTunnels } from './tunnel.js';

const OUT_FLUSH_MS = 50;
/** How often the heartbeat file is looked at: often, so a remote beat reaches the coordinator's copy about as soon as a local one would count. */
const BEAT_POLL_MS = 250;
const MAX_BEAT_BYTES = 64 * 1024;

/** What an attempt uses of the worker that runs it. */
export interface AttemptHost {
  readonly id: string;
  readonly cmd: Redis;
  readonly k: Keys;
  /** The key prefix (the beat keys are the backend's). */
  readonly prefix: string;
  /** The Redis server, handed to the stream as `COORD_BACKEND`. */
  readonly url: string;
  /** This host's `.coord` directory. */
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  readonly leaseMs: number;
  /** The largest outputs archive. */
  readonly limit: number;
  readonly tunnels: WorkerTunnels;
  /** Tells the reaper (reaper.ts) of a process group to stop if the worker dies, and of its end. */
  readonly reaper: { add(pgid: number): void; remove(pgid: number): void };
  log(line: string): void;
  /** Puts a report on the run's wire stream. */
  wire(run: string, m: WireMessage): Promise<unknown>;
}

/** The key of an attempt among a worker's (also its tunnels' name). */
export const attemptKey = (run: string, stream: string, attempt: number): string => `${run}/${stream}/${attempt}`;

/** One attempt of a job this worker took (see the file comment). */
export class RemoteAttempt {
  readonly key: string;
  /** Set once the attempt's lease is gone: nothing more of it is reported. */
  lost = false;
  /** The last signal from the coordinator this attempt got. */
  private appliedSignal: string | undefined;
  private readonly process: AttemptProcess;
  private outSeq = 0;
  private readonly buf: { stdout: string[]; stderr: string[] } = { stdout: [], stderr: [] };
  private flushTimer: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  /** Relayed heartbeat files, one after the other (the last goes before `exit`). */
  private relay: Promise<void> = Promise.resolve();
  private readonly workspace: string;
  private readonly logDir: string;
  private readonly source: HeartbeatSource;

  constructor(
    private readonly host: AttemptHost,
    readonly data: StreamJob,
    private readonly job: Job,
    private readonly token: string,
    readonly profile: Profile,
  ) {
    this.key = attemptKey(data.run, data.stream, data.attempt);
    // apart from the coordinator's directories, which may be on this host too
    this.workspace = join(data.workspaceRoot, data.run, '.workers', host.id, data.stream);
    this.logDir = join(this.runDir, 'streams', data.stream);
    this.source = data.heartbeat?.source ?? DEFAULTS.heartbeatSource;
    this.process = new AttemptProcess({
      heartbeatFile: join(this.logDir, 'heartbeat'),
      pollMs: BEAT_POLL_MS,
      onBeat: (at, file) => this.beat(at, file),
      timers: unrefTimers,
    });
  }

  /** This worker's directory of the run: the streams' logs, heartbeat files and inputs. */
  private get runDir(): string {
    return join(this.host.home, 'workers', this.host.id, this.data.run);
  }

  /** Runs the attempt to its end (see the file comment); rejects only when the worker itself failed. */
  async run(): Promise<void> {
    const d = this.data;
    await this.host.wire(d.run, { k: 'taken', ...this.base, host: hostname() });
    this.poll = setInterval(() => this.renew(), Math.max(100, Math.floor(this.host.leaseMs / 3)));
    const prepareError = await this.prepare();
    if (this.lost) return this.cleanup();
    const info: ExitInfo = prepareError === undefined ? await this.execute() : { exitCode: null, signal: null, error: prepareError };
    this.flush();
    if (this.lost) return this.cleanup();
    await this.report(info);
    await this.cleanup();
  }

  private get base(): { s: string; a: number; w: string } {
    return { s: this.data.stream, a: this.data.attempt, w: this.host.id };
  }

  /** A missed signal is looked for, and the job's lock (the attempt's lease) extended. */
  private renew(): void {
    const d = this.data;
    void this.host.cmd.hget(this.host.k.signals(d.run), `${d.stream}:${d.attempt}`).then(
      (sig) => {
        if (sig && sig !== this.appliedSignal) this.deliver(sig as NodeJS.Signals);
      },
      () => undefined,
    );
    void this.job.extendLock(this.token, this.host.leaseMs).then(
      (ok) => {
        if (!ok) this.lose('the job lock was lost');
      },
      () => undefined, // the server is away: the registration's renewal decides
    );
  }

  /** The workspace and inputs from the archives; what went wrong, if anything did. */
  private async prepare(): Promise<string | undefined> {
    const { cmd, k } = this.host;
    const d = this.data;
    try {
      await rm(this.workspace, { recursive: true, force: true });
      await mkdir(this.workspace, { recursive: true, mode: 0o700 });
      await rm(this.logDir, { recursive: true, force: true });
      await mkdir(this.logDir, { recursive: true, mode: 0o700 });
      if (d.inputs.length > 0) {
        const key = k.inputs(d.run, d.stream, d.attempt);
        const parts = await cmd.hgetallBuffer(key);
        for (const field of d.inputs) {
          const buf = parts[field];
          if (!buf) throw new Error(`the inputs archive "${field}" is missing on the server`);
          await unpackInto(buf, field === 'workspace' ? this.workspace : join(this.logDir, 'inputs', field.slice('input:'.length)));
        }
        await cmd.del(key);
      }
      return undefined;
    } catch (e) {
      return `could not prepare the workspace on worker ${this.host.id}: ${e instanceof Error ? e.message : String(e)}`;
    }
  }

  /** Starts the process, with its control socket carried to the coordinator, and waits for its end. */
  private async execute(): Promise<ExitInfo> {
    const { host } = this;
    const d = this.data;
    const runDir = this.runDir;
    const env = streamEnv({
      runId: d.run,
      runDir,
      spec: { id: d.stream, env: d.env },
      paths: { workspace: this.workspace, shared: null, heartbeatFile: join(this.logDir, 'heartbeat'), inputs: join(this.logDir, 'inputs') },
      attempt: d.attempt,
      binDir: coordBinDir(runDir),
      base: host.env,
      ...(d.fileAccess ? { fileAccess: d.fileAccess } : {}),
    });
    env.COORD_BACKEND = host.url;
    env.COORD_WORKER = host.id;
    const control = socketPath(this.logDir, 'control.sock');
    await host.tunnels.listen(this.key, control);
    env.COORD_CONTROL_SOCKET = control;
    const { proc, exited } = this.process.start({
      command: d.command,
      cwd: this.workspace,
      env,
      stdoutFile: join(this.logDir, 'stdout'),
      stderrFile: join(this.logDir, 'stderr'),
      onLine: (fd, line) => this.line(fd, line),
    });
    if (proc.pid > 0) host.reaper.add(proc.pgid);
    await host.wire(d.run, { k: 'started', ...this.base, pid: proc.pid });
    this.keepBeat();
    const info = await exited;
    await this.relay; // a last beat just before the exit goes too
    if (proc.pid > 0) host.reaper.remove(proc.pgid);
    return info;
  }

  /** The outputs (the whole workspace: the coordinator's merge applies `outputs:`), the job's completion, then `exit`. */
  private async report(info: ExitInfo): Promise<void> {
    const { cmd, k, id } = this.host;
    const d = this.data;
    const outKey = k.outputs(d.run, d.stream, d.attempt);
    let bytes = 0;
    let tooLarge: string | undefined;
    let outputs: string | null = null;
    try {
      if ((await readdir(this.workspace)).length > 0) {
        const buf = await packDir(this.workspace, this.host.limit, `the workspace of "${d.stream}" (attempt ${d.attempt}) on worker ${id}`);
        bytes = buf.length;
        await cmd.multi().hset(outKey, 'workspace', buf).pexpire(outKey, ARCHIVE_TTL_MS).exec();
        outputs = outKey;
      }
    } catch (e) {
      if (e instanceof ArchiveTooLarge) tooLarge = e.message;
      else tooLarge = `could not pack the workspace on worker ${id}: ${e instanceof Error ? e.message : String(e)}`;
    }
    try {
      await this.job.moveToCompleted({ exitCode: info.exitCode, signal: info.signal }, this.token, false);
    } catch (e) {
      // the job's lock ran out (BullMQ failed it as stalled): the result is discarded, and the
      // coordinator, which may not know yet, is told the attempt was lost
      if (outputs) await cmd.del(outKey);
      const why = `its job lock ran out before the result (${e instanceof Error ? e.message : String(e)})`;
      this.host.log(`coord worker ${id}: the result of ${d.run}/${d.stream} attempt ${d.attempt} came too late and was discarded: ${why}`);
      this.lose(why);
      return;
    }
    await this.host.wire(d.run, {
      k: 'exit',
      ...this.base,
      exitCode: info.exitCode,
      signal: info.signal,
      ...(info.error ? { error: info.error } : {}),
      outputs,
      bytes,
      ...(tooLarge ? { tooLarge } : {}),
    });
  }

  /** The attempt's heartbeat key: written now, renewed by its beats (what counts: `heartbeat.source`), deleted at its end. */
  private keepBeat(): void {
    const { run, stream, attempt } = this.data;
    const { cmd, prefix } = this.host;
    const keys: BeatKeys = {
      putBeat: (r, s, beat, ttl) => putBeat(cmd, prefix, r, s, beat, ttl),
      endBeat: (r, s, n) => endBeat(cmd, prefix, r, s, n),
    };
    this.process.keepBeat(keys, { runId: run, stream, attempt, worker: this.host.id, ttlMs: this.data.heartbeat?.timeoutMs ?? DEFAULTS.heartbeatTimeoutMs });
  }

  /**
   * A beat of the process. A change of its heartbeat file goes to the coordinator, which writes
   * it to its copy (whatever the source: the last content is read at the end); the beat key is
   * renewed by what `heartbeat.source` counts.
   */
  private beat(at: Date, file: boolean): void {
    if (!file) {
      if (this.source !== 'file') this.process.beat(at);
      return;
    }
    this.relay = this.relay.then(async () => {
      if (this.lost) return;
      const hbFile = join(this.logDir, 'heartbeat');
      let text: string;
      try {
        text = (await stat(hbFile)).size <= MAX_BEAT_BYTES ? await readFile(hbFile, 'utf8') : '';
      } catch {
        return; // removed meanwhile
      }
      await this.host.wire(this.data.run, { k: 'beat', ...this.base, data: text }).catch(() => undefined);
      if (this.source !== 'output') this.process.beat(at, heartbeatSays(text));
    });
  }

  private line(fd: 'stdout' | 'stderr', line: string): void {
    this.buf[fd].push(line);
    this.flushTimer ??= setTimeout(() => this.flush(), OUT_FLUSH_MS);
  }

  /** Output lines go on the wire in batches (one entry per fd every OUT_FLUSH_MS at most). */
  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.lost) return;
    for (const fd of ['stdout', 'stderr'] as const) {
      const lines = this.buf[fd].splice(0);
      if (lines.length === 0) continue;
      void this.host.wire(this.data.run, { k: 'out', ...this.base, n: ++this.outSeq, fd, data: lines.join('\n') }).catch(() => undefined);
    }
  }

  /** A signal from the coordinator (by pub/sub, or found in the run's signals hash). */
  deliver(sig: NodeJS.Signals): void {
    this.appliedSignal = sig;
    this.process.signal(sig);
  }

  /** SIGTERM, SIGKILL after `graceMs` (the coordinator is gone, or the worker stops). */
  terminate(graceMs: number): void {
    this.process.terminate(graceMs);
  }

  /** SIGKILL, now or as soon as the process exists. */
  kill(): void {
    this.process.signal('SIGKILL');
  }

  /** The attempt's lease is gone: its processes are killed, nothing of it is reported. */
  lose(why: string): void {
    if (this.lost) return;
    this.lost = true;
    this.kill();
    void this.host.wire(this.data.run, { k: 'lost', ...this.base, why }).catch(() => undefined);
  }

  private async cleanup(): Promise<void> {
    await this.process.releaseBeat()?.finish();
    await rm(this.workspace, { recursive: true, force: true }).catch(() => undefined);
    await rm(this.logDir, { recursive: true, force: true }).catch(() => undefined);
  }

  /** The attempt is over: its control socket closes and its timers stop. */
  dispose(): void {
    this.host.tunnels.close(this.key);
    if (this.poll) clearInterval(this.poll);
    if (this.flushTimer) clearTimeout(this.flushTimer);
  }
}
