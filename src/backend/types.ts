/**
 * The coordination storage of runs sits behind this one interface: the run registry, stream
 * and convergence records, and the event log. The file system is the embedded default
 * (src/backend/file); another engine (Redis) plugs in here without touching the scheduler.
 * test/backend/contract.ts runs one suite against every implementation.
 */
import type { CoordEvent, PointState, RunState, StreamState, FailureReason } from '../events/types.js';
import type { ConvergenceType } from '../plan/types.js';
import type { ProposalRecord } from '../consensus/board.js';

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
  /** Set by `coord stop`: the run ends as `cancelled` rather than `interrupted`. */
  cancelRequested?: boolean;
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
  /** `approve:` points: the decision on the merge waiting in `review` (see src/orchestrator/convergence.ts). */
  approval?: { state: 'pending' | 'accepted' | 'rejected'; review: string };
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

export interface Backend {
  readonly kind: string;
  /** Creates the storage of a new run; fails when the id exists. */
  createRun(run: RunRecord, planText: string): Promise<void>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Every run, newest first. */
  listRuns(): Promise<RunRecord[]>;
  updateRun(id: string, patch: Partial<Omit<RunRecord, 'id'>>): Promise<RunRecord>;
  /** Stores stream records (replacing earlier records of the same ids), as one write where the engine allows. */
  putStreams(runId: string, records: readonly StreamRecord[]): Promise<void>;
  listStreams(runId: string): Promise<StreamRecord[]>;
  putPoint(runId: string, record: PointRecord): Promise<void>;
  listPoints(runId: string): Promise<PointRecord[]>;
  /** Replaces the run's resource pool records (written by its coordinator as units move). */
  putPools(runId: string, pools: readonly PoolRecord[]): Promise<void>;
  /** The last pool records written; undefined when none were (a run without pools, or an older run). */
  getPools(runId: string): Promise<PoolRecord[] | undefined>;
  /** Stores a proposal (replacing the record of the same name). */
  putProposal(runId: string, record: ProposalRecord): Promise<void>;
  getProposal(runId: string, name: string): Promise<ProposalRecord | undefined>;
  /** Every proposal of the run, by name. */
  listProposals(runId: string): Promise<ProposalRecord[]>;
  /** Appends to the run's event log; events of one writer keep their order. */
  appendEvent(runId: string, event: CoordEvent): Promise<void>;
  /** Events from `cursor` on (0 = the beginning) and the cursor to continue from. */
  readEvents(runId: string, cursor?: number): Promise<{ events: CoordEvent[]; cursor: number }>;
  /** Deletes everything stored for the run. */
  removeRun(id: string): Promise<void>;
  close(): Promise<void>;
}
