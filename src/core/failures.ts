/**
 * Why a stream or a convergence point did not succeed, as a value: one variant per reason,
 * keyed by `reason` (the string the records and events carry, SPEC §5), with the data of that
 * reason. The engine decides an end as one of these (src/orchestrator/exit-policy.ts) and the
 * records and events take their `reason` from it in one place, so a reason added here fails
 * the build wherever a switch over it forgot it (see core/unreachable.ts). The units that
 * decide an end elsewhere (the scheduler's skip of a stream whose dependency failed, a launch
 * called off, a stop of the run, a convergence point's failure) construct the variant too.
 *
 * The data of the engine's stops (a stop of the run, a replica superseded, a stream stopped
 * for its points) is optional: the exit policy may be told only the bare reason a stop was
 * made for, and then the failure names no more than that.
 */

/** The process exited with a code other than 0. */
export interface ExitNonZero {
  reason: 'exit-non-zero';
  /** null for a process that left neither an exit code nor a signal (its record says the same). */
  exitCode: number | null;
}

/** The process was ended by a signal it did not handle. */
export interface ExitSignal {
  reason: 'signal';
  signal: string;
}

/** The process could not be started (ENOENT, EACCES, …). */
export interface SpawnError {
  reason: 'spawn-error';
  message: string;
}

/** The stream ran past its `timeout` and was stopped. */
export interface StreamTimeout {
  reason: 'timeout';
  /** The stream's `timeout` (null only when a stop for a timeout came without one). */
  limitMs: number | null;
}

/** No heartbeat within the plan's `heartbeat.timeout`, and no restart left. */
export interface HeartbeatTimeout {
  reason: 'heartbeat-timeout';
  limitMs: number;
}

/** A remote stream's worker was lost more often than `max_restarts` allows. */
export interface WorkerLost {
  reason: 'worker-lost';
  /** Why the worker counts as lost (as the warning said it). */
  why: string;
}

/** A remote stream's outputs could not come back to the coordinator. */
export interface OutputsError {
  reason: 'outputs-error';
  message: string;
}

/** The stream's output could not be stored: its log file's disk (or quota) was full. */
export interface DiskFull {
  reason: 'disk-full';
  /** `disk full: <path>`, naming the log file (or the workspace a launch could not prepare). */
  message: string;
}

/** The stream's output could not be written to its log file for another reason (an I/O error). */
export interface LogError {
  reason: 'log-error';
  message: string;
}

/** How the run was stopped: a signal (`interrupted`) or `coord stop` (`cancelled`). */
export type RunStop = 'interrupted' | 'cancelled';

/** The run was stopped before the stream (or the point) ended. */
export interface Cancelled {
  reason: 'cancelled';
  /** What stopped the run, as the run's flags know it (absent when the end came without a stop: an approval the run's end cut short). */
  stop?: RunStop | undefined;
}

/** A replica stopped because its `gather` group no longer needs it. */
export interface Superseded {
  reason: 'superseded';
  /** The group whose success (`gather: first`) or decision (`gather: vote`) stopped it. */
  group?: string | undefined;
  /** The replica that won the group (absent when a vote group was lost: no replica won). */
  winner?: string | undefined;
}

/** Every convergence point the stream feeds had failed: its work could no longer be merged. */
export interface PointFailed {
  reason: 'point-failed';
  /** The failed points. */
  points?: string[] | undefined;
}

/** A convergence point's timeout: the point failed, and it stopped the streams it waited for. */
export interface PointTimeout {
  reason: 'point-timeout';
  point?: string | undefined;
  /** The point's `timeout`. */
  limitMs?: number | undefined;
}

/** A wait of a stream that can no longer be met. */
export type FailedWait =
  /** a stream that ended without success, and the state it ended in */
  | { kind: 'stream'; id: string; state: 'failed' | 'skipped' | 'cancelled' }
  /** a convergence point that failed */
  | { kind: 'point'; id: string }
  /** a `gather: first` group none of whose replicas succeeded, or a `gather: vote` group whose replicas did not agree */
  | { kind: 'group'; id: string; gather: 'first' | 'vote' };

/** A dependency did not succeed, so the stream never ran. */
export interface DependencyFailed {
  reason: 'dependency-failed';
  /** The first of its waits (in their order) that failed. */
  wait: FailedWait;
}

/** A convergence point's merge met conflicting changes. */
export interface Conflict {
  reason: 'conflict';
  /** Each conflicting path and the streams that changed it. */
  conflicts: Array<{ path: string; streams: string[] }>;
}

/** A merge (a point's, or the commit of a worktree stream's work) failed. */
export interface MergeError {
  reason: 'merge-error';
  message: string;
}

/** A stream a convergence point waited for did not succeed. */
export interface StreamFailed {
  reason: 'stream-failed';
  /** The streams that did not succeed (all of them under `keep_going`). */
  streams: string[];
}

/** A convergence point's approval was rejected (or timed out). */
export interface Rejected {
  reason: 'rejected';
  /** The decision as the approval told it (its votes). */
  message: string;
}

/** The replicas of a `gather: vote` group did not agree on one result. */
export interface NoMajority {
  reason: 'no-majority';
  group: string;
  /** Each finished replica's result digest (null: it did not succeed), in completion order. */
  results: Array<{ stream: string; digest: string | null }>;
}

/** A merge did not pass its point's check (`verify:`). */
export interface VerifyFailed {
  reason: 'verify-failed';
  /** The point whose check it is. */
  point: string;
  /**
   * For a point: its merge failed the check (and, with `exclude`, the search could not finish).
   * For a stream: the search found its changes to break the check, and they were left out.
   */
  message: string;
}

/** Every way a stream or a point can end without success. */
export type Failure =
  | ExitNonZero
  | ExitSignal
  | SpawnError
  | StreamTimeout
  | HeartbeatTimeout
  | WorkerLost
  | OutputsError
  | DiskFull
  | LogError
  | Cancelled
  | Superseded
  | PointFailed
  | PointTimeout
  | DependencyFailed
  | Conflict
  | MergeError
  | StreamFailed
  | Rejected
  | NoMajority
  | VerifyFailed;

/** How a convergence point fails. */
export type PointFailure = Cancelled | PointTimeout | Conflict | MergeError | StreamFailed | Rejected | NoMajority | VerifyFailed;

/** Why the engine stops a stream for another's sake: its launch is called off, or its process stopped. */
export type EngineStop = Superseded | PointFailed | PointTimeout;

/** The reasons for which the engine itself stops a running attempt. */
export type StopReason = 'timeout' | 'heartbeat-timeout' | 'point-timeout' | 'superseded' | 'point-failed';
