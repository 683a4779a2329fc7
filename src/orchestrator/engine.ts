/**
 * The run engine's parts, as each part sees the others. StreamCoordinator (coordinator.ts) is
 * the facade that builds them; each part is one concern in its own file:
 *
 *   stream-table   the run's streams (with their state machine, stream-state.ts) and points
 *   scheduler      dependencies, the ready queue, concurrency slots and resource pools
 *   attempt        one attempt: workspace, environment, spawn (here or on a worker)
 *   exits          what an attempt's end makes of the stream (exit-policy.ts decides), gather
 *   guardian       liveness, stalls, signals and their escalation
 *   resume         taking over a dead coordinator's run
 *   records        the one coalescing record writer (persist.ts) and the run's records
 *   bus            the one event bus: its sinks are the event log and the listeners
 *   control-host   the control socket (`coord spawn`, resources, consensus)
 *   points-host    what convergence points need of the run
 *   upkeep         the run's lease, its reserved space and its shared state's snapshots
 */
import type { Plan } from '../plan/types.js';
import type { Backend, StreamRecord } from '../backend/types.js';
import type { Spawner } from '../supervise/spawner.js';
import type { StreamSpec } from '../plan/types.js';
import type { ConsensusBoard } from '../consensus/board.js';
import type { Dispatcher } from '../distribute/dispatcher.js';
import type { CoordinatorOptions } from './options.js';
import type { StreamPaths } from '../supervise/environment.js';
import type { StreamPhase } from './stream-state.js';
import type { VoteGroups } from './vote-groups.js';
import type { Worktrees } from './worktrees.js';
import type { EventBus } from './bus.js';
import type { RunRecords } from './records.js';
import type { StreamTable } from './stream-table.js';
import type { Scheduler } from './scheduler.js';
import type { AttemptRunner } from './attempt.js';
import type { ExitHandler } from './exits.js';
import type { Guardian } from './guardian.js';
import type { PointsHost } from './points-host.js';
import type { ControlHost } from './control-host.js';
import type { PlanGraph } from '../graph/graph.js';

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
  readonly records: RunRecords;
  readonly table: StreamTable;
  readonly scheduler: Scheduler;
  readonly attempts: AttemptRunner;
  readonly exits: ExitHandler;
  readonly guardian: Guardian;
  readonly pointsHost: PointsHost;
  readonly control: ControlHost;
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
