/**
 * Why a stream or a convergence point did not succeed, as a value: one variant per reason,
 * keyed by `reason` (the string the records and events carry, SPEC §5), with the data of that
 * reason. The engine decides an end as one of these (src/orchestrator/exit-policy.ts) and the
 * records and events take their `reason` from it in one place, so a reason added here fails
 * the build wherever a switch over it forgot it (see core/unreachable.ts).
 *
 * Variants decided outside the exit policy (a skipped dependency, the failures of points)
 * carry no data yet: the units that decide them still pass the bare reason.
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
  /** `disk full: <path>`, naming the log file. */
  message: string;
}

/** The stream's output could not be written to its log file for another reason (an I/O error). */
export interface LogError {
  reason: 'log-error';
  message: string;
}

/** A reason with no data of its own (or none its deciders pass yet). */
export interface Plain<R extends string> {
  reason: R;
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
  /** the run was stopped (a signal, `coord stop`) */
  | Plain<'cancelled'>
  /** a replica stopped because its `gather` group no longer needs it */
  | Plain<'superseded'>
  /** every convergence point the stream feeds had failed */
  | Plain<'point-failed'>
  /** a convergence point's timeout stopped the streams it waited for */
  | Plain<'point-timeout'>
  /** a dependency did not succeed, so the stream never ran */
  | Plain<'dependency-failed'>
  /** convergence points: conflicting changes, a merge that failed, a failed stream, a rejected approval, replicas that did not agree */
  | Plain<'conflict'>
  | Plain<'merge-error'>
  | Plain<'stream-failed'>
  | Plain<'rejected'>
  | Plain<'no-majority'>;

/** The reasons for which the engine itself stops a running attempt. */
export type StopReason = 'timeout' | 'heartbeat-timeout' | 'point-timeout' | 'superseded' | 'point-failed';
