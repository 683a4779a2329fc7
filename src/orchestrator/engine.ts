/**
 * The run engine's parts, as each part sees the others: a role interface per part, declared
 * here, so that this file imports no part and no part imports another for its type (no cycle,
 * of types either). StreamCoordinator (coordinator.ts) is the facade that builds them; each part
 * is one concern in its own file:
 *
 *   stream-table   the run's streams (with their state machine, stream-state.ts) and points
 *   scheduler      dependencies, the ready queue, concurrency slots and resource pools
 *   attempt        one attempt: workspace, environment, spawn (here or on a worker)
 *   exits          what an attempt's end makes of the stream (exit-policy.ts decides), gather
 *   guardian       liveness, stalls and signals (an AttemptProcess carries them out)
 *   resume         taking over a dead coordinator's run
 *   records        the one coalescing record writer (persist.ts) and the run's records
 *   bus            the one event bus: its sinks are the event log and the listeners
 *   control-host   the control socket (`coord spawn`, resources, consensus)
 *   points-host    what convergence points need of the run
 *   upkeep         the run's lease, its reserved space and its shared state's snapshots
 */
import type { PointSpec, Plan, StreamSpec } from '../plan/types.js';
import type { Backend, PointRecord, PoolRecord, StreamRecord } from '../backend/types.js';
import type { StreamState } from '../events/types.js';
import type { MergeSource } from '../merge/merge.js';
import type { BaseTree } from '../workspace/basetree.js';
import type { PointRunner } from '../convergence/point-runner.js';
import type { Spawner, ExitInfo, StreamProcess } from '../supervise/spawner.js';
import type { LivenessMonitor } from '../supervise/liveness.js';
import type { AttemptProcess } from '../supervise/attempt-process.js';
import type { StreamPaths } from '../supervise/environment.js';
import type { ConsensusBoard } from '../consensus/board.js';
import type { Dispatcher } from '../distribute/dispatcher.js';
import type { RemoteRequest } from '../distribute/remote-request.js';
import type { Failure, StopReason, VerifyFailed } from '../core/failures.js';
import type { PlanGraph } from '../graph/graph.js';
import type { CoordinatorOptions } from './options.js';
import type { Attempt, EndState, LaunchStop, Phase, PhaseKind, StreamPhase } from './stream-state.js';
import type { VoteGroup, VoteGroups } from './vote-groups.js';
import type { Worktrees } from './worktrees.js';
import type { EventBus } from './bus.js';
import type { Negotiator } from './negotiation.js';
import type { Hold } from './resources.js';

/** A stream of the run: what stays across its attempts; what depends on its state is in `phase`. */
export interface StreamRt {
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
  /** `feedback:`: the file that says what broke, for the attempts its point asked for (`COORD_FEEDBACK`). */
  feedback?: string | undefined;
  /** Attempts its points asked for with feedback (they do not use up `retries`). */
  feedbacks: number;
}

/** Where the run as a whole is. */
export interface RunFlags {
  /** Why the run is being stopped early, once it is. */
  stopping: 'interrupted' | 'cancelled' | undefined;
  /** A stop that does not wait for the guardian's grace. */
  forced: boolean;
  started: boolean;
  finished: boolean;
  /** The first full disk the run met (`disk full: <path>`): in a record write or a stream's log. */
  diskFull: string | undefined;
  /** The directory of the running `coord`, put first on streams' PATH. */
  binDir: string;
}

/** A `gather: first` group: whether one member has already succeeded, and which. */
export interface FirstGroup {
  id: string;
  members: string[];
  won: boolean;
  winner?: string;
}

/** What a process of a stream's attempt is started with (here or, with the remote part, on a worker). */
export type LaunchRequest = Omit<RemoteRequest, 'remote' | 'abort'>;

/*
 * The parts as the others see them: each part's class (named with it) implements its role, and
 * the coordinator, which builds them, holds the classes themselves.
 */

/** The run's streams and points (StreamTable, stream-table.ts). */
export interface TableRole {
  readonly points: ReadonlyMap<string, PointRunner>;
  /** `gather: first` groups by member id. */
  readonly firstGroups: ReadonlyMap<string, FirstGroup>;
  readonly size: number;
  get(id: string): StreamRt | undefined;
  all(): StreamRt[];
  has(id: string): boolean;
  track(spec: StreamSpec): StreamRt;
  addPoint(spec: PointSpec, runner: PointRunner): void;
  pointsOf(id: string): PointRunner[];
  moveTo<K extends PhaseKind>(rt: StreamRt, next: Phase<K>): Phase<K>;
  workspaceOf(id: string): MergeSource;
  inputLinks(spec: StreamSpec): Array<{ name: string; target: string }>;
}

/** Dependencies, the ready queue, concurrency slots and resource pools (Scheduler, scheduler.ts). */
export interface SchedulerRole {
  readonly negotiator: Negotiator;
  /** Streams whose dependencies are not met yet. */
  readonly pending: Set<StreamRt>;
  /** Attempts holding a concurrency slot (launching or running). */
  running: number;
  schedule(): void;
  makeReady(rt: StreamRt, state: 'waiting' | 'recovering', notBefore?: number): void;
  releaseUnits(id: string, hold: Hold | undefined): void;
  poolRecords(): PoolRecord[];
}

/** One attempt from the scheduler's pick to a running process (AttemptRunner, attempt.ts). */
export interface AttemptsRole {
  start(rt: StreamRt, hold: Hold | undefined): Promise<void>;
  adopt(rt: StreamRt, rec: StreamRecord, proc: StreamProcess): void;
  launchRequest(rt: StreamRt, attempt: number): LaunchRequest;
  remoteRequest(rt: StreamRt, attempt: number, local: LaunchRequest, abort: AbortSignal): RemoteRequest;
  envOf(rt: StreamRt, attempt: number): NodeJS.ProcessEnv;
}

/** What an attempt's end makes of its stream (ExitHandler, exits.ts). */
export interface ExitsRole {
  exited(rt: StreamRt, proc: StreamProcess, info: ExitInfo): void;
  relaunchLost(rt: StreamRt, why: string): void;
  end(rt: StreamRt, state: EndState, failure: Failure | null): void;
  stopFor(rt: StreamRt, stop: LaunchStop, opts?: { sig?: NodeJS.Signals; onlyIfAlive?: boolean }): void;
  voteDecided(g: VoteGroup): void;
  exclude(rt: StreamRt, failure: VerifyFailed): void;
  reopen(rt: StreamRt, point: string, file: string, because: 'verify' | 'conflict'): boolean;
}

/** Liveness, stalls and signals: the policy; each attempt's supervision carries it out (Guardian, guardian.ts). */
export interface GuardianRole {
  readonly liveness: LivenessMonitor;
  /** An attempt's supervision (AttemptProcess) on the guardian's clock, with its slot in the guardian's monitor. */
  supervise(rt: StreamRt, proc: StreamProcess): AttemptProcess;
  watch(rt: StreamRt, attempt: Attempt): void;
  unwatch(rt: StreamRt, attempt: Attempt, lost: boolean): void;
  readHeartbeat(rt: StreamRt): void;
  stopAttempt(rt: StreamRt, att: Attempt, reason: StopReason, sig?: NodeJS.Signals): void;
  signal(rt: StreamRt, sig: NodeJS.Signals, reason: string): boolean;
  escalateAfterGrace(rt: StreamRt, proc: StreamProcess, reason: string): void;
  limit(rt: StreamRt, att: Attempt, timeoutMs: number): void;
  clearTimers(att: Attempt): void;
}

/** What convergence points need of the run (PointsHost, points-host.ts). */
export interface PointsHostRole {
  baseTreeOf(source: string): Promise<BaseTree>;
  seedFile(workspace: string): string;
}

/** The control socket (ControlHost, control-host.ts). */
export interface ControlRole {
  ended(id: string, state: StreamState, exitCode: number | null): void;
}

/** The run's records through the one coalescing writer (RunRecords, records.ts). */
export interface RecordsRole {
  write(fn: () => Promise<unknown>): void;
  save(rt: StreamRt): void;
  point(rec: PointRecord): void;
  poolsChanged(): void;
}

/** The engine's parts and what they share. */
export interface Engine {
  readonly runId: string;
  readonly runDir: string;
  /** The `.coord` directory, absolute. */
  readonly home: string;
  /** `<workspace_root>/<run id>`. */
  readonly workspaceDir: string;
  readonly plan: Plan;
  readonly opts: CoordinatorOptions;
  readonly backend: Backend;
  readonly spawner: Spawner;
  /** This process's environment (or `opts.env`), copied once. */
  readonly baseEnv: NodeJS.ProcessEnv;
  readonly flags: RunFlags;
  readonly bus: EventBus;
  readonly records: RecordsRole;
  readonly table: TableRole;
  readonly scheduler: SchedulerRole;
  readonly attempts: AttemptsRole;
  readonly exits: ExitsRole;
  readonly guardian: GuardianRole;
  readonly pointsHost: PointsHostRole;
  readonly control: ControlRole;
  readonly board: ConsensusBoard;
  readonly voteGroups: VoteGroups;
  readonly worktrees: Worktrees;
  /** The run's dependency graph (built when the run starts; `coord spawn` adds to it). */
  graph: PlanGraph;
  /** `--workers`: the remote spawner (loaded with BullMQ when the run starts). */
  dispatcher: Dispatcher | undefined;
  /** After a stream or point changed: start what may start, and end the run once all is done. */
  afterChange(): void;
}
