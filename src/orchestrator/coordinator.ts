/**
 * StreamCoordinator: registers streams and convergence points, runs them as a DAG with a
 * concurrency limit and resource pools, supervises each stream's process group, and merges
 * outputs at convergence points. Everything it does is an event (src/events/types.ts);
 * reporters subscribe with `on()`; the backend stores records and the event log.
 *
 * A stream's states, and the moves between them, are drawn and enforced in stream-state.ts.
 */
import { StateStore } from '../state/store.js';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import type { Plan, PointSpec, StreamSpec } from '../plan/types.js';
import type { Backend, PointRecord, RunRecord, StreamRecord } from '../backend/types.js';
import { FileBackend } from '../backend/file/file-backend.js';
import {
  LIVE_STREAM_STATES,
  TERMINAL_STREAM_STATES,
  type CoordEvent,
  type EventInput,
  type FailureReason,
  type RunState,
  type StreamState,
} from '../events/types.js';
import { nodeSpawner, type ExitInfo, type Spawner, type StreamProcess } from '../supervise/spawner.js';
import { LauncherSpawner, launcherAvailable } from '../supervise/launcher-client.js';
import { processStartTime } from '../util/proc.js';
import { DiskFullError, diskFullAt, isDiskFull, reserveSpaceSync } from '../util/disk-full.js';
import { heartbeatSays, LivenessMonitor } from '../supervise/liveness.js';
import { BeatWriter } from '../backend/beat-writer.js';
import { planWarnings } from '../plan/warnings.js';
import { Worktrees } from './worktrees.js';
import { ReadyQueue } from './ready-queue.js';
import { dependencyVerdict, type DependencyView } from './dependencies.js';
import { listenControl, type ControlConnection, type ControlReply, type ControlRequest, type SpawnRequestMessage } from './control.js';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { CAPABILITY_PREFIX, STREAM_ID_PATTERN } from '../plan/types.js';
import { idProblem } from '../plan/schema.js';
import { adoptProcess, exitFileOf, leftoverAlive, stopLeftover } from './resume.js';
import { reconcileStreams } from '../status/reconcile.js';
import { GuardianCommands } from './guardian-commands.js';
import { lastCheckpoint, restoreCheckpoint } from './checkpoints.js';
import { prepareWorkspaceRoot, createWorkspace } from '../workspace/root.js';
import { ensurePrivateDir } from '../util/private-dir.js';
import type { MergeSource } from '../workspace/merge.js';
import { baseKey, loadBaseTree, snapshotBase, type BaseTree } from '../workspace/basetree.js';
import { loadSeed, saveSeed, seedFileOf, seedWorkspace } from '../workspace/seed.js';
import { detectChanges } from '../workspace/changes.js';
import { PointRunner } from './convergence.js';
import type { Resolution } from '../workspace/conflicts.js';
import { changedSince } from '../workspace/basetree.js';
import { decideRerun, pointFingerprint, streamFingerprint, type RerunDecision } from './rerun.js';
import { renameSync } from 'node:fs';
import { coordBinDir, linkInputs, removeSucceededWorkspaces, streamEnv, streamPaths, type StreamPaths } from './environment.js';
import { newRunId } from './ids.js';
import { unreachable } from '../util/result.js';
import { ResourcePools, type Hold } from './resources.js';
import { Negotiator, type AcquireRt } from './negotiation.js';
import { ConsensusBoard } from '../consensus/board.js';
import { VoteGroups, type VoteGroup } from './vote-groups.js';
import type { ApprovalVerdict } from './convergence.js';
import type { PoolRecord } from '../backend/types.js';
import { LaunchAborted, WorkerLost } from '../distribute/errors.js';
import { exitCodeOf, runEndState } from './exit-policy.js';
import { attemptOf, IllegalTransition, isQueued, isTerminal, move, newAttempt, queuedOf, type Attempt, type EndState, type Phase, type PhaseKind, type StreamPhase } from './stream-state.js';
import type { Dispatcher, RemoteRequest } from '../distribute/dispatcher.js';

/** Streams started at once unless `--concurrency` says otherwise (Turborepo's default too). */
export const DEFAULT_CONCURRENCY = 10;
/** Retry backoff: base * 2^(attempt-1), capped. */
export const RETRY_BACKOFF_BASE_MS = 1000;
export const RETRY_BACKOFF_CAP_MS = 30_000;
/** How long stream-record writes are coalesced. */
const RECORD_FLUSH_MS = 50;
/**
 * How long pool-record writes are coalesced: a record lists every waiter, hundreds when many
 * streams queue for a small pool, so it is written less often than stream records.
 */
const POOLS_FLUSH_MS = 250;

export interface CoordinatorOptions {
  plan: Plan;
  /** The `.coord` directory (COORD_HOME); runs live in `<home>/runs/<id>`. */
  home: string;
  backend?: Backend;
  concurrency?: number;
  /** How stream processes are created (default: a launcher process, see src/supervise/launcher.ts). */
  spawner?: Spawner;
  /** Whether listeners get `stream-output` events with each line (default true; `--quiet` turns it off). */
  outputLines?: boolean;
  runId?: string;
  /** `--rm`: remove the workspaces of succeeded streams once the run has merged them. */
  removeWorkspaces?: boolean;
  /** `--keep-workspaces`: keep git worktrees after the run (they are removed by default). */
  keepWorkspaces?: boolean;
  /** The environment streams inherit (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /**
   * Continue the run `runId` whose coordinator died: succeeded streams and published points
   * are kept; streams it left running are stopped and run again, or with `adopt` watched to
   * their end; the rest run.
   */
  resume?: { adopt: boolean; resolutions?: ReadonlyMap<string, Resolution> };
  /**
   * `--workers`: streams run on `coord worker` hosts through this Redis server (streams that
   * need this host's file system still run here: see runsRemote).
   */
  workers?: { url: string; leaseMs?: number };
  /**
   * On a backend that expires keys (Redis): how long the run's lease lasts unless renewed
   * (every third of it), default 10 s. Other hosts judge the coordinator dead once it lapses.
   */
  runLeaseMs?: number;
}

export interface RunOutcome {
  runId: string;
  runDir: string;
  state: RunState;
  /** 0 all succeeded, 1 a stream or point failed, 130 interrupted or cancelled (SPEC §1). */
  exitCode: number;
  streams: StreamRecord[];
  points: PointRecord[];
  /**
   * The run met a full disk (`message`: `disk full: <path>`, the first file it could not
   * write) and failed; `stored`: whether its final state (what was printed) is stored all
   * the same, written from the space the run set aside at its start (see reserveSpace);
   * `runStored`: whether at least the run record (its state and end) is.
   */
  diskFull?: { message: string; stored: boolean; runStored: boolean };
}

/** A stream of the run: what stays across its attempts; what depends on its state is in `phase`. */
interface StreamRt {
  spec: StreamSpec;
  paths: StreamPaths;
  rec: StreamRecord;
  /** Where the stream is in its state machine, with that state's data (see stream-state.ts). */
  phase: StreamPhase;
  /** Its workspace exists (prepared by the first attempt). */
  prepared: boolean;
  /** When its last attempt was spawned (performance.now()). */
  startedMs: number;
  /** Restarts the guardian has made after stalls (and relaunches after lost workers). */
  restarts: number;
  /** A checkpoint to seed the workspace from before the next attempt (`resume_from`). */
  resumeSeed?: string | undefined;
  /** When the last heartbeat was saved to the record (throttles writes). */
  beatSavedMs: number;
}

/** Streams and `coord resource acquire` requests wait in one queue (see ready-queue.ts). */
type Waiter = StreamRt | AcquireRt;
const isStream = (w: Waiter): w is StreamRt => 'spec' in w;

type Listener = (e: CoordEvent) => void;

export class StreamCoordinator {
  readonly runId: string;
  readonly runDir: string;
  readonly plan: Plan;
  /** `opts.home`, absolute. */
  private readonly home: string;
  private readonly backend: Backend;
  private readonly spawner: Spawner;
  private readonly concurrency: number;
  private readonly opts: CoordinatorOptions;
  private readonly streams = new Map<string, StreamRt>();
  private readonly points = new Map<string, PointRunner>();
  private readonly pointsOfStream = new Map<string, PointRunner[]>();
  private readonly listeners: Listener[] = [];
  private readonly pools: ResourcePools;
  /** The run's shared state: snapshotted every checkpoint_interval and at the end, restored at --resume. */
  private stateStore: StateStore | undefined;
  private stateTimer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  /** Runtime resource requests and the grants of plan streams' demands, on `pools`. */
  private readonly negotiator: Negotiator;
  /** Proposals, votes and decisions (coord propose/vote/decision, `approve:`, `gather: vote`). */
  private readonly board: ConsensusBoard;
  private readonly voteGroups: VoteGroups;
  private poolsTimer: NodeJS.Timeout | undefined;
  private readonly workspaceDir: string;
  private readonly liveness: LivenessMonitor;
  private readonly worktrees: Worktrees;
  /** `gather: first` groups by member id, whether one member has already succeeded, and which. */
  private readonly firstGroups = new Map<string, { id: string; members: string[]; won: boolean; winner?: string }>();
  /** The run's snapshot of each `base:` directory, taken when a stream first needs it. */
  private readonly baseTrees = new Map<string, Promise<BaseTree>>();
  private readonly guardianCommands: GuardianCommands;
  private control: Server | undefined;
  private controlPath = '';
  /** `coord spawn --wait` callers, told when their stream ends. */
  private readonly spawnWaiters = new Map<string, Array<(r: ControlReply) => void>>();
  /** Control connections open now (closed when the run ends). */
  private readonly connections = new Set<ControlConnection>();
  private readonly baseEnv: NodeJS.ProcessEnv;
  private persist: Promise<void> = Promise.resolve();
  private readonly dirty = new Set<StreamRt>();
  private flushTimer: NodeJS.Timeout | undefined;
  private persistError: unknown;
  /** The first full disk the run met (`disk full: <path>`): in a record write or a stream's log. */
  private diskFull: string | undefined;
  /** Space set aside in the run directory for the run's last records (see reserveSpace). */
  private reserveFile: string | undefined;
  private running = 0;
  /** Streams whose dependencies are not met yet. */
  private readonly pending = new Set<StreamRt>();
  /** Streams ready to start, in readiness order. */
  private readonly dependencyView: DependencyView = {
    streamState: (id) => this.streams.get(id)?.rec.state,
    pointState: (id) => this.points.get(id)?.rec.state,
    firstGroupOf: (id) => this.firstGroups.get(id),
    voteGroupOf: (id) => this.voteGroups.of(id),
  };
  private readonly ready = new ReadyQueue<Waiter>({
    resources: (w) => (isStream(w) ? w.spec.resources : w.units),
    notBefore: (w) => (isStream(w) ? (queuedOf(w)?.notBefore ?? 0) : 0),
    waiting: (w) => (isStream(w) ? isQueued(w) : !w.done),
    priority: (w) => (isStream(w) ? w.spec.priority : w.priority),
    slotless: (w) => !isStream(w),
  });
  /** Streams in a terminal state (the run ends when all are). */
  private ended = 0;
  private stopping: 'interrupted' | 'cancelled' | undefined;
  private forced = false;
  private started = false;
  private finished = false;
  private startedAtMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private binDir = '';
  private resolveRun: ((o: RunOutcome) => void) | undefined;
  /** `--workers`: the remote spawner (loaded with BullMQ when the run starts). */
  private dispatcher: Dispatcher | undefined;

  constructor(opts: CoordinatorOptions) {
    this.opts = opts;
    this.plan = opts.plan;
    this.runId = opts.runId ?? newRunId();
    // resolved once, here: streams get paths under it and may cd anywhere, and a later chdir of this process must not move the run
    this.home = resolve(opts.home);
    this.runDir = join(this.home, 'runs', this.runId);
    this.backend = opts.backend ?? new FileBackend(this.home);
    this.spawner = opts.spawner ?? (launcherAvailable() ? new LauncherSpawner(undefined, join(this.runDir, 'launcher.log')) : nodeSpawner);
    this.concurrency = Math.max(1, opts.concurrency ?? DEFAULT_CONCURRENCY);
    this.pools = new ResourcePools(opts.plan.resources);
    this.negotiator = new Negotiator(this.pools, {
      emit: (e) => this.emit(e),
      enqueue: (req) => {
        this.ready.push(req);
        this.poolsChanged();
        this.startReady();
      },
      dequeue: (req) => this.ready.remove(req),
      moved: () => {
        this.poolsChanged();
        this.schedule();
      },
      priorityOf: (id) => this.streams.get(id)?.spec.priority,
      accepting: () => !this.stopping && !this.finished,
    });
    this.board = new ConsensusBoard({
      emit: (e) => this.emit(e),
      save: (rec) => this.backendWrite(() => this.backend.putProposal(this.runId, rec)),
      running: () => [...this.streams.values()].filter((rt) => attemptOf(rt) !== undefined).map((rt) => rt.spec.id),
    });
    this.voteGroups = new VoteGroups(Object.values(opts.plan.groups ?? {}), {
      board: this.board,
      sourceOf: (id) => this.workspaceOf(id),
      decided: (g) => this.voteDecided(g),
      warn: (stream, message) => this.emit({ type: 'warning', stream, message }),
    });
    this.workspaceDir = resolve(opts.plan.workspaceRoot, this.runId);
    this.worktrees = new Worktrees(this.runId, this.workspaceDir);
    this.guardianCommands = new GuardianCommands(this.spawner, (e) => this.emit(e));
    // process.env is an exotic object, slow to spread once per spawn: copy it once.
    this.baseEnv = { ...(opts.env ?? process.env) };
    this.liveness = new LivenessMonitor({
      timeoutMs: opts.plan.heartbeat.timeoutMs,
      source: opts.plan.heartbeat.source,
      onStall: (id, silentMs) => this.stalled(id, silentMs),
      onWatchError: (e) => this.emit({ type: 'warning', message: `heartbeat file watching failed (${String(e)}); checking by polling only` }),
      onRevive: (id) => {
        const rt = this.streams.get(id);
        if (rt?.phase.kind === 'stalled' && !rt.phase.attempt.killReason) this.moveTo(rt, { kind: 'running', attempt: rt.phase.attempt });
      },
      onBeat: (id, at, file) => {
        const rt = this.streams.get(id);
        if (!rt) return;
        rt.rec.lastHeartbeat = at.toISOString();
        if (file) this.readHeartbeat(rt);
        attemptOf(rt)?.beats?.update(at, { progress: rt.rec.progress ?? null, message: rt.rec.message ?? null });
        if (performance.now() - rt.beatSavedMs >= 1000) {
          rt.beatSavedMs = performance.now();
          this.save(rt);
          this.emitTransient({ type: 'stream-beat', stream: id, attempt: rt.rec.attempt, progress: rt.rec.progress ?? null, message: rt.rec.message ?? null });
        }
      },
    });
    for (const g of Object.values(opts.plan.groups ?? {})) {
      if (g.gather !== 'first') continue;
      const entry = { id: g.id, members: g.members, won: false };
      for (const m of g.members) this.firstGroups.set(m, entry);
    }
    for (const s of opts.plan.streams) this.register(s);
    for (const p of opts.plan.points) this.converge(p);
  }

  /** Adds a stream (before `run()`). Validation of the whole plan is the plan loader's job. */
  register(spec: StreamSpec): void {
    if (this.started) throw new Error('register() after run() started');
    this.track(spec);
  }

  /** Adds a stream's runtime record (before the run, or by `coord spawn` during it). */
  private track(spec: StreamSpec): void {
    if (this.streams.has(spec.id)) throw new Error(`duplicate stream id "${spec.id}"`);
    const paths = streamPaths(spec, this.runDir, this.workspaceDir);
    this.streams.set(spec.id, {
      spec,
      paths,
      rec: {
        id: spec.id,
        state: 'pending',
        attempt: 0,
        pid: null,
        pgid: null,
        procStartTime: null,
        exitCode: null,
        signal: null,
        reason: null,
        workspace: paths.workspace,
        ...(spec.outputs.length > 0 ? { outputs: [...spec.outputs] } : {}),
        capabilities: [...spec.capabilities],
        dependsOn: [...spec.dependsOn],
        resources: { ...spec.resources },
        startedAt: null,
        endedAt: null,
        lastHeartbeat: null,
      },
      phase: { kind: 'pending' },
      prepared: false,
      startedMs: 0,
      restarts: 0,
      beatSavedMs: 0,
    });
    const rt = this.streams.get(spec.id);
    if (rt) this.pending.add(rt);
  }

  /** Adds a convergence point over registered streams (before `run()`). */
  converge(spec: PointSpec): void {
    if (this.started) throw new Error('converge() after run() started');
    const onWorktrees = spec.streams.length > 0 && spec.streams.every((id) => this.streams.get(id)?.spec.isolation === 'worktree');
    // the published tree is the streams' base plus their changes (plan validation refuses two bases in one point)
    const bases = [...new Set(spec.streams.map((id) => this.streams.get(id)?.spec).filter((s) => s?.base && s.isolation !== 'worktree').map((s) => s?.base ?? ''))];
    const base = bases.length === 1 ? bases[0] : undefined;
    const runner = new PointRunner(spec, this.runDir, this.pointHost(), {
      checkpointIntervalMs: this.plan.stateManagement.checkpointIntervalMs,
      finalMerge: onWorktrees ? (target, ids) => this.worktrees.merge(spec, target, ids) : undefined,
      baseTree: base !== undefined ? () => this.baseTreeOf(base) : undefined,
      approve: spec.approve ? (review) => this.approval(spec, review) : undefined,
      runId: this.runId,
      fingerprint: pointFingerprint(spec, (id) => this.streams.get(id)?.spec.outputs ?? []),
    });
    this.points.set(spec.name, runner);
    for (const id of spec.streams) {
      const list = this.pointsOfStream.get(id) ?? [];
      list.push(runner);
      this.pointsOfStream.set(id, list);
    }
  }

  /** Subscribes to every event of the run (reporters, tests). */
  on(listener: Listener): void {
    this.listeners.push(listener);
  }

  /**
   * Stops the run: pending streams are cancelled, running ones get SIGTERM to their process
   * group and SIGKILL after the guardian's grace (at once when `force`). A second call with
   * `force` escalates.
   */
  stop(kind: 'interrupted' | 'cancelled', force = false): void {
    if (this.finished) return;
    const first = this.stopping === undefined;
    this.stopping ??= kind;
    if (force) this.forced = true;
    if (!first && !force) return;
    for (const rt of this.streams.values()) {
      const attempt = attemptOf(rt);
      if (attempt) {
        this.signal(rt, this.forced ? 'SIGKILL' : 'SIGTERM', 'stop');
        if (!this.forced) this.escalateAfterGrace(rt, attempt.proc, 'stop');
      } else if (rt.phase.kind === 'launching') {
        // (a launching stream sees `stopping` itself once its workspace is ready)
        rt.phase.abort?.abort();
      } else if (!isTerminal(rt.phase.kind)) {
        this.end(rt, 'cancelled', 'cancelled');
      }
    }
    this.maybeFinish();
  }

  /** Runs the plan to its end. Resolves with the outcome; never rejects for a stream's failure. */
  async run(): Promise<RunOutcome> {
    if (this.started) throw new Error('run() called twice');
    this.started = true;
    this.startedAtMs = performance.now();
    // the run's records, logs and shared state go there: another user must not be able to change them
    ensurePrivateDir(resolve(this.opts.home), 'coord home');
    await prepareWorkspaceRoot(this.plan.workspaceRoot);
    await this.worktrees.check(this.plan);
    const run: RunRecord = {
      id: this.runId,
      plan: this.plan.file,
      name: this.plan.name,
      state: 'running',
      startedAt: new Date().toISOString(),
      endedAt: null,
      coordinator: { pid: process.pid, startTime: processStartTime(process.pid), host: hostname() },
      workspaceDir: this.workspaceDir,
      concurrency: this.concurrency,
      pools: { ...this.plan.resources },
      sharedState: { type: this.plan.stateManagement.manager, keepVersions: this.plan.stateManagement.keepVersions, durable: this.plan.stateManagement.durable },
    };
    const before = this.opts.resume ? await this.backend.getRun(this.runId) : undefined;
    if (this.opts.resume) await this.backend.updateRun(this.runId, { ...run, startedAt: before?.startedAt ?? run.startedAt, cancelRequested: false });
    else await this.backend.createRun(run, this.plan.text);
    await this.holdLease();
    mkdirSync(join(this.runDir, 'streams'), { recursive: true, mode: 0o700 });
    await this.reserveSpace(before);
    mkdirSync(this.workspaceDir, { recursive: true, mode: 0o700 });
    if (this.opts.resume) this.board.load(await this.backend.listProposals(this.runId));
    this.prepareProposals();
    this.binDir = coordBinDir(this.runDir);
    if (this.opts.workers) {
      const { Dispatcher } = await import('../distribute/dispatcher.js');
      this.dispatcher = new Dispatcher({
        url: this.opts.workers.url,
        runId: this.runId,
        ...(this.opts.workers.leaseMs ? { leaseMs: this.opts.workers.leaseMs } : {}),
        warn: (message, stream) => this.emit({ type: 'warning', ...(stream ? { stream } : {}), message }),
        env: this.baseEnv,
        controlPath: () => this.controlPath,
        ...(this.opts.resume ? { resume: true } : {}),
      });
      await this.dispatcher.start();
    }
    await this.openControl();
    const done = new Promise<RunOutcome>((resolve) => (this.resolveRun = resolve));
    this.emit({
      type: 'run-started',
      plan: this.plan.file,
      name: this.plan.name,
      pid: process.pid,
      concurrency: this.concurrency,
      ...(this.opts.resume ? { resumed: true } : {}),
    });
    this.stateStore = new StateStore(this.backend, this.runId, { ...run.sharedState, onEvent: (e) => this.emit(e) });
    if (this.opts.resume) await this.snapshotOr(() => this.stateStore!.restoreFromSnapshot());
    this.stateTimer = setInterval(() => void this.snapshotOr(() => this.stateStore!.snapshot()), this.plan.stateManagement.checkpointIntervalMs);
    this.stateTimer.unref();
    if (before && before.plan !== this.plan.file) this.emit({ type: 'warning', message: `run ${this.runId} was started with the plan ${before.plan}; resumed with ${this.plan.file} (what changed runs again)` });
    const restored = this.opts.resume ? await this.restore(this.opts.resume.adopt) : undefined;
    this.dispatcher?.readWire(); // a resumed run's: after its remote attempts were adopted
    for (const rt of this.streams.values()) {
      this.save(rt);
      if (restored?.has(rt.spec.id)) continue;
      this.emit({
        type: 'stream-registered',
        stream: rt.spec.id,
        attempt: 0,
        capabilities: rt.spec.capabilities,
        dependsOn: rt.spec.dependsOn,
        workspace: rt.paths.workspace,
      });
    }
    for (const p of this.points.values()) this.backendWrite(() => this.backend.putPoint(this.runId, { ...p.rec }));
    for (const w of planWarnings(this.plan)) this.emit({ type: 'warning', message: `${w.line}:${w.col}: ${w.message.replace(/^warning: /, '')}` });
    if (this.stopping) this.stop(this.stopping);
    this.schedule();
    this.maybeFinish();
    return done;
  }

  // ── resume ────────────────────────────────────────────────────────────────────────────

  /** A running attempt of the dead coordinator, watched to its end as if this one had started it. */
  private adoptRunning(rt: StreamRt, rec: StreamRecord, proc: StreamProcess): void {
    Object.assign(rt.rec, rec);
    rt.prepared = true;
    this.pending.delete(rt);
    rt.startedMs = performance.now();
    this.running++;
    // an adopted stream still holds its plan demand
    const hold = Object.keys(rt.spec.resources).length > 0 ? this.negotiator.grantStream(rt.spec.id, rt.spec.resources, Date.now()) : undefined;
    const attempt = this.moveTo(rt, { kind: 'running', attempt: newAttempt(proc, hold) }).attempt;
    this.liveness.watch(rt.spec.id, rt.paths.heartbeatFile);
    this.keepBeat(attempt, rt.spec.id, rt.rec);
    void proc.exited.then((info) => this.exited(rt, proc, info));
  }

  /** The attempt's heartbeat key goes; a remote attempt's worker deletes its own, unless the worker was lost. */
  private endBeat(rt: StreamRt, attempt: Attempt, lost: boolean): void {
    const { beats, proc } = attempt;
    attempt.beats = undefined;
    if (beats) this.backendWrite(() => beats.finish());
    else if (lost && proc.worker !== undefined && this.backend.endBeat) {
      const { id } = rt.spec;
      const attempt = rt.rec.attempt;
      this.backendWrite(() => this.backend.endBeat!(this.runId, id, attempt).catch(() => undefined));
    }
  }

  /** On a backend that expires keys, a local attempt's heartbeat key (a worker keeps a remote one's). */
  private keepBeat(attempt: Attempt, id: string, rec: StreamRecord): void {
    const b = this.backend;
    if (!b.putBeat || !b.endBeat || attempt.proc.worker !== undefined) return;
    const ttl = this.plan.heartbeat.timeoutMs;
    attempt.beats = new BeatWriter(
      { put: (beat) => b.putBeat!(this.runId, id, beat, ttl), end: (n) => b.endBeat!(this.runId, id, n) },
      { attempt: rec.attempt, startedAt: rec.startedAt ?? new Date().toISOString(), time: null, progress: null, message: null, host: hostname(), worker: null },
    );
  }

  /**
   * `--resume` with this plan: what runs and merges again although it had succeeded (see
   * rerun.ts). A base whose directory changed since the run's snapshot of it is taken again,
   * and every stream seeded from it starts over in a fresh workspace.
   */
  private async rerunDecision(records: ReadonlyMap<string, StreamRecord>, pointRecs: ReadonlyMap<string, PointRecord>): Promise<RerunDecision> {
    const baseChanges = new Map<string, string[]>();
    for (const base of new Set(this.plan.streams.filter((s) => s.base && s.isolation !== 'worktree').map((s) => s.base ?? ''))) {
      const dir = join(this.runDir, 'bases', baseKey(base));
      const tree = loadBaseTree(dir);
      if (!tree) continue;
      const changed = await changedSince(tree, { exclude: [this.home, this.plan.workspaceRoot, this.runDir] });
      baseChanges.set(base, changed);
      if (changed.length > 0) renameSync(dir, `${dir}.replaced-${Date.now()}`);
    }
    const decision = decideRerun({
      streams: this.plan.streams,
      points: this.plan.points,
      groups: this.plan.groups ?? {},
      records,
      pointRecords: pointRecs,
      outputsOf: (id) => this.streams.get(id)?.spec.outputs ?? [],
      baseChanges,
    });
    // a stream runs on a base taken again: it starts over in a fresh workspace
    for (const rt of this.streams.values()) {
      const moved = rt.spec.base !== undefined && (baseChanges.get(rt.spec.base)?.length ?? 0) > 0;
      if ((moved || decision.streams.has(rt.spec.id)) && !rt.paths.explicitWorkspace && rt.spec.isolation !== 'worktree' && rt.paths.workspace !== rt.paths.shared) {
        rmSync(rt.paths.workspace, { recursive: true, force: true });
        rmSync(this.seedFile(rt.paths.workspace), { force: true });
      }
    }
    return decision;
  }

  /** Takes over the dead coordinator's records; returns the ids of streams kept or adopted. */
  private async restore(adopt: boolean): Promise<Set<string>> {
    const { events } = await this.backend.readEvents(this.runId);
    const records = new Map(reconcileStreams(await this.backend.listStreams(this.runId), events).map((r) => [r.id, r]));
    const pointRecs = new Map((await this.backend.listPoints(this.runId)).map((r) => [r.name, r]));
    const again = await this.rerunDecision(records, pointRecs);
    for (const id of records.keys()) {
      if (!this.streams.has(id)) this.emit({ type: 'warning', message: `stream "${id}" of run ${this.runId} is not in this plan: it is left as it was` });
    }
    const kept: string[] = [];
    const adopted: string[] = [];
    const stopped: string[] = [];
    for (const rt of this.streams.values()) {
      const rec = records.get(rt.spec.id);
      if (!rec) continue;
      rt.rec.attempt = rec.attempt;
      if (rec.state === 'succeeded' && !again.streams.has(rt.spec.id)) {
        Object.assign(rt.rec, rec);
        this.moveTo(rt, { kind: 'succeeded' });
        rt.prepared = true;
        this.pending.delete(rt);
        this.ended++;
        kept.push(rt.spec.id);
      } else if (rec.worker && LIVE_STREAM_STATES.has(rec.state)) {
        // an attempt on a worker: adopted or stopped through the workers' server
        const req = this.remoteRequest(rt, rec.attempt, this.launchRequest(rt, rec.attempt), new AbortController().signal);
        if (!this.dispatcher) {
          this.emit({ type: 'warning', stream: rt.spec.id, message: `attempt ${rec.attempt} ran on worker ${rec.worker}; without --workers it is neither adopted nor stopped from here (its worker stops it once this run's coordinator lease has run out)` });
          continue;
        }
        const proc = adopt ? await this.dispatcher.adopt(req, rec.worker) : undefined;
        if (proc) {
          this.adoptRunning(rt, rec, proc);
          adopted.push(rt.spec.id);
        } else if (!adopt && (await this.dispatcher.stopRemote(req, rec.worker, this.plan.guardian.graceMs))) {
          stopped.push(rt.spec.id);
        }
      } else if (leftoverAlive(rec) && adopt) {
        this.adoptRunning(rt, rec, adoptProcess(rec, exitFileOf(rt.paths.logDir, rec.attempt)));
        adopted.push(rt.spec.id);
      } else if (leftoverAlive(rec)) {
        await stopLeftover(rec, this.plan.guardian.graceMs);
        stopped.push(rt.spec.id);
      }
    }
    const restoredPoints: string[] = [];
    for (const p of this.points.values()) {
      const rec = pointRecs.get(p.spec.name);
      if (!rec) continue;
      // replicas of a `gather: vote` group reach their points through the group's decision
      const succeeded = p.spec.streams.filter((id) => kept.includes(id) && !this.voteGroups.of(id));
      const resolution = rec.state === 'failed' && rec.reason === 'conflict' ? this.opts.resume?.resolutions?.get(p.spec.name) : undefined;
      p.restore(again.points.has(p.spec.name) ? { ...rec, state: 'pending' } : rec, succeeded, resolution, again.points.has(p.spec.name));
      if (rec.state === 'done' && !again.points.has(p.spec.name)) restoredPoints.push(p.spec.name);
    }
    for (const id of adopted) for (const p of this.pointsOfStream.get(id) ?? []) p.streamStarted();
    this.emit({
      type: 'run-resumed',
      kept,
      adopted,
      stopped,
      points: restoredPoints,
      rerun: [...again.streams].map(([stream, reason]) => ({ stream, reason })),
      remerged: [...again.points].map(([point, reason]) => ({ point, reason })),
      ...(this.opts.resume?.resolutions ? { resolved: [...this.opts.resume.resolutions.keys()] } : {}),
    });
    for (const id of kept) this.voteGroups.memberEnded(id, true);
    return new Set([...kept, ...adopted]);
  }

  // ── dynamic registration (coord spawn) ────────────────────────────────────────────────

  /** Listens for `coord spawn` on `<run dir>/control.sock` (or a short path in tmp when that is too long for a socket). */
  private async openControl(): Promise<void> {
    const inRun = join(this.runDir, 'control.sock');
    this.controlPath = Buffer.byteLength(inRun) < 100 ? inRun : join(tmpdir(), `coord-${this.runId}.sock`);
    this.control = await listenControl(this.controlPath, (msg, conn) => this.controlRequest(msg, conn));
    this.backendWrite(() => this.backend.updateRun(this.runId, { controlSocket: this.controlPath }).then(() => undefined));
  }

  /** One request on the control socket (see control.ts). */
  private controlRequest(msg: ControlRequest, conn: ControlConnection): void {
    if (!this.connections.has(conn)) {
      this.connections.add(conn);
      conn.onClose(() => this.connections.delete(conn));
    }
    const proposal = (r: ReturnType<ConsensusBoard['propose']>): void =>
      conn.reply(r.ok ? { ok: true, event: 'proposal', proposal: r.value } : { ok: false, error: r.error.error, code: r.error.code });
    switch (msg.op) {
      case 'spawn':
        return this.spawnRequest(msg, (r) => conn.reply(r));
      case 'acquire':
        return this.negotiator.request(msg, conn);
      case 'release':
        return this.negotiator.release(conn);
      case 'propose':
        if (this.stopping || this.finished) return conn.reply({ ok: false, error: 'the run is stopping', code: 1 });
        return proposal(this.board.propose(msg));
      case 'vote': {
        const r = this.board.vote(msg.name, msg.voter, msg.vote, msg.reason);
        return conn.reply(r.ok ? { ok: true, event: 'proposal', proposal: r.value.proposal, counted: r.value.counted } : { ok: false, error: r.error.error, code: r.error.code });
      }
      case 'decision':
        return this.board.waitDecision(msg.name, msg.waitMs, (p) =>
          conn.reply(p ? { ok: true, event: 'proposal', proposal: p } : { ok: false, error: `no proposal "${msg.name}" in run ${this.runId}${msg.waitMs > 0 ? ' was opened in time' : ''}`, code: msg.waitMs > 0 ? 75 : 2 }),
        );
      default:
        return unreachable(msg);
    }
  }

  private closeControl(): void {
    this.control?.close();
    this.control = undefined;
    rmSync(this.controlPath, { force: true });
    for (const [id, waiters] of this.spawnWaiters) for (const w of waiters) w({ ok: false, error: `the run ended before "${id}" did` });
    this.spawnWaiters.clear();
    for (const conn of this.connections) conn.end();
    this.connections.clear();
  }

  /**
   * A stream added while the run runs, validated like a plan stream: a unique safe id, known
   * dependencies (`capability:NAME` included), no cycle — with `--wait`, the new stream must
   * not wait for the stream that waits for it.
   */
  private spawnRequest(msg: SpawnRequestMessage, reply: (r: ControlReply) => void): void {
    const fail = (error: string) => reply({ ok: false, error });
    if (this.stopping || this.finished) return fail('the run is stopping');
    if (!STREAM_ID_PATTERN.test(msg.id)) return fail(`bad stream id "${msg.id}": ${idProblem(msg.id) ?? 'not an id'}`);
    if (this.streams.has(msg.id) || this.points.has(msg.id)) return fail(`"${msg.id}" is already the id of a stream or convergence point in this run`);
    const deps: string[] = [];
    for (const d of msg.dependsOn) {
      if (d === msg.id) return fail(`stream "${msg.id}" cannot depend on itself`);
      if (d.startsWith(CAPABILITY_PREFIX)) {
        const cap = d.slice(CAPABILITY_PREFIX.length);
        const offering = [...this.streams.values()].filter((rt) => rt.spec.capabilities.includes(cap)).map((rt) => rt.spec.id);
        if (offering.length === 0) return fail(`no stream offers capability "${cap}"`);
        deps.push(...offering);
      } else if (this.streams.has(d) || this.points.has(d)) deps.push(d);
      else return fail(`unknown dependency "${d}": no stream or convergence point has that name`);
    }
    if (msg.wait && msg.from && this.reaches(deps, msg.from)) {
      return fail(`dependency cycle: ${msg.from} waits for ${msg.id}, which depends on ${msg.from}`);
    }
    const isolation = this.plan.coordination.isolation.workspace === 'worktree' ? 'isolated' : this.plan.coordination.isolation.workspace;
    this.addStream({ id: msg.id, command: msg.command, dependsOn: [...new Set(deps)], capabilities: msg.capabilities, resources: {}, outputs: [], isolation, retries: 0, env: {}, priority: 0 });
    reply({ ok: true, id: msg.id, event: 'registered' });
    if (msg.wait) this.spawnWaiters.set(msg.id, [...(this.spawnWaiters.get(msg.id) ?? []), reply]);
    this.schedule();
  }

  /** True when following dependencies from `from` reaches `target` (streams, and points' streams). */
  private reaches(from: string[], target: string): boolean {
    const seen = new Set<string>();
    const todo = [...from];
    while (todo.length > 0) {
      const id = todo.pop() ?? '';
      if (id === target) return true;
      if (seen.has(id)) continue;
      seen.add(id);
      const rt = this.streams.get(id);
      if (rt) todo.push(...rt.spec.dependsOn);
      const p = this.points.get(id);
      if (p) todo.push(...p.spec.streams);
    }
    return false;
  }

  /** Registers a stream while the run runs (a plan's streams are registered before it starts). */
  private addStream(spec: StreamSpec): void {
    this.track(spec);
    const rt = this.streams.get(spec.id);
    if (!rt) return;
    this.save(rt);
    this.emit({ type: 'stream-registered', stream: spec.id, attempt: 0, capabilities: spec.capabilities, dependsOn: spec.dependsOn, workspace: rt.paths.workspace });
  }

  // ── scheduling ────────────────────────────────────────────────────────────────────────

  /** Moves streams along: skips those whose dependencies failed, starts ready ones. */
  private schedule(): void {
    if (this.stopping || this.finished) return;
    let changed = true;
    while (changed && this.pending.size > 0) {
      changed = false;
      for (const rt of this.pending) {
        const verdict = dependencyVerdict(rt.spec.dependsOn, this.dependencyView);
        if (verdict.kind === 'failed') {
          this.pending.delete(rt);
          this.emit({ type: 'stream-skipped', stream: rt.spec.id, attempt: rt.rec.attempt, reason: 'dependency-failed', because: verdict.because });
          this.end(rt, 'skipped', 'dependency-failed');
          changed = true;
        } else if (verdict.kind === 'ready') {
          this.pending.delete(rt);
          this.makeReady(rt, 'waiting');
        }
      }
    }
    this.startReady();
  }

  /** Queues a stream to start; waiting streams start in the order they became ready. */
  private makeReady(rt: StreamRt, state: 'waiting' | 'recovering', notBefore = 0): void {
    this.moveTo(rt, { kind: state, readyAt: Date.now(), notBefore });
    this.ready.push(rt);
    if (Object.keys(rt.spec.resources).length > 0) this.poolsChanged();
  }

  /** Starts queued streams while slots are free (see ReadyQueue for the order and fairness). */
  private startReady(): void {
    const wakeAt = this.ready.scan(
      Date.now(),
      () => this.running < this.concurrency,
      (w) => {
        if (!isStream(w)) return this.negotiator.grant(w);
        let hold: Hold | undefined;
        if (Object.keys(w.spec.resources).length > 0) {
          hold = this.negotiator.grantStream(w.spec.id, w.spec.resources, queuedOf(w)?.readyAt ?? Date.now());
          if (!hold) return false;
          this.poolsChanged();
        }
        void this.start(w, hold);
        return true;
      },
    );
    // Streams in retry backoff: wake the scheduler when the first may start (a free slot
    // wakes it anyway when the scan stopped early for want of one).
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = wakeAt === undefined ? undefined : setTimeout(() => this.schedule(), Math.max(0, wakeAt - Date.now()));
  }

  // ── one attempt ───────────────────────────────────────────────────────────────────────

  private async start(rt: StreamRt, hold: Hold | undefined): Promise<void> {
    const queued = queuedOf(rt);
    if (!queued) throw new IllegalTransition(rt.spec.id, rt.phase.kind, 'launching');
    const launch = this.moveTo(rt, { kind: 'launching', shows: queued.kind, hold, abort: undefined, stopAs: undefined });
    this.running++;
    rt.rec.attempt += 1;
    const attempt = rt.rec.attempt;
    let prepareError: unknown;
    try {
      if (!rt.prepared) await this.prepare(rt);
      const seed = rt.resumeSeed;
      if (seed) {
        rt.resumeSeed = undefined;
        await restoreCheckpoint(rt.paths.workspace, seed);
        this.emit({ type: 'warning', stream: rt.spec.id, message: `attempt ${attempt} resumes from checkpoint ${seed}` });
      }
    } catch (e) {
      prepareError = e ?? new Error('workspace preparation failed');
    }
    if (prepareError !== undefined) {
      const e = prepareError;
      if (isDiskFull(e)) {
        // the workspace, its seed or the run's copy of a base found no space: say where
        const full = diskFullAt(e, (e as NodeJS.ErrnoException).path ?? rt.paths.workspace) as Error;
        this.diskFull ??= full.message;
        this.abortLaunch(rt, 'failed', 'disk-full', `workspace: ${full.message}`);
        return;
      }
      this.abortLaunch(rt, 'failed', 'spawn-error', `workspace: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    // stop requested while still launching: the launch is called off before a process exists
    const calledOff = launch.stopAs === 'point-failed' ? 'point-failed' : this.stopping ? 'cancelled' : launch.stopAs;
    if (calledOff) {
      this.abortLaunch(rt, 'cancelled', calledOff);
      return;
    }
    const { spec, paths } = rt;
    let proc: StreamProcess;
    const request = this.launchRequest(rt, attempt);
    try {
      if (this.dispatcher && this.runsRemote(rt)) {
        launch.abort = new AbortController();
        proc = await this.dispatcher.spawn(this.remoteRequest(rt, attempt, request, launch.abort.signal));
      } else {
        proc = await this.spawner.spawn(request);
      }
    } catch (e) {
      launch.abort = undefined;
      if (e instanceof LaunchAborted) {
        this.abortLaunch(rt, 'cancelled', launch.stopAs ?? 'cancelled');
      } else if (e instanceof WorkerLost) {
        this.relaunchLost(rt, e.message);
      } else {
        this.abortLaunch(rt, 'failed', 'spawn-error', `could not start: ${e instanceof Error ? e.message : String(e)}`);
      }
      return;
    }
    launch.abort = undefined;
    this.liveness.watch(spec.id, paths.heartbeatFile);
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
    const att = this.moveTo(rt, { kind: 'running', attempt: { ...newAttempt(proc, launch.hold), killReason: launch.stopAs } }).attempt;
    this.emit({ type: 'stream-started', stream: spec.id, attempt, pid: proc.pid, procStartTime: proc.procStartTime, command: spec.command, workspace: paths.workspace, ...(remote ?? {}) });
    for (const p of this.pointsOfStream.get(spec.id) ?? []) p.streamStarted();
    this.keepBeat(att, spec.id, rt.rec);
    if (spec.timeoutMs !== undefined) {
      const t = setTimeout(() => {
        if (attemptOf(rt) !== att) return;
        att.killReason = 'timeout';
        this.signal(rt, this.plan.guardian.soft, 'timeout');
        this.escalateAfterGrace(rt, proc, 'timeout');
      }, spec.timeoutMs);
      att.timers.push(t);
    }
    void proc.exited.then((info) => this.exited(rt, proc, info));
    // stop() came while the process was being started: it is stopped like the others.
    if (this.stopping) {
      this.signal(rt, this.forced ? 'SIGKILL' : 'SIGTERM', 'stop');
      if (!this.forced) this.escalateAfterGrace(rt, proc, 'stop');
    } else if (launch.stopAs) {
      // stopped while its process was being started
      this.signal(rt, launch.stopAs === 'point-timeout' ? 'SIGTERM' : this.plan.guardian.soft, launch.stopAs);
      this.escalateAfterGrace(rt, proc, launch.stopAs);
    }
  }

  /** What a process of the stream's attempt is started with (here or, with the remote part, on a worker). */
  private launchRequest(rt: StreamRt, attempt: number): Omit<RemoteRequest, 'remote' | 'abort'> {
    const { spec, paths } = rt;
    const wantLines = this.listeners.length > 0 && this.opts.outputLines !== false;
    return {
      command: spec.command,
      cwd: paths.workspace,
      env: this.envOf(rt, attempt),
      stdoutFile: join(paths.logDir, 'stdout'),
      stderrFile: join(paths.logDir, 'stderr'),
      exitFile: exitFileOf(paths.logDir, attempt),
      ...(wantLines ? { onLine: (fd: 'stdout' | 'stderr', line: string) => this.emitOutput(spec.id, attempt, fd, line) } : {}),
      onOutput: () => this.liveness.output(spec.id),
    };
  }

  /** A launch that ends before a process exists: the slot and units are given back. */
  private abortLaunch(rt: StreamRt, state: 'failed' | 'cancelled', reason: FailureReason, warning?: string): void {
    if (rt.phase.kind !== 'launching') throw new IllegalTransition(rt.spec.id, rt.phase.kind, state);
    this.running--;
    this.releaseUnits(rt.spec.id, rt.phase.hold);
    rt.phase.hold = undefined;
    if (warning) this.emit({ type: 'warning', stream: rt.spec.id, message: warning });
    this.end(rt, state, reason);
    this.afterChange();
  }

  /**
   * With `--workers`, a stream runs on a worker unless it needs this host's file system: the
   * shared directory (`shared`, `hybrid`), a git worktree, a `workspace:` the plan names, or
   * periodic copies of its running workspace (a `checkpoint` point, `resume_from: checkpoint`).
   */
  private runsRemote(rt: StreamRt): boolean {
    const { spec, paths } = rt;
    if (spec.isolation !== 'isolated' || paths.explicitWorkspace || spec.resumeFrom === 'checkpoint') return false;
    return !(this.pointsOfStream.get(spec.id) ?? []).some((p) => p.spec.type === 'checkpoint');
  }

  private remoteRequest(rt: StreamRt, attempt: number, local: Omit<RemoteRequest, 'remote' | 'abort'>, abort: AbortSignal): RemoteRequest {
    const { spec, paths } = rt;
    return {
      ...local,
      abort,
      remote: {
        stream: spec.id,
        attempt,
        workspace: paths.workspace,
        heartbeatFile: paths.heartbeatFile,
        inputs: this.inputLinks(spec),
        requires: spec.requires ?? [],
        resources: spec.resources,
        priority: spec.priority,
        planEnv: { ...spec.env },
        ...(this.plan.coordination.isolation.fileAccess ? { fileAccess: this.plan.coordination.isolation.fileAccess } : {}),
        workspaceRoot: this.plan.workspaceRoot,
        heartbeat: { timeoutMs: this.plan.heartbeat.timeoutMs, source: this.plan.heartbeat.source },
      },
    };
  }

  /** A remote attempt's worker was lost: the stream runs again elsewhere while `max_restarts` allows. */
  private relaunchLost(rt: StreamRt, why: string): void {
    const stopAs = rt.phase.kind === 'launching' ? rt.phase.stopAs : attemptOf(rt)?.killReason;
    if (rt.phase.kind === 'launching') {
      this.running--;
      this.releaseUnits(rt.spec.id, rt.phase.hold);
      rt.phase.hold = undefined;
    }
    this.emit({ type: 'warning', stream: rt.spec.id, message: `attempt ${rt.rec.attempt} was lost: ${why}` });
    if (this.stopping) {
      this.end(rt, 'cancelled', 'cancelled');
    } else if (stopAs === 'superseded') {
      this.end(rt, 'cancelled', 'superseded');
    } else if (rt.restarts < this.plan.guardian.maxRestarts) {
      rt.restarts += 1;
      rt.rec.reason = 'worker-lost';
      this.emit({ type: 'stream-retrying', stream: rt.spec.id, attempt: rt.rec.attempt, delayMs: 0, reason: 'worker-lost' });
      this.makeReady(rt, 'recovering');
    } else {
      this.end(rt, 'failed', 'worker-lost');
    }
    this.afterChange();
  }

  /** `$COORD_INPUTS` of a stream: a link per dependency (see linkInputs). */
  private inputLinks(spec: StreamSpec): Array<{ name: string; target: string }> {
    const links: Array<{ name: string; target: string }> = [];
    for (const dep of spec.dependsOn) {
      const p = this.points.get(dep);
      if (p) links.push({ name: dep, target: p.rec.target });
      const s = this.streams.get(dep);
      if (s) links.push({ name: dep, target: s.paths.workspace });
      // A `gather: vote` or `gather: first` group that won: `<group id>` is the winning replica's workspace.
      const g = this.voteGroups.of(dep) ?? this.firstGroups.get(dep);
      const winner = g?.winner ? this.streams.get(g.winner) : undefined;
      if (g && winner && !links.some((l) => l.name === g.id)) links.push({ name: g.id, target: winner.paths.workspace });
    }
    return links;
  }

  private async prepare(rt: StreamRt): Promise<void> {
    const { paths, spec } = rt;
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    if (paths.shared) await createWorkspace(paths.shared, { fresh: false });
    if (spec.isolation === 'worktree') {
      await this.worktrees.create(spec, paths.workspace);
      rt.rec.branch = this.worktrees.branchOf(spec.id); // saved with the attempt's next state
    } else if (paths.workspace !== paths.shared) await createWorkspace(paths.workspace, { fresh: !paths.explicitWorkspace && !this.opts.resume });
    // `base:` seeds the workspace from the run's snapshot of that directory, unless the
    // workspace already has content; the stat record of the seeding makes change detection cheap.
    if (spec.base && spec.isolation !== 'worktree') {
      const base = await this.baseTreeOf(spec.base);
      if ((await readdir(paths.workspace)).length === 0) saveSeed(this.seedFile(paths.workspace), await seedWorkspace(base, paths.workspace));
      rt.rec.base = base.dir;
    }
    linkInputs(paths.inputs, this.inputLinks(spec));
    rt.prepared = true;
  }

  private exited(rt: StreamRt, proc: StreamProcess, info: ExitInfo): void {
    // A late exit of an attempt that was already replaced is discarded by attempt.
    const att = attemptOf(rt);
    if (att?.proc !== proc) return;
    for (const t of att.timers) clearTimeout(t);
    att.timers = [];
    this.liveness.unwatch(rt.spec.id);
    this.endBeat(rt, att, info.lost !== undefined);
    this.running--;
    this.releaseUnits(rt.spec.id, att.hold);
    att.hold = undefined;
    const { killReason } = att;
    const durationMs = Math.round(performance.now() - rt.startedMs);
    rt.rec.exitCode = info.exitCode;
    rt.rec.signal = info.signal;
    rt.rec.killed = att.killSent;
    // a beat written just before the exit (the guardian stopped watching with the exit)
    if (existsSync(rt.paths.heartbeatFile)) this.readHeartbeat(rt);
    att.killSent = false;
    this.emit({ type: 'stream-exited', stream: rt.spec.id, attempt: rt.rec.attempt, exitCode: info.exitCode, signal: info.signal, durationMs });
    if (info.error) this.emit({ type: 'warning', stream: rt.spec.id, message: `could not start: ${info.error}` });

    if (info.lost !== undefined) {
      this.relaunchLost(rt, info.lost);
      return;
    }
    if (info.outputsError) this.emit({ type: 'warning', stream: rt.spec.id, message: info.outputsError });
    if (info.logError) {
      this.emit({ type: 'warning', stream: rt.spec.id, message: `${info.logError.message}: the stream's output could not be stored; it was stopped` });
      if (info.logError.diskFull) this.diskFull ??= info.logError.message;
    }

    if (this.stopping) {
      this.end(rt, 'cancelled', 'cancelled');
    } else if (killReason === 'superseded' || killReason === 'point-failed') {
      this.end(rt, 'cancelled', killReason);
    } else if (info.logError) {
      this.end(rt, 'failed', info.logError.diskFull ? 'disk-full' : 'log-error');
    } else if (info.outputsError) {
      this.end(rt, 'failed', 'outputs-error');
    } else if (killReason === 'heartbeat-timeout' && rt.restarts < this.plan.guardian.maxRestarts) {
      // The guardian restarts a stalled stream as a new attempt while max_restarts allows.
      rt.restarts += 1;
      rt.rec.reason = 'heartbeat-timeout';
      if (rt.spec.resumeFrom === 'checkpoint') {
        rt.resumeSeed = lastCheckpoint(rt.spec.id, (this.pointsOfStream.get(rt.spec.id) ?? []).map((p) => p.rec.target));
      }
      this.emit({ type: 'stream-retrying', stream: rt.spec.id, attempt: rt.rec.attempt, delayMs: 0, reason: 'heartbeat-timeout' });
      this.makeReady(rt, 'recovering');
    } else if (killReason) {
      this.end(rt, 'failed', killReason);
    } else if (info.error && info.exitCode === null) {
      this.end(rt, 'failed', 'spawn-error');
    } else if (info.exitCode === 0 && rt.spec.isolation === 'worktree') {
      this.moveTo(rt, { kind: 'committing', shows: rt.phase.kind === 'stalled' ? 'stalled' : 'running' });
      void this.commitThenSucceed(rt);
      return;
    } else if (info.exitCode === 0) {
      this.end(rt, 'succeeded', null);
    } else {
      const reason: FailureReason = info.signal ? 'signal' : 'exit-non-zero';
      if (rt.rec.attempt <= rt.spec.retries) {
        const delayMs = Math.min(RETRY_BACKOFF_CAP_MS, RETRY_BACKOFF_BASE_MS * 2 ** (rt.rec.attempt - 1));
        rt.rec.reason = reason;
        this.emit({ type: 'stream-retrying', stream: rt.spec.id, attempt: rt.rec.attempt, delayMs, reason });
        this.makeReady(rt, 'waiting', Date.now() + delayMs);
      } else {
        this.end(rt, 'failed', reason);
      }
    }
    this.afterChange();
  }

  /** Progress and message from the heartbeat file `coord heartbeat` writes (a touched file has none). */
  private readHeartbeat(rt: StreamRt): void {
    let hb: ReturnType<typeof heartbeatSays>;
    try {
      hb = heartbeatSays(readFileSync(rt.paths.heartbeatFile, 'utf8'));
    } catch {
      return; // gone meanwhile
    }
    if (!hb) return; // not JSON: a touch or a rename of the stream's own
    rt.rec.progress = hb.progress;
    rt.rec.message = hb.message;
    this.save(rt);
  }

  /** A worktree stream's work is committed on its branch before it counts as succeeded. */
  private async commitThenSucceed(rt: StreamRt): Promise<void> {
    try {
      await this.worktrees.commit(rt.spec.id);
      this.end(rt, 'succeeded', null);
    } catch (e) {
      this.emit({ type: 'warning', stream: rt.spec.id, message: `could not commit the worktree: ${e instanceof Error ? e.message : String(e)}` });
      this.end(rt, 'failed', 'merge-error');
    }
    this.afterChange();
  }

  /** No beat for `heartbeat.timeout`: the stream is stalled; the guardian stops it (soft, then hard). */
  private stalled(id: string, silentMs: number): void {
    const rt = this.streams.get(id);
    const att = rt && attemptOf(rt);
    if (!rt || !att || this.stopping) return;
    this.emit({ type: 'stream-stalled', stream: id, attempt: rt.rec.attempt, lastHeartbeat: rt.rec.lastHeartbeat, silentMs });
    // (stalled again after a beat that came while it was being stopped: it still is)
    if (rt.phase.kind === 'running') this.moveTo(rt, { kind: 'stalled', attempt: att });
    if (this.plan.guardian.command) {
      this.guardianCommands.run(this.plan.guardian.command, {
        id,
        attempt: rt.rec.attempt,
        lastHeartbeat: rt.rec.lastHeartbeat,
        workspace: rt.paths.workspace,
        logDir: rt.paths.logDir,
        env: this.envOf(rt, rt.rec.attempt),
      });
    }
    if (!this.plan.guardian.autoInvoke) return;
    att.killReason = 'heartbeat-timeout';
    this.signal(rt, this.plan.guardian.soft, 'heartbeat-timeout');
    this.escalateAfterGrace(rt, att.proc, 'heartbeat-timeout');
  }

  /** Signals the stream's process group; false when nothing of it was left to signal. */
  private signal(rt: StreamRt, sig: NodeJS.Signals, reason: string): boolean {
    if (!attemptOf(rt)?.proc.signal(sig)) return false;
    this.emit({ type: 'stream-signalled', stream: rt.spec.id, attempt: rt.rec.attempt, signal: sig, reason });
    return true;
  }

  private escalateAfterGrace(rt: StreamRt, proc: StreamProcess, reason: string): void {
    const att = attemptOf(rt);
    if (att?.proc !== proc) return;
    const t = setTimeout(() => {
      if (attemptOf(rt) !== att) return;
      // `killed`: something of the stream's group outlived the soft signal and its grace.
      if (this.signal(rt, 'SIGKILL', reason)) att.killSent = true;
    }, this.plan.guardian.graceMs);
    att.timers.push(t);
  }

  /** A stream reaches a terminal state: record it and tell its convergence points. */
  private end(rt: StreamRt, state: EndState, reason: FailureReason | null): void {
    if (isTerminal(rt.phase.kind)) return; // ends once
    this.ended++;
    this.pending.delete(rt);
    rt.rec.reason = reason;
    rt.rec.endedAt = new Date().toISOString();
    this.moveTo(rt, { kind: state });
    const durationMs = rt.startedMs ? Math.round(performance.now() - rt.startedMs) : 0;
    this.emit({
      type: 'stream-ended',
      stream: rt.spec.id,
      attempt: rt.rec.attempt,
      state,
      exitCode: rt.rec.exitCode,
      ...(reason ? { reason } : {}),
      ...(rt.rec.killed ? { killed: true } : {}),
      durationMs,
    });
    if (this.voteGroups.of(rt.spec.id)) {
      // A replica of a `gather: vote` group: its points hear of the group's decision instead.
      this.voteGroups.memberEnded(rt.spec.id, state === 'succeeded');
    } else {
      for (const p of this.pointsOfStream.get(rt.spec.id) ?? []) {
        if (state === 'succeeded') p.streamSucceeded(rt.spec.id);
        else if (reason === 'superseded') p.drop(rt.spec.id);
        else p.streamFailed(rt.spec.id, state);
      }
    }
    if (state === 'succeeded') this.gathered(rt.spec.id);
    const waiters = this.spawnWaiters.get(rt.spec.id);
    if (waiters) {
      this.spawnWaiters.delete(rt.spec.id);
      for (const w of waiters) w({ ok: true, id: rt.spec.id, event: 'ended', state, exitCode: rt.rec.exitCode });
    }
  }

  /** The first success of a `gather: first` group stops and drops the other replicas. */
  private gathered(id: string): void {
    const group = this.firstGroups.get(id);
    if (!group || group.won) return;
    group.won = true;
    group.winner = id;
    for (const m of group.members) if (m !== id) this.supersede(m);
  }

  /** Stops a replica whose group no longer needs it (it ends `cancelled`, reason `superseded`). */
  private supersede(id: string): void {
    const other = this.streams.get(id);
    if (!other || isTerminal(other.phase.kind)) return;
    const att = attemptOf(other);
    if (att) {
      att.killReason = 'superseded';
      this.signal(other, this.plan.guardian.soft, 'superseded');
      this.escalateAfterGrace(other, att.proc, 'superseded');
    } else if (other.phase.kind === 'launching') {
      other.phase.stopAs = 'superseded';
      other.phase.abort?.abort();
    } else {
      this.end(other, 'cancelled', 'superseded');
    }
  }

  /**
   * A `gather: vote` group is decided: replicas still running are stopped; its points merge
   * the winning replica (and forget the others), or fail when the replicas did not agree.
   */
  private voteDecided(g: VoteGroup): void {
    for (const m of g.members) this.supersede(m);
    const points = new Set(g.members.flatMap((m) => this.pointsOfStream.get(m) ?? []));
    for (const p of points) {
      if (g.state === 'won' && g.winner) {
        p.streamSucceeded(g.winner);
        for (const m of g.members) if (m !== g.winner) p.drop(m);
      } else {
        p.groupFailed(`the replicas of "${g.id}" did not agree on a result`);
      }
    }
    this.afterChange();
  }

  // ── consensus and resource glue ───────────────────────────────────────────────────────

  /** Approval points and vote groups get their proposals when the run starts (votes may come early). */
  private prepareProposals(): void {
    for (const p of this.plan.points) {
      if (!p.approve) continue;
      const r = this.board.prepare(p.name, 'approval', p.approve.voters, p.approve.quorum, p.approve.timeoutMs);
      if (!r.ok) this.emit({ type: 'warning', point: p.name, message: `approval: ${r.error.error}` });
    }
    this.voteGroups.prepare();
  }

  /** Opens a point's approval on the merge waiting in `review`; resolves with the decision. */
  private async approval(spec: PointSpec, review: string): Promise<ApprovalVerdict> {
    const rec = await this.board.openPrepared(spec.name, { point: spec.name, streams: this.points.get(spec.name)?.rec.merged ?? spec.streams, review });
    const runEnded = rec.reason === 'run-ended';
    return {
      accepted: rec.state === 'accepted',
      runEnded,
      message: `approval ${rec.state}${rec.reason === 'timeout' ? ' (timed out)' : runEnded ? ' (the run ended first)' : ''}: ${rec.yes} yes, ${rec.no} no, ${rec.needed} needed of ${rec.voters.length}`,
    };
  }

  /** An attempt ended: its plan demand goes back, and whatever its processes acquired. */
  private releaseUnits(id: string, hold: Hold | undefined): void {
    if (hold) {
      this.negotiator.releaseStream(hold);
      this.poolsChanged();
    }
    this.negotiator.streamEnded(id);
  }

  /** Pool records are written at most every POOLS_FLUSH_MS. */
  private poolsChanged(): void {
    if (Object.keys(this.plan.resources).length === 0) return;
    this.poolsTimer ??= setTimeout(() => this.flushPools(), POOLS_FLUSH_MS);
  }

  private flushPools(): void {
    if (this.poolsTimer) clearTimeout(this.poolsTimer);
    this.poolsTimer = undefined;
    if (Object.keys(this.plan.resources).length === 0) return;
    const records = this.poolRecords();
    this.backendWrite(() => this.backend.putPools(this.runId, records));
  }

  /** Each pool: capacity, use, holders, and waiters in the order they are served. */
  private poolRecords(): PoolRecord[] {
    const iso = (ms: number) => new Date(ms).toISOString();
    const holds = this.pools.holders();
    const waiters = [
      ...[...this.streams.values()]
        .filter((rt) => isQueued(rt) && Object.keys(rt.spec.resources).length > 0)
        .map((rt) => ({ owner: rt.spec.id, stream: rt.spec.id, pid: null, kind: 'stream' as const, units: rt.spec.resources, priority: rt.spec.priority, since: queuedOf(rt)?.readyAt ?? 0 })),
      ...this.negotiator.waiting().map((r) => ({ owner: r.owner, stream: r.stream ?? null, pid: r.pid, kind: 'acquire' as const, units: r.units, priority: r.priority, since: r.since })),
    ].sort((a, b) => b.priority - a.priority || a.since - b.since);
    return this.pools.snapshot().map((p) => ({
      ...p,
      holders: holds
        .filter((h) => (h.units[p.name] ?? 0) > 0)
        .map((h) => ({ owner: h.owner, stream: h.stream ?? null, pid: h.pid ?? null, kind: h.kind, units: h.units[p.name] ?? 0, since: iso(h.since) })),
      waiters: waiters
        .filter((w) => (w.units[p.name] ?? 0) > 0)
        .map((w) => ({ owner: w.owner, stream: w.stream, pid: w.pid, kind: w.kind, units: w.units[p.name] ?? 0, priority: w.priority, since: iso(w.since) })),
    }));
  }

  /** The environment of one attempt of a stream (SPEC §3). */
  private envOf(rt: StreamRt, attempt: number): NodeJS.ProcessEnv {
    return streamEnv({ runId: this.runId, runDir: this.runDir, spec: rt.spec, paths: rt.paths, attempt, binDir: this.binDir, base: this.baseEnv, fileAccess: this.plan.coordination.isolation.fileAccess });
  }

  private afterChange(): void {
    this.schedule();
    this.maybeFinish();
  }

  // ── convergence host ──────────────────────────────────────────────────────────────────

  /** The run's snapshot of `source` (a stream's `base:`): taken once, or read back on `--resume`. */
  private baseTreeOf(source: string): Promise<BaseTree> {
    let tree = this.baseTrees.get(source);
    if (tree === undefined) {
      const dir = join(this.runDir, 'bases', baseKey(source));
      tree = (async () => {
        const had = loadBaseTree(dir);
        if (had) return had;
        const taken = await snapshotBase(source, dir, { exclude: [this.home, this.plan.workspaceRoot, this.runDir] });
        if (taken.skipped.length > 0) {
          this.emit({ type: 'warning', message: `base ${source}: ${taken.skipped.length} path(s) could not be read and are not part of it (${taken.skipped.slice(0, 3).join(', ')})` });
        }
        return taken;
      })();
      this.baseTrees.set(source, tree);
    }
    return tree;
  }

  /** Where the stat record of a workspace's seeding is kept. */
  private seedFile(workspace: string): string {
    return seedFileOf(this.runDir, workspace);
  }

  /** A stream's workspace and `outputs` as they are. */
  private workspaceOf(id: string): MergeSource {
    const rt = this.streams.get(id);
    if (!rt) throw new Error(`unknown stream "${id}"`);
    return { stream: id, dir: rt.paths.workspace, outputs: rt.spec.outputs };
  }

  /** What a stream contributes: its change set against its base (everything it has, without one). */
  private async changeSource(id: string): Promise<MergeSource> {
    const source = this.workspaceOf(id);
    const spec = this.streams.get(id)?.spec;
    if (!spec?.base || spec.isolation === 'worktree') return source;
    const base = await this.baseTreeOf(spec.base);
    return { ...source, changes: await detectChanges(source, base, loadSeed(this.seedFile(source.dir))) };
  }

  /**
   * A point failed: its streams that nothing else needs any more (no other point that can
   * still merge them, no stream depending on them) are stopped, or cancelled before they start.
   */
  private stopUnneeded(failed: PointRunner): void {
    for (const id of failed.spec.streams) {
      const rt = this.streams.get(id);
      if (!rt || isTerminal(rt.phase.kind) || this.neededElsewhere(rt, failed)) continue;
      const att = attemptOf(rt);
      if (att) {
        // A process group already gone has ended on its own: its exit, still on its way, decides
        // its state (a stream that exited 0 before the point failed succeeded, not cancelled).
        if (!this.signal(rt, this.plan.guardian.soft, 'point-failed')) continue;
        att.killReason = 'point-failed';
        this.escalateAfterGrace(rt, att.proc, 'point-failed');
      } else if (rt.phase.kind === 'launching') {
        rt.phase.stopAs = 'point-failed';
        rt.phase.abort?.abort();
      } else {
        this.end(rt, 'cancelled', 'point-failed');
      }
    }
  }

  private neededElsewhere(rt: StreamRt, failed: PointRunner): boolean {
    const id = rt.spec.id;
    if ((this.pointsOfStream.get(id) ?? []).some((p) => p !== failed && p.rec.state !== 'failed')) return true;
    const names = new Set([id, ...(rt.spec.group ? [rt.spec.group] : []), ...rt.spec.capabilities.map((c) => `${CAPABILITY_PREFIX}${c}`)]);
    for (const other of this.streams.values()) {
      if (other === rt || TERMINAL_STREAM_STATES.has(other.rec.state)) continue;
      if (other.spec.dependsOn.some((d) => names.has(d))) return true;
    }
    return false;
  }

  private pointHost() {
    return {
      emit: (e: EventInput) => this.emit(e),
      save: (rec: PointRecord) => this.backendWrite(() => this.backend.putPoint(this.runId, { ...rec, merged: [...rec.merged], conflicts: [...rec.conflicts] })),
      sourceOf: (id: string): Promise<MergeSource> => this.changeSource(id),
      workspaceOf: (id: string): MergeSource => this.workspaceOf(id),
      settled: (p: PointRunner) => {
        if (p.rec.state === 'failed' && p.spec.approve) this.board.close(p.spec.name, 'point-failed');
        if (p.rec.state === 'failed' && p.rec.reason !== 'point-timeout' && !p.spec.keepGoing) this.stopUnneeded(p);
        if (p.rec.state === 'failed' && p.rec.reason === 'point-timeout') {
          // A timed-out point stops its streams that are still running.
          for (const id of p.spec.streams) {
            const rt = this.streams.get(id);
            const att = rt && attemptOf(rt);
            if (att) {
              att.killReason = 'point-timeout';
              this.signal(rt, 'SIGTERM', 'point-timeout');
              this.escalateAfterGrace(rt, att.proc, 'point-timeout');
            } else if (rt?.phase.kind === 'launching') {
              rt.phase.stopAs = 'point-timeout';
              rt.phase.abort?.abort();
            } else if (rt && !isTerminal(rt.phase.kind)) {
              this.end(rt, 'cancelled', 'point-timeout');
            }
          }
        }
        this.afterChange();
      },
      running: (ids: string[]) => ids.filter((id) => { const rt = this.streams.get(id); return rt !== undefined && attemptOf(rt) !== undefined; }),
    };
  }

  // ── the end ───────────────────────────────────────────────────────────────────────────

  private maybeFinish(): void {
    if (!this.started || this.finished || !this.resolveRun) return;
    if (this.ended < this.streams.size) return;
    if (!this.stopping) for (const p of this.points.values()) if (!p.isSettled) return;
    this.finished = true;
    void this.finish();
  }

  /** Runs a shared-state upkeep step (snapshot, restore); a failure is a warning, never the run's end. */
  private async snapshotOr(step: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (e) {
      this.emit({ type: 'warning', message: `shared state: ${(e as Error).message}` });
    }
  }

  private async finish(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.stateTimer) clearInterval(this.stateTimer);
    // the state as the run leaves it, kept durably
    if (this.stateStore) await this.snapshotOr(() => this.stateStore!.snapshot());
    this.liveness.stop();
    // Undecided proposals are rejected (an approval awaited by a point answers it), units go back.
    this.board.closeAll();
    this.negotiator.closeAll();
    await Promise.all([...this.points.values()].map((p) => p.idle()));
    for (const p of this.points.values()) p.cancel();
    const cancelRequested = this.stopping ? (await this.backend.getRun(this.runId).catch(() => undefined))?.cancelRequested === true : false;
    let state: RunState = runEndState({
      stopping: this.stopping,
      cancelRequested,
      diskFull: this.diskFull !== undefined,
      streams: [...this.streams.values()].map((rt) => ({ id: rt.spec.id, state: rt.rec.state, reason: rt.rec.reason })),
      points: [...this.points.values()].map((p) => ({ state: p.rec.state })),
      voteWon: (id) => this.voteGroups.settledOk(id),
      unsettledVoteGroups: this.voteGroups.unsettled().length,
    });
    if (this.opts.removeWorkspaces) {
      removeSucceededWorkspaces([...this.streams.values()].map((rt) => ({ paths: rt.paths, succeeded: rt.rec.state === 'succeeded' })));
    }
    if (!this.opts.keepWorkspaces) await this.worktrees.removeAll();
    await this.guardianCommands.settle(this.plan.guardian.graceMs);
    this.closeControl();
    // the space set aside goes to the run's last records
    this.releaseSpace();
    this.flushRecords();
    this.flushPools();
    this.spawner.close?.();
    await this.dispatcher?.close();
    await this.persist;
    if (this.persistError !== undefined) {
      // Records were lost on the way (a full disk): all of them once more, so that what is
      // stored is what the run printed.
      this.persistError = undefined;
      const streams = [...this.streams.values()].map((rt) => ({ ...rt.rec }));
      this.backendWrite(() => this.backend.putStreams(this.runId, streams));
      for (const p of this.points.values()) {
        const rec = { ...p.rec };
        this.backendWrite(() => this.backend.putPoint(this.runId, rec));
      }
      if (Object.keys(this.plan.resources).length > 0) {
        const pools = this.poolRecords();
        this.backendWrite(() => this.backend.putPools(this.runId, pools));
      }
    }
    if (this.diskFull && state === 'succeeded') state = 'failed'; // a full disk met in the last writes
    this.emit({ type: 'run-ended', state, durationMs: Math.round(performance.now() - this.startedAtMs) });
    const endedAt = new Date().toISOString();
    let runStored = false;
    this.backendWrite(() => this.backend.updateRun(this.runId, { state, endedAt }).then(() => void (runStored = true)));
    await this.persist;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    await this.backend.dropLease?.(this.runId).catch(() => undefined);
    if (this.persistError !== undefined && !isDiskFull(this.persistError)) {
      process.emitWarning(`coord: the ${this.backend.kind} backend failed: ${String(this.persistError)}`);
    }
    const outcome: RunOutcome = {
      runId: this.runId,
      runDir: this.runDir,
      state,
      exitCode: exitCodeOf(state),
      streams: [...this.streams.values()].map((rt) => ({ ...rt.rec })),
      points: [...this.points.values()].map((p) => ({ ...p.rec })),
      ...(this.diskFull ? { diskFull: { message: this.diskFull, stored: this.persistError === undefined, runStored } } : {}),
    };
    this.resolveRun?.(outcome);
  }

  /**
   * On a backend that expires keys: the run's lease, renewed every third of its length. At
   * each renewal the run record is read for `coord stop` from another host (cancelRequested).
   */
  private async holdLease(): Promise<void> {
    const b = this.backend;
    if (!b.holdLease) return;
    const ttl = this.opts.runLeaseMs ?? 10_000;
    await b.holdLease(this.runId, ttl);
    this.leaseTimer = setInterval(() => {
      void (async () => {
        if (this.finished) return;
        await b.holdLease!(this.runId, ttl);
        if (this.stopping === undefined && (await b.getRun(this.runId))?.cancelRequested) this.stop('cancelled');
      })().catch(() => undefined);
    }, Math.max(100, Math.floor(ttl / 3)));
    this.leaseTimer.unref();
  }

  // ── events and records ────────────────────────────────────────────────────────────────

  private emit(input: EventInput): void {
    const event = { ...input, time: new Date().toISOString(), run: this.runId } as CoordEvent;
    this.backendWrite(() => this.backend.appendEvent(this.runId, event));
    for (const l of this.listeners) l(event);
  }

  private emitOutput(stream: string, attempt: number, fd: 'stdout' | 'stderr', line: string): void {
    this.emitTransient({ type: 'stream-output', stream, attempt, fd, line });
  }

  /** An event for listeners only (live views), not for the event log. */
  private emitTransient(input: EventInput): void {
    const event = { ...input, time: new Date().toISOString(), run: this.runId } as CoordEvent;
    for (const l of this.listeners) l(event);
  }

  /** Moves the stream in its state machine (every move asserted: see stream-state.ts) and saves its record. */
  private moveTo<K extends PhaseKind>(rt: StreamRt, next: Phase<K>): Phase<K> {
    move(rt, next);
    this.save(rt);
    return next;
  }

  /**
   * Stream records are written in batches at most every RECORD_FLUSH_MS (a stream that starts
   * and ends within one window is written once): on a slow disk a write+rename per
   * transition costs more than the spawn. The event log, written at once, has every
   * transition meanwhile.
   */
  private save(rt: StreamRt): void {
    this.dirty.add(rt);
    this.flushTimer ??= setTimeout(() => this.flushRecords(), RECORD_FLUSH_MS);
  }

  private flushRecords(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.dirty.size === 0) return;
    const snapshots = [...this.dirty].map((rt) => ({ ...rt.rec }));
    this.dirty.clear();
    this.backendWrite(() => this.backend.putStreams(this.runId, snapshots));
  }

  /**
   * Backend writes run one after another, in the order they were made. A failed write is kept
   * (the first one) and the run goes on; at its end, every record is written once more. The
   * first full disk is told at once, as a warning.
   */
  private backendWrite(fn: () => Promise<void>): void {
    this.persist = this.persist.then(fn).catch((e: unknown) => {
      this.persistError ??= e;
      if (isDiskFull(e) && this.diskFull === undefined) {
        this.diskFull = e instanceof DiskFullError ? e.message : `disk full: ${this.runDir}`;
        this.emit({ type: 'warning', message: `${this.diskFull}: the run's records cannot be stored now; they are written again when the run ends` });
      }
    });
  }

  /**
   * Sets space aside in the run directory (`.reserve`, zeros: the blocks are taken) for the
   * records the run writes at its end, given back by releaseSpace: when the disk fills up
   * during the run, the last stream, point and run records still find room, and what is
   * stored is what the run printed. About two blocks a stream and one a point, 64 KiB to
   * 4 MiB. A disk too full for it fails the start (`disk full: <path>`), and a new run's
   * directory is removed again.
   */
  private async reserveSpace(before: RunRecord | undefined): Promise<void> {
    const file = join(this.runDir, '.reserve');
    const bytes = Math.min(4 << 20, Math.max(64 << 10, (this.streams.size * 2 + this.points.size + 8) * 4096));
    try {
      rmSync(file, { force: true }); // a dead coordinator's, at --resume
      reserveSpaceSync(file, bytes);
      this.reserveFile = file;
    } catch (e) {
      if (!isDiskFull(e)) throw e;
      if (this.opts.resume) {
        if (before) await this.backend.updateRun(this.runId, before).catch(() => undefined);
      } else {
        await this.backend.dropLease?.(this.runId).catch(() => undefined);
        await this.backend.removeRun(this.runId).catch(() => undefined);
      }
      throw e;
    }
  }

  /** Gives the reserved space back (see reserveSpace). */
  private releaseSpace(): void {
    if (!this.reserveFile) return;
    rmSync(this.reserveFile, { force: true });
    this.reserveFile = undefined;
  }
}
