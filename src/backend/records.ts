/**
 * The records a backend stores for a run, as plain data: the run record, stream and point
 * records, resource pools, proposals and the heartbeats of running attempts. A leaf module:
 * the backend's role interfaces (types.ts) and the units that fill these records in
 * (src/orchestrator, src/consensus, src/status) all import them from here, and nothing here
 * imports more than the event schema and the plan's leaf types.
 */
import type { CheckOutcome, FailureReason, PointState, RunState, StreamState } from '../events/types.js';
import type { ConvergenceType } from '../plan/types.js';

/** Identity of a process: pid plus its start time, so a reused pid is never mistaken for it. */
export interface ProcessIdentity {
  pid: number;
  /** Clock ticks since boot (Linux /proc); null where unknown. */
  startTime: number | null;
  host: string;
}

export interface RunRecord {
  id: string;
  /** Absolute path of the plan file as given. */
  plan: string;
  name: string;
  state: RunState;
  startedAt: string;
  endedAt: string | null;
  /** The `coord run` process that drives this run. */
  coordinator: ProcessIdentity;
  /** `<workspace_root>/<run id>`: where isolated workspaces of this run live. */
  workspaceDir: string;
  concurrency: number;
  /** The plan's resource pools and their capacities. */
  pools: Record<string, number>;
  /** The coordinator's control socket (`coord spawn` talks to it) while the run is running. */
  controlSocket?: string;
  /** How the run's shared state is kept (the plan's state_management); absent on older runs (defaults apply). */
  sharedState?: StateSettings;
  /** Set by `coord stop`: the run ends as `cancelled` rather than `interrupted`. */
  cancelRequested?: boolean;
}

export interface StateSettings {
  type: 'centralized' | 'immutable' | 'message_queue';
  /** Versions kept for reading and rollback. */
  keepVersions: number;
  /** fsync each version before the write returns. */
  durable: boolean;
}

export interface StreamRecord {
  id: string;
  state: StreamState;
  attempt: number;
  pid: number | null;
  /** Process group of the running attempt (equal to its pid: each stream leads its own group). */
  pgid: number | null;
  procStartTime: number | null;
  exitCode: number | null;
  signal: string | null;
  reason: FailureReason | null;
  workspace: string;
  capabilities: string[];
  dependsOn: string[];
  /** Units of the plan's pools this stream holds while it runs. */
  resources: Record<string, number>;
  startedAt: string | null;
  endedAt: string | null;
  lastHeartbeat: string | null;
  /** From the stream's last `coord heartbeat --progress/--message`. */
  progress?: number | null;
  message?: string | null;
  /** True when the last attempt ignored the soft signal and was ended by SIGKILL. */
  killed?: boolean;
  /** The `coord worker` running (or that ran) the last attempt; absent for streams run by the coordinator's host. */
  worker?: string | null;
  /** `isolation: worktree`: the git branch of the stream's worktree (`coord/<run>/<stream>`), set when it is created; absent otherwise. */
  branch?: string;
  /** A stream seeded from a `base:`: the run's snapshot of that base (`<run>/bases/<key>`), which `coord diff` compares with. */
  base?: string;
  /** The stream's `outputs:` globs (what its change set takes in; empty: everything). */
  outputs?: string[];
  /**
   * What the stream was run as, one digest per part (command, env, base, workspace, …): a
   * `--resume` with a plan that changed one of them runs the stream again (and says which).
   */
  fingerprint?: Record<string, string>;
}

/** A running attempt's heartbeat as an engine that expires keys stores it (Redis: src/backend/redis/beats.ts). */
export interface StreamBeat {
  attempt: number;
  /** When the attempt started on its host. */
  startedAt: string;
  /** The attempt's last beat (null before the first). */
  time: string | null;
  progress: number | null;
  message: string | null;
  /** The host that watches the attempt, and the worker's id for a remote one. */
  host: string;
  worker: string | null;
}

export interface PointRecord {
  name: string;
  type: ConvergenceType;
  state: PointState;
  streams: string[];
  merged: string[];
  conflicts: string[];
  reason: FailureReason | null;
  message: string | null;
  target: string;
  /** `approve:` points: the decision on the merge waiting in `review` (see src/convergence/point-runner.ts). */
  approval?: { state: 'pending' | 'accepted' | 'rejected'; review: string };
  /** Each conflicting path with the streams that changed it. */
  conflictStreams?: Array<{ path: string; streams: string[] }>;
  /** Where a conflict's material waits to be resolved (`<run>/conflicts/<point>/`); then `coord continue` goes on. */
  conflictDir?: string | null;
  /** What the point merges as (type, streams, policies, the streams' outputs): a `--resume` with another one merges again. */
  fingerprint?: string;
  /** `verify:` points: every check run so far (see src/convergence/point-verify.ts). */
  checks?: CheckRecord[];
  /** `on_verify_failure: exclude`: the streams found to break the check, left out of the merge. */
  excluded?: string[];
  /** `resolve:` points: the resolver's run on the merge's conflicts. */
  resolver?: { state: 'running' | 'resolved' | 'failed'; paths: string[]; log: string };
}

/** One check of a point's merge (`verify:`): what it checked, how it ended, where its output is. */
export interface CheckRecord {
  /** 1, 2, … in the order they started. */
  check: number;
  /** 0 for a check of a whole merge, then the culprit search's round. */
  round: number;
  /** The streams whose merge it checked. */
  streams: string[];
  /** `running` until it ends. */
  outcome: CheckOutcome | 'running';
  exitCode: number | null;
  signal: string | null;
  /** Runs made (`verify_retries` allows more than one). */
  tries: number;
  startedAt: string;
  durationMs: number | null;
  /** Its output: stdout and stderr of every try. */
  log: string;
}

/** A resource pool as `coord status` shows it: capacity, units in use, who holds and who waits. */
export interface PoolRecord {
  name: string;
  capacity: number;
  inUse: number;
  holders: Array<{ owner: string; stream: string | null; pid: number | null; kind: 'stream' | 'acquire'; units: number; since: string }>;
  /** In the order they are served (priority, then arrival); plan streams waiting to start included. */
  waiters: Array<{ owner: string; stream: string | null; pid: number | null; kind: 'stream' | 'acquire'; units: number; priority: number; since: string }>;
}

/** A vote. */
export type VoteValue = 'yes' | 'no';
/** A proposal is pending until decided; a decision is final. */
export type ProposalState = 'pending' | 'accepted' | 'rejected';
/** Who opened a proposal: `coord propose`, a convergence point's `approve:`, a `gather: vote` group. */
export type ProposalKind = 'proposal' | 'approval' | 'gather';
/** Why a proposal was decided. */
export type DecisionReason = 'quorum' | 'impossible' | 'timeout' | 'run-ended' | 'point-failed';

/** One vote as kept with its proposal. */
export interface VoteRecord {
  voter: string;
  vote: VoteValue;
  reason: string | null;
  time: string;
  /** Cast after the decision: recorded, not counted. */
  late?: boolean;
}

/** One proposal as stored in `consensus/<name>.json` and returned by the control socket. */
export interface ProposalRecord {
  name: string;
  kind: ProposalKind;
  /** `--value` (a convergence point's approval: the point, its streams and the merge to review). */
  value: unknown;
  /** The stream (or `pid:N`) that proposed it; null for the run's own proposals. */
  proposer: string | null;
  voters: string[];
  /** As written: `majority`, `all`, `K`, `P%`. */
  quorum: string;
  /** Yes-votes needed. */
  needed: number;
  timeoutMs: number | null;
  createdAt: string;
  /** When votes started to be tallied; null while a prepared proposal waits to open. */
  openedAt: string | null;
  deadline: string | null;
  votes: VoteRecord[];
  yes: number;
  no: number;
  state: ProposalState;
  reason: DecisionReason | null;
  decidedAt: string | null;
}
