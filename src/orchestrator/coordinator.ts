/**
 * StreamCoordinator: registers streams and convergence points, runs them as a DAG with a
 * concurrency limit and resource pools, supervises each stream's process group, and merges
 * outputs at convergence points. Everything it does is an event (src/events/types.ts) on the
 * run's one bus (bus.ts): the event log stores them, listeners added with `on()` (reporters,
 * the dashboard feed, tests) get them; the engine itself prints nothing.
 *
 * This class is the facade: it builds the engine's parts (engine.ts lists them) and runs the
 * run's lifecycle — start, stop, end. A stream's states, and the moves between them, are
 * drawn and enforced in stream-state.ts; what an attempt's end makes of its stream is decided
 * by exit-policy.ts.
 */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Plan, PointSpec, StreamSpec } from '../plan/types.js';
import type { RunRecord } from '../backend/types.js';
import { FileBackend } from '../backend/file/file-backend.js';
import type { RunState } from '../events/types.js';
import { nodeSpawner } from '../supervise/spawner.js';
import { LauncherSpawner, launcherAvailable } from '../supervise/launcher-client.js';
import { processStartTime } from '../util/proc.js';
import { isDiskFull } from '../util/disk-full.js';
import { planWarnings } from '../plan/warnings.js';
import { prepareWorkspaceRoot } from '../workspace/root.js';
import { ensurePrivateDir } from '../util/private-dir.js';
import { ConsensusBoard } from '../consensus/board.js';
import { Worktrees } from './worktrees.js';
import { coordBinDir, removeSucceededWorkspaces } from '../supervise/environment.js';
import { newRunId } from './ids.js';
import { VoteGroups } from './vote-groups.js';
import { exitCodeOf, runEndState } from './exit-policy.js';
import { DEFAULT_CONCURRENCY, type CoordinatorOptions, type RunOutcome } from './options.js';
import type { Engine, RunFlags } from './engine.js';
import { EventBus, type Listener } from './bus.js';
import { RunRecords } from './records.js';
import { StreamTable } from './stream-table.js';
import { Scheduler } from './scheduler.js';
import { AttemptRunner } from './attempt.js';
import { ExitHandler } from './exits.js';
import { Guardian } from './guardian.js';
import { PointsHost } from './points-host.js';
import { ControlHost } from './control-host.js';
import { Resumer } from './resume.js';
import { Upkeep } from './upkeep.js';
import { attemptOf, isTerminal } from './stream-state.js';
import { buildGraph } from '../graph/graph.js';

export { DEFAULT_CONCURRENCY, type CoordinatorOptions, type RunOutcome } from './options.js';
export { RETRY_BACKOFF_BASE_MS, RETRY_BACKOFF_CAP_MS } from './exit-policy.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The engine as the coordinator built it: each part its class (the parts see one another by their roles). */
type Parts = Engine & {
  readonly records: RunRecords;
  readonly table: StreamTable;
  readonly scheduler: Scheduler;
  readonly attempts: AttemptRunner;
  readonly exits: ExitHandler;
  readonly guardian: Guardian;
  readonly pointsHost: PointsHost;
  readonly control: ControlHost;
};

export class StreamCoordinator {
  readonly runId: string;
  readonly runDir: string;
  readonly plan: Plan;
  private readonly e: Parts;
  private readonly flags: RunFlags = { stopping: undefined, forced: false, started: false, finished: false, diskFull: undefined, binDir: '' };
  private readonly concurrency: number;
  private readonly upkeep: Upkeep;
  private startedAtMs = 0;
  private resolveRun: ((o: RunOutcome) => void) | undefined;

  constructor(opts: CoordinatorOptions) {
    this.plan = opts.plan;
    this.runId = opts.runId ?? newRunId();
    // resolved once, here: streams get paths under it and may cd anywhere, and a later chdir of this process must not move the run
    const home = resolve(opts.home);
    this.runDir = join(home, 'runs', this.runId);
    this.concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
    const workspaceDir = resolve(opts.plan.workspaceRoot, this.runId);
    const e = {
      runId: this.runId,
      runDir: this.runDir,
      home,
      workspaceDir,
      plan: opts.plan,
      opts,
      backend: opts.backend ?? new FileBackend(home),
      spawner: opts.spawner ?? (launcherAvailable() ? new LauncherSpawner(undefined, join(this.runDir, 'launcher.log')) : nodeSpawner),
      // process.env is an exotic object, slow to spread once per spawn: copy it once.
      baseEnv: { ...(opts.env ?? process.env) },
      flags: this.flags,
      dispatcher: undefined,
      afterChange: () => {
        e.scheduler.schedule();
        this.maybeFinish();
      },
    } as Partial<Mutable<Parts>> as Mutable<Parts>;
    e.bus = new EventBus(this.runId);
    e.records = new RunRecords(e);
    e.bus.log((ev) => e.records.write(() => e.backend.appendEvent(this.runId, ev)));
    e.table = new StreamTable(e);
    e.scheduler = new Scheduler(e, this.concurrency);
    e.attempts = new AttemptRunner(e);
    e.exits = new ExitHandler(e);
    e.guardian = new Guardian(e);
    e.pointsHost = new PointsHost(e);
    e.control = new ControlHost(e);
    e.worktrees = new Worktrees(this.runId, workspaceDir);
    e.board = new ConsensusBoard({
      emit: (ev) => e.bus.emit(ev),
      save: (rec) => e.records.write(() => e.backend.putProposal(this.runId, rec)),
      running: () =>
        e.table
          .all()
          .filter((rt) => attemptOf(rt) !== undefined)
          .map((rt) => rt.spec.id),
    });
    e.voteGroups = new VoteGroups(Object.values(opts.plan.groups ?? {}), {
      board: e.board,
      sourceOf: (id) => e.table.workspaceOf(id),
      decided: (g) => e.exits.voteDecided(g),
      warn: (stream, message) => e.bus.emit({ type: 'warning', stream, message }),
    });
    this.e = e;
    this.upkeep = new Upkeep(e, () => this.stop('cancelled'));
    for (const s of opts.plan.streams) this.register(s);
    for (const p of opts.plan.points) this.converge(p);
  }

  /** Adds a stream (before `run()`). Validation of the whole plan is the plan loader's job. */
  register(spec: StreamSpec): void {
    if (this.flags.started) throw new Error('register() after run() started');
    this.e.scheduler.pending.add(this.e.table.track(spec));
  }

  /** Adds a convergence point over registered streams (before `run()`). */
  converge(spec: PointSpec): void {
    if (this.flags.started) throw new Error('converge() after run() started');
    this.e.pointsHost.converge(spec);
  }

  /** Subscribes to every event of the run (reporters, tests). */
  on(listener: Listener): void {
    this.e.bus.on(listener);
  }

  /**
   * Stops the run: pending streams are cancelled, running ones get SIGTERM to their process
   * group and SIGKILL after the guardian's grace (at once when `force`). A second call with
   * `force` escalates.
   */
  stop(kind: 'interrupted' | 'cancelled', force = false): void {
    const { flags, e } = this;
    if (flags.finished) return;
    const first = flags.stopping === undefined;
    flags.stopping ??= kind;
    if (force) flags.forced = true;
    if (!first && !force) return;
    for (const rt of e.table.all()) {
      const attempt = attemptOf(rt);
      if (attempt) {
        e.guardian.signal(rt, flags.forced ? 'SIGKILL' : 'SIGTERM', 'stop');
        if (!flags.forced) e.guardian.escalateAfterGrace(rt, attempt.proc, 'stop');
      } else if (rt.phase.kind === 'launching') {
        // (a launching stream sees `stopping` itself once its workspace is ready)
        rt.phase.abort?.abort();
      } else if (!isTerminal(rt.phase.kind)) {
        e.exits.end(rt, 'cancelled', { reason: 'cancelled', stop: flags.stopping });
      }
    }
    this.maybeFinish();
  }

  /** Runs the plan to its end. Resolves with the outcome; never rejects for a stream's failure. */
  async run(): Promise<RunOutcome> {
    const { e, flags, plan } = this;
    if (flags.started) throw new Error('run() called twice');
    flags.started = true;
    this.startedAtMs = performance.now();
    // the streams and points registered, the plan's and any added before the run
    e.graph = buildGraph({ ...plan, streams: e.table.all().map((rt) => rt.spec), points: [...e.table.points.values()].map((p) => p.spec) });
    // the run's records, logs and shared state go there: another user must not be able to change them
    ensurePrivateDir(resolve(e.opts.home), 'coord home');
    await prepareWorkspaceRoot(plan.workspaceRoot);
    await e.worktrees.check(plan);
    const run: RunRecord = {
      id: this.runId,
      plan: plan.file,
      name: plan.name,
      state: 'running',
      startedAt: new Date().toISOString(),
      endedAt: null,
      coordinator: { pid: process.pid, startTime: processStartTime(process.pid), host: hostname() },
      workspaceDir: e.workspaceDir,
      concurrency: this.concurrency,
      pools: { ...plan.resources },
      sharedState: { type: plan.stateManagement.manager, keepVersions: plan.stateManagement.keepVersions, durable: plan.stateManagement.durable },
    };
    const resume = e.opts.resume;
    const before = resume ? await e.backend.getRun(this.runId) : undefined;
    if (resume) await e.backend.updateRun(this.runId, { ...run, startedAt: before?.startedAt ?? run.startedAt, cancelRequested: false });
    else await e.backend.createRun(run, plan.text);
    await this.upkeep.holdLease();
    mkdirSync(join(this.runDir, 'streams'), { recursive: true, mode: 0o700 });
    await this.upkeep.reserveSpace(before);
    mkdirSync(e.workspaceDir, { recursive: true, mode: 0o700 });
    if (resume) e.board.load(await e.backend.listProposals(this.runId));
    e.pointsHost.prepareProposals();
    flags.binDir = coordBinDir(this.runDir);
    if (e.opts.workers) {
      const { Dispatcher } = await import('../distribute/dispatcher.js');
      e.dispatcher = new Dispatcher({
        url: e.opts.workers.url,
        runId: this.runId,
        ...(e.opts.workers.leaseMs ? { leaseMs: e.opts.workers.leaseMs } : {}),
        warn: (message, stream) => e.bus.emit({ type: 'warning', ...(stream ? { stream } : {}), message }),
        env: e.baseEnv,
        controlPath: () => e.control.path,
        ...(resume ? { resume: true } : {}),
      });
      await e.dispatcher.start();
    }
    await e.control.open();
    const done = new Promise<RunOutcome>((r) => (this.resolveRun = r));
    e.bus.emit({
      type: 'run-started',
      plan: plan.file,
      name: plan.name,
      pid: process.pid,
      concurrency: this.concurrency,
      ...(resume ? { resumed: true } : {}),
    });
    await this.upkeep.openState(run.sharedState);
    if (before && before.plan !== plan.file)
      e.bus.emit({
        type: 'warning',
        message: `run ${this.runId} was started with the plan ${before.plan}; resumed with ${plan.file} (what changed runs again)`,
      });
    const restored = resume ? await new Resumer(e).restore(resume.adopt) : undefined;
    e.dispatcher?.readWire(); // a resumed run's: after its remote attempts were adopted
    for (const rt of e.table.all()) {
      e.records.save(rt);
      if (restored?.has(rt.spec.id)) continue;
      e.bus.emit({
        type: 'stream-registered',
        stream: rt.spec.id,
        attempt: 0,
        capabilities: rt.spec.capabilities,
        dependsOn: rt.spec.dependsOn,
        workspace: rt.paths.workspace,
      });
    }
    for (const p of e.table.points.values()) {
      const rec = { ...p.rec };
      e.records.write(() => e.backend.putPoint(this.runId, rec));
    }
    for (const w of planWarnings(plan)) e.bus.emit({ type: 'warning', message: `${w.line}:${w.col}: ${w.message.replace(/^warning: /, '')}` });
    if (flags.stopping) this.stop(flags.stopping);
    e.scheduler.schedule();
    this.maybeFinish();
    return done;
  }

  private maybeFinish(): void {
    const { flags, e } = this;
    if (!flags.started || flags.finished || !this.resolveRun) return;
    if (!e.table.allEnded) return;
    if (!flags.stopping) for (const p of e.table.points.values()) if (!p.isSettled) return;
    flags.finished = true;
    void this.finish();
  }

  private async finish(): Promise<void> {
    const { e, flags } = this;
    e.scheduler.stop();
    await this.upkeep.closeState();
    e.guardian.close();
    // Undecided proposals are rejected (an approval awaited by a point answers it), units go back.
    e.board.closeAll();
    e.scheduler.negotiator.closeAll();
    const points = [...e.table.points.values()];
    await Promise.all(points.map((p) => p.idle()));
    for (const p of points) p.cancel(flags.stopping);
    const cancelRequested = flags.stopping ? (await e.backend.getRun(this.runId).catch(() => undefined))?.cancelRequested === true : false;
    const streams = e.table.all();
    let state: RunState = runEndState({
      stopping: flags.stopping,
      cancelRequested,
      diskFull: flags.diskFull !== undefined,
      streams: streams.map((rt) => ({ id: rt.spec.id, state: rt.rec.state, reason: rt.rec.reason })),
      points: points.map((p) => ({ state: p.rec.state })),
      voteWon: (id) => e.voteGroups.settledOk(id),
      unsettledVoteGroups: e.voteGroups.unsettled().length,
    });
    if (e.opts.removeWorkspaces) removeSucceededWorkspaces(streams.map((rt) => ({ paths: rt.paths, succeeded: rt.rec.state === 'succeeded' })));
    if (!e.opts.keepWorkspaces) await e.worktrees.removeAll();
    await e.guardian.settle();
    e.control.close();
    // the space set aside goes to the run's last records
    this.upkeep.releaseSpace();
    e.records.flush();
    e.spawner.close?.();
    await e.dispatcher?.close();
    await e.records.settled();
    // Records were lost on the way (a full disk): all of them once more.
    if (e.records.hasFailed) e.records.rewriteAll();
    await e.records.settled();
    // A backend that failed for another reason than a full disk is told, as a warning.
    let told = false;
    const tell = (emit: (message: string) => void): void => {
      if (told || !e.records.hasFailed || isDiskFull(e.records.error)) return;
      told = true;
      emit(`the ${e.backend.kind} backend failed: ${String(e.records.error)}`);
    };
    tell((message) => e.bus.emit({ type: 'warning', message }));
    if (flags.diskFull && state === 'succeeded') state = 'failed'; // a full disk met in the last writes
    e.bus.emit({ type: 'run-ended', state, durationMs: Math.round(performance.now() - this.startedAtMs) });
    const endedAt = new Date().toISOString();
    let runStored = false;
    e.records.write(() => e.backend.updateRun(this.runId, { state, endedAt }).then(() => void (runStored = true)));
    await e.records.settled();
    await this.upkeep.dropLease();
    // (the backend failed only now: told to the listeners, not to the event log it failed to write)
    tell((message) => e.bus.transient({ type: 'warning', message }));
    const outcome: RunOutcome = {
      runId: this.runId,
      runDir: this.runDir,
      state,
      exitCode: exitCodeOf(state),
      streams: streams.map((rt) => ({ ...rt.rec })),
      points: points.map((p) => ({ ...p.rec })),
      ...(flags.diskFull ? { diskFull: { message: flags.diskFull, stored: !e.records.hasFailed, runStored } } : {}),
    };
    this.resolveRun?.(outcome);
  }
}
