/**
 * The coordination storage of runs sits behind this one interface: the run registry, stream
 * and convergence records, and the event log. The file system is the embedded default
 * (src/backend/file); another engine (Redis) plugs in here without touching the scheduler.
 * test/backend/contract.ts runs one suite against every implementation.
 */
import type { CoordEvent, PointState, RunState, StreamState, FailureReason } from '../events/types.js';
import type { ConvergenceType } from '../plan/types.js';
import type { ProposalRecord } from '../consensus/board.js';
import type { QueueEngine } from '../queue/engine.js';

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
  /** `approve:` points: the decision on the merge waiting in `review` (see src/orchestrator/convergence.ts). */
  approval?: { state: 'pending' | 'accepted' | 'rejected'; review: string };
  /** Each conflicting path with the streams that changed it. */
  conflictStreams?: Array<{ path: string; streams: string[] }>;
  /** Where a conflict's material waits to be resolved (`<run>/conflicts/<point>/`); then `coord continue` goes on. */
  conflictDir?: string | null;
  /** What the point merges as (type, streams, policies, the streams' outputs): a `--resume` with another one merges again. */
  fingerprint?: string;
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

/** One version of a versioned document (the shared state, a queue consumer's cursor). */
export interface DocVersion<T = unknown> {
  version: number;
  /** Milliseconds since the epoch when it was written. */
  time: number;
  data: T;
  /** What its writer recorded beside the data (the state's change-log entry). */
  meta?: unknown;
}

/**
 * Versioned documents of a run: `state` (the shared state) and `consumer/<topic>/<name>`
 * (a queue consumer's cursor and pending deliveries).
 */
export type DocKey = 'state' | `consumer/${string}/${string}`;
/**
 * Numbered append-only logs of a run: `changes` (the state's change log, numbered by state
 * version), `snapshots` (durable state snapshots, numbered by version), `topic/<name>` (a
 * queue topic's messages).
 */
export type LogKey = 'changes' | 'snapshots' | `topic/${string}`;

export interface DocCommitOptions {
  /** How many newest versions stay stored (older ones are removed). */
  keep?: number;
  /** Flush to disk before returning (survives power loss, not only a crash). */
  durable?: boolean;
  /** Stored with the version. */
  meta?: unknown;
  /**
   * Entries that go with the version, written at its number in these logs: with the commit,
   * and never lost when the writer dies right after it (a later commit, or the removal of old
   * versions, writes them), so the logs have no holes.
   */
  logs?: Partial<Record<LogKey, unknown>>;
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
  /** The newest version of a document; undefined before its first. */
  docRead<T>(runId: string, key: DocKey): Promise<DocVersion<T> | undefined>;
  /** One version, while it is still stored. */
  docReadVersion<T>(runId: string, key: DocKey, version: number): Promise<DocVersion<T> | undefined>;
  /** The version numbers still stored, newest first. */
  docVersions(runId: string, key: DocKey): Promise<number[]>;
  /**
   * Compare-and-set: stores `data` as version `expected + 1` when `expected` is the newest
   * version (0: none yet). Null, with nothing written, when another writer moved it first.
   */
  docCommit<T>(runId: string, key: DocKey, expected: number, data: T, opts?: DocCommitOptions): Promise<DocVersion<T> | null>;
  /** Stores `v` under its own number when that is above every stored version (restoring a snapshot); false otherwise. */
  docRestore<T>(runId: string, key: DocKey, v: DocVersion<T>, opts?: DocCommitOptions): Promise<boolean>;
  /** Appends at one past the newest entry (never leaving a gap); returns the entry's number (from 1). */
  logAppend<T>(runId: string, key: LogKey, body: T, opts?: { durable?: boolean }): Promise<number>;
  /** Writes entry `seq` when that number is free; false when it is taken (entries are never replaced). */
  logPut<T>(runId: string, key: LogKey, seq: number, body: T, opts?: { durable?: boolean }): Promise<boolean>;
  logGet<T>(runId: string, key: LogKey, seq: number): Promise<T | undefined>;
  /** Entries from `from` on, in order, at most `limit`. */
  logRange<T>(runId: string, key: LogKey, from?: number, limit?: number): Promise<Array<{ seq: number; body: T }>>;
  /** The newest entry's number; 0 when empty. */
  logHead(runId: string, key: LogKey): Promise<number>;
  /** Calls `onChange` when entries may have been added to the log; returns the function that stops it. */
  watchLog(runId: string, key: LogKey, onChange: () => void): () => void;
  /** Queue topics of the run, by name. */
  topics(runId: string): Promise<string[]>;
  /** Consumers (cursor names) of a topic, by name. */
  consumers(runId: string, topic: string): Promise<string[]>;
  /**
   * The backend's own engine for the run's queue consumers (Redis: Streams consumer groups);
   * absent where consumers are cursors over the topic logs (src/queue/cursors.ts).
   */
  queueEngine?(runId: string): QueueEngine;
  /**
   * The coordinator's lease on a run, where the engine can expire keys (Redis): held while the
   * coordinator lives (renewed well within `ttlMs`), so that hosts other than the
   * coordinator's can tell a live run from one whose coordinator died. Absent on files, which
   * only the coordinator's host reads (it asks the process table).
   */
  holdLease?(runId: string, ttlMs: number): Promise<void>;
  dropLease?(runId: string): Promise<void>;
  /** Whether the run's coordinator holds its lease now. */
  leaseHeld?(runId: string): Promise<boolean>;
  /**
   * Heartbeats of running attempts as keys that expire (Redis): `putBeat` stores the beat of
   * an attempt for `ttlMs` (its `heartbeat.timeout`), unless a newer attempt's beat is stored;
   * `endBeat` deletes it when the attempt ends; `readBeats` reads those stored now. Absent on
   * files, where the heartbeat files themselves are read on the one host that runs streams.
   */
  putBeat?(runId: string, stream: string, beat: StreamBeat, ttlMs: number): Promise<void>;
  endBeat?(runId: string, stream: string, attempt: number): Promise<void>;
  readBeats?(runId: string, streams: string[]): Promise<Map<string, StreamBeat & { ttlMs: number }>>;
  /** Deletes everything stored for the run. */
  removeRun(id: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A backend as one host uses it: the shared storage, plus the directory where this host keeps
 * the local files of runs (stream output, heartbeats, the control socket, merged outputs).
 */
export interface HostBackend extends Backend {
  /** The `.coord` directory of this host. */
  readonly home: string;
  /** Where the runs are stored, for messages (a directory, or a server without credentials). */
  readonly where: string;
  /** This host's directory of run `id`: `<home>/runs/<id>`. */
  runDir(id: string): string;
}
