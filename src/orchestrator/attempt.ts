/**
 * The attempt runner: one attempt of a stream, from the scheduler's pick to a running process.
 * It prepares the workspace (fresh, seeded from `base:`, a git worktree, a checkpoint to
 * resume from), builds the environment (SPEC §3), and spawns the process here or, with
 * `--workers`, on a worker; a launch the run no longer wants is called off before a process
 * exists. The attempt's end goes to the exit handler (exits.ts).
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import type { StreamRecord } from '../backend/types.js';
import type { Failure } from '../core/failures.js';
import type { StreamProcess } from '../supervise/spawner.js';
import { diskFullAt, isDiskFull } from '../util/disk-full.js';
import { createWorkspace } from '../workspace/root.js';
import { saveSeed, seedWorkspace } from '../workspace/seed.js';
import { LaunchAborted, WorkerLost } from '../distribute/errors.js';
import type { AttemptsRole, Engine, LaunchRequest, StreamRt } from './engine.js';
import type { RemoteRequest } from '../distribute/remote-request.js';
import { linkInputs, streamEnv } from '../supervise/environment.js';
import { restoreCheckpoint } from '../convergence/checkpoints.js';
import { exitFileOf } from './resume.js';
import { streamFingerprint } from './rerun.js';
import type { Hold } from './resources.js';
import { IllegalTransition, newAttempt, queuedOf } from './stream-state.js';

export class AttemptRunner implements AttemptsRole {
  constructor(private readonly e: Engine) {}

  /** Starts the next attempt of a queued stream that holds `hold` of its plan demand. */
  async start(rt: StreamRt, hold: Hold | undefined): Promise<void> {
    const { e } = this;
    const queued = queuedOf(rt);
    if (!queued) throw new IllegalTransition(rt.spec.id, rt.phase.kind, 'launching');
    const launch = e.table.moveTo(rt, { kind: 'launching', shows: queued.kind, hold, abort: undefined, stopAs: undefined });
    e.scheduler.running++;
    rt.rec.attempt += 1;
    const attempt = rt.rec.attempt;
    let prepareError: unknown;
    try {
      if (!rt.prepared) await this.prepare(rt);
      const seed = rt.resumeSeed;
      if (seed) {
        rt.resumeSeed = undefined;
        await restoreCheckpoint(rt.paths.workspace, seed);
        e.bus.emit({ type: 'warning', stream: rt.spec.id, message: `attempt ${attempt} resumes from checkpoint ${seed}` });
      }
    } catch (err) {
      prepareError = err ?? new Error('workspace preparation failed');
    }
    if (prepareError !== undefined) {
      const err = prepareError;
      if (isDiskFull(err)) {
        // the workspace, its seed or the run's copy of a base found no space: say where
        const full = diskFullAt(err, (err as NodeJS.ErrnoException).path ?? rt.paths.workspace) as Error;
        e.flags.diskFull ??= full.message;
        this.abortLaunch(rt, 'failed', { reason: 'disk-full', message: full.message }, `workspace: ${full.message}`);
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      this.abortLaunch(rt, 'failed', { reason: 'spawn-error', message }, `workspace: ${message}`);
      return;
    }
    // stop requested while still launching: the launch is called off before a process exists
    const calledOff: Failure | undefined =
      launch.stopAs?.reason === 'point-failed' ? launch.stopAs : e.flags.stopping ? { reason: 'cancelled', stop: e.flags.stopping } : launch.stopAs;
    if (calledOff) {
      this.abortLaunch(rt, 'cancelled', calledOff);
      return;
    }
    const { spec, paths } = rt;
    let proc: StreamProcess;
    const request = this.launchRequest(rt, attempt);
    try {
      if (e.dispatcher && this.runsRemote(rt)) {
        launch.abort = new AbortController();
        proc = await e.dispatcher.spawn(this.remoteRequest(rt, attempt, request, launch.abort.signal));
      } else {
        proc = await e.spawner.spawn(request);
      }
    } catch (err) {
      launch.abort = undefined;
      if (err instanceof LaunchAborted) {
        this.abortLaunch(rt, 'cancelled', launch.stopAs ?? { reason: 'cancelled', stop: e.flags.stopping });
      } else if (err instanceof WorkerLost) {
        e.exits.relaunchLost(rt, err.message);
      } else {
        const message = err instanceof Error ? err.message : String(err);
        this.abortLaunch(rt, 'failed', { reason: 'spawn-error', message }, `could not start: ${message}`);
      }
      return;
    }
    launch.abort = undefined;
    rt.startedMs = performance.now();
    rt.rec.pid = proc.pid > 0 ? proc.pid : null;
    rt.rec.pgid = proc.pid > 0 ? proc.pgid : null;
    rt.rec.procStartTime = proc.procStartTime;
    const remote = proc.worker === undefined ? undefined : { worker: proc.worker, host: proc.host ?? '' };
    rt.rec.worker = proc.worker ?? null;
    rt.rec.startedAt = new Date().toISOString();
    rt.rec.fingerprint = streamFingerprint(spec);
    rt.rec.exitCode = null;
    rt.rec.signal = null;
    rt.rec.reason = null;
    const att = e.table.moveTo(rt, { kind: 'running', attempt: newAttempt(e.guardian.supervise(rt, proc), launch.hold, launch.stopAs) }).attempt;
    e.bus.emit({
      type: 'stream-started',
      stream: spec.id,
      attempt,
      pid: proc.pid,
      procStartTime: proc.procStartTime,
      command: spec.command,
      workspace: paths.workspace,
      ...(remote ?? {}),
    });
    for (const p of e.table.pointsOf(spec.id)) p.streamStarted();
    e.guardian.watch(rt, att);
    if (spec.timeoutMs !== undefined) e.guardian.limit(rt, att, spec.timeoutMs);
    void proc.exited.then((info) => e.exits.exited(rt, proc, info));
    // stop() came while the process was being started: it is stopped like the others.
    if (e.flags.stopping) {
      e.guardian.signal(rt, e.flags.forced ? 'SIGKILL' : 'SIGTERM', 'stop');
      if (!e.flags.forced) e.guardian.escalateAfterGrace(rt, proc, 'stop');
    } else if (launch.stopAs) {
      // stopped while its process was being started
      e.guardian.stopAttempt(rt, att, launch.stopAs.reason, launch.stopAs.reason === 'point-timeout' ? 'SIGTERM' : e.plan.guardian.soft);
    }
  }

  /** A running attempt of the dead coordinator, watched to its end as if this one had started it. */
  adopt(rt: StreamRt, rec: StreamRecord, proc: StreamProcess): void {
    const { e } = this;
    Object.assign(rt.rec, rec);
    rt.prepared = true;
    e.scheduler.pending.delete(rt);
    rt.startedMs = performance.now();
    e.scheduler.running++;
    // an adopted stream still holds its plan demand
    const hold = Object.keys(rt.spec.resources).length > 0 ? e.scheduler.negotiator.grantStream(rt.spec.id, rt.spec.resources, Date.now()) : undefined;
    const att = e.table.moveTo(rt, { kind: 'running', attempt: newAttempt(e.guardian.supervise(rt, proc), hold) }).attempt;
    e.guardian.watch(rt, att);
    void proc.exited.then((info) => e.exits.exited(rt, proc, info));
  }

  /** What a process of the stream's attempt is started with (here or, with the remote part, on a worker). */
  launchRequest(rt: StreamRt, attempt: number): LaunchRequest {
    const { spec, paths } = rt;
    const wantLines = this.e.bus.listening && this.e.opts.outputLines !== false;
    return {
      command: spec.command,
      cwd: paths.workspace,
      env: this.envOf(rt, attempt),
      stdoutFile: join(paths.logDir, 'stdout'),
      stderrFile: join(paths.logDir, 'stderr'),
      exitFile: exitFileOf(paths.logDir, attempt),
      ...(wantLines
        ? { onLine: (fd: 'stdout' | 'stderr', line: string) => this.e.bus.transient({ type: 'stream-output', stream: spec.id, attempt, fd, line }) }
        : {}),
      onOutput: () => this.e.guardian.liveness.output(spec.id),
    };
  }

  /** A launch that ends before a process exists, with `failure`: the slot and units are given back. */
  private abortLaunch(rt: StreamRt, state: 'failed' | 'cancelled', failure: Failure, warning?: string): void {
    if (rt.phase.kind !== 'launching') throw new IllegalTransition(rt.spec.id, rt.phase.kind, state);
    this.e.scheduler.running--;
    this.e.scheduler.releaseUnits(rt.spec.id, rt.phase.hold);
    rt.phase.hold = undefined;
    if (warning) this.e.bus.emit({ type: 'warning', stream: rt.spec.id, message: warning });
    this.e.exits.end(rt, state, failure);
    this.e.afterChange();
  }

  /**
   * With `--workers`, a stream runs on a worker unless it needs this host's file system: the
   * shared directory (`shared`, `hybrid`), a git worktree, a `workspace:` the plan names, or
   * periodic copies of its running workspace (a `checkpoint` point, `resume_from: checkpoint`).
   */
  private runsRemote(rt: StreamRt): boolean {
    const { spec, paths } = rt;
    if (spec.isolation !== 'isolated' || paths.explicitWorkspace || spec.resumeFrom === 'checkpoint') return false;
    return !this.e.table.pointsOf(spec.id).some((p) => p.spec.type === 'checkpoint');
  }

  remoteRequest(rt: StreamRt, attempt: number, local: LaunchRequest, abort: AbortSignal): RemoteRequest {
    const { spec, paths } = rt;
    const { plan } = this.e;
    return {
      ...local,
      abort,
      remote: {
        stream: spec.id,
        attempt,
        workspace: paths.workspace,
        heartbeatFile: paths.heartbeatFile,
        inputs: this.e.table.inputLinks(spec),
        requires: spec.requires ?? [],
        resources: spec.resources,
        priority: spec.priority,
        planEnv: { ...spec.env },
        ...(plan.coordination.isolation.fileAccess ? { fileAccess: plan.coordination.isolation.fileAccess } : {}),
        workspaceRoot: plan.workspaceRoot,
        heartbeat: { timeoutMs: plan.heartbeat.timeoutMs, source: plan.heartbeat.source },
      },
    };
  }

  private async prepare(rt: StreamRt): Promise<void> {
    const { paths, spec } = rt;
    const { e } = this;
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    if (paths.shared) await createWorkspace(paths.shared, { fresh: false });
    if (spec.isolation === 'worktree') {
      await e.worktrees.create(spec, paths.workspace);
      rt.rec.branch = e.worktrees.branchOf(spec.id); // saved with the attempt's next state
    } else if (paths.workspace !== paths.shared) await createWorkspace(paths.workspace, { fresh: !paths.explicitWorkspace && !e.opts.resume });
    // `base:` seeds the workspace from the run's snapshot of that directory, unless the
    // workspace already has content; the stat record of the seeding makes change detection cheap.
    if (spec.base && spec.isolation !== 'worktree') {
      const base = await e.pointsHost.baseTreeOf(spec.base);
      if ((await readdir(paths.workspace)).length === 0) saveSeed(e.pointsHost.seedFile(paths.workspace), await seedWorkspace(base, paths.workspace));
      rt.rec.base = base.dir;
    }
    linkInputs(paths.inputs, e.table.inputLinks(spec));
    rt.prepared = true;
  }

  /** The environment of one attempt of a stream (SPEC §3). */
  envOf(rt: StreamRt, attempt: number): NodeJS.ProcessEnv {
    const { e } = this;
    const env = streamEnv({
      runId: e.runId,
      runDir: e.runDir,
      spec: rt.spec,
      paths: rt.paths,
      attempt,
      binDir: e.flags.binDir,
      base: e.baseEnv,
      fileAccess: e.plan.coordination.isolation.fileAccess,
    });
    if (rt.feedback) env.COORD_FEEDBACK = rt.feedback;
    else delete env.COORD_FEEDBACK;
    return env;
  }
}
