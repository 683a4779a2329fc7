/**
 * The exit policy: how a run's end becomes its state and `coord run`'s exit code (SPEC §1):
 * 0 every stream and point succeeded, 1 something failed, 130 interrupted or cancelled.
 */
import type { EngineStop, ExitNonZero, ExitSignal, Failure, HeartbeatTimeout, RunStop, StopReason, WorkerLost } from '../core/failures.js';
import { unreachable } from '../core/unreachable.js';
import type { FailureReason, PointState, RunState, StreamState } from '../events/types.js';

export interface RunEnd {
  /** Why the run was stopped early, if it was (a signal, or `coord stop`). */
  stopping: 'interrupted' | 'cancelled' | undefined;
  /** The run record asks for a cancel (`coord stop` from another host). */
  cancelRequested: boolean;
  /** The run met a full disk: what it stored is not whole, so it fails whatever its streams did. */
  diskFull?: boolean;
  streams: ReadonlyArray<{ id: string; state: StreamState; reason: FailureReason | null }>;
  points: ReadonlyArray<{ state: PointState }>;
  /** A stream that counts as succeeded because its vote group won. */
  voteWon: (id: string) => boolean;
  /** How many vote groups did not agree on a result. */
  unsettledVoteGroups: number;
}

/** The state a run ends in. A stream that lost to a replacement (`superseded`) does not fail it. */
export function runEndState(end: RunEnd): RunState {
  if (end.stopping) return end.cancelRequested ? 'cancelled' : end.stopping;
  if (end.diskFull) return 'failed';
  const streamsOk = end.streams.every((s) => s.state === 'succeeded' || s.reason === 'superseded' || end.voteWon(s.id));
  const ok = streamsOk && end.unsettledVoteGroups === 0 && end.points.every((p) => p.state === 'done');
  return ok ? 'succeeded' : 'failed';
}

/** The exit code of a run that ended in `state`. */
export function exitCodeOf(state: RunState): number {
  if (state === 'succeeded') return 0;
  if (state === 'failed') return 1;
  return 130;
}

/** Retry backoff: base * 2^(attempt-1), capped. */
export const RETRY_BACKOFF_BASE_MS = 1000;
export const RETRY_BACKOFF_CAP_MS = 30_000;

/** How long a stream waits before attempt `attempt + 1` after attempt `attempt` failed. */
export function retryDelayMs(attempt: number): number {
  return Math.min(RETRY_BACKOFF_CAP_MS, RETRY_BACKOFF_BASE_MS * 2 ** (attempt - 1));
}

/** How one attempt ended, and what the stream has left (the input of `exitDecision`). */
export interface AttemptEnd {
  /** The run is being stopped (a signal, `coord stop`). */
  stopping: boolean;
  /** What stopped the run, when it is being stopped (named by its `cancelled`). */
  stoppedBy?: RunStop | undefined;
  /** Why the engine was stopping the attempt, if it was. */
  killReason: StopReason | undefined;
  /** The engine's stop for another's sake, with its data (used when `killReason` is its reason). */
  stop?: EngineStop | undefined;
  /** The remote attempt's worker was lost (why). */
  lost?: string | undefined;
  /** The stream's output could not be stored (why, and whether for a full disk). */
  logError?: { diskFull: boolean; message: string } | undefined;
  /** The worker could not send the attempt's outputs back (why). */
  outputsError?: string | undefined;
  /** The process could not be started (the error's message). */
  spawnError?: string | undefined;
  exitCode: number | null;
  signal: string | null;
  /** A git worktree stream: success is committed first. */
  worktree: boolean;
  /** The attempt that ended (1 the first) and the plan's `retries`. */
  attempt: number;
  retries: number;
  /** Restarts made so far and the guardian's `max_restarts`. */
  restarts: number;
  maxRestarts: number;
  /** The limits a stop for a timeout names: the stream's `timeout` (if any) and the plan's heartbeat timeout. */
  timeoutMs: number | undefined;
  heartbeatTimeoutMs: number;
  /** Now, on the wall clock (retry backoff ends at `now + delay`). */
  now: number;
}

/** What becomes of a stream after an attempt ended. */
export type ExitDecision =
  /** The stream ends in `state`: with its failure, or none when it succeeded. */
  | { kind: 'end'; state: 'succeeded'; failure: null }
  | { kind: 'end'; state: 'failed' | 'cancelled'; failure: Failure }
  /** Exited 0 in a git worktree: committed on its branch, then succeeded (or failed). */
  | { kind: 'commit' }
  /** Runs again after a backoff (`retries`), waiting until `notBefore`. */
  | { kind: 'retry'; failure: ExitNonZero | ExitSignal; delayMs: number; notBefore: number }
  /** Runs again at once as a restart (the guardian after a stall, or a lost worker), recovering. */
  | { kind: 'restart'; failure: HeartbeatTimeout | WorkerLost };

/** `cancelled`, naming what stopped the run when the policy was told. */
const runStopped = (stop: RunStop | undefined): Failure => (stop ? { reason: 'cancelled', stop } : { reason: 'cancelled' });
const failed = (failure: Failure): ExitDecision => ({ kind: 'end', state: 'failed', failure });
const cancelled = (failure: Failure): Extract<ExitDecision, { kind: 'end' }> => ({ kind: 'end', state: 'cancelled', failure });

/** The failure of a stop for another's sake: the stop as it was made, or only its reason when that is all the policy was told. */
function engineStop(reason: EngineStop['reason'], stop: EngineStop | undefined): EngineStop {
  return stop?.reason === reason ? stop : { reason };
}

/** The failure of an attempt the engine stopped for `reason`, with that reason's data. */
function stoppedFor(reason: StopReason, end: Pick<AttemptEnd, 'timeoutMs' | 'heartbeatTimeoutMs' | 'stop'>): Failure {
  switch (reason) {
    case 'timeout':
      return { reason, limitMs: end.timeoutMs ?? null };
    case 'heartbeat-timeout':
      return { reason, limitMs: end.heartbeatTimeoutMs };
    case 'point-timeout':
    case 'superseded':
    case 'point-failed':
      return engineStop(reason, end.stop);
    default:
      return unreachable(reason);
  }
}

/**
 * The exit policy of one attempt, in the order the cases win: a lost worker (restarted while
 * `max_restarts` allows), the run stopping, a stream stopped for another's sake, output that
 * could not be stored, a guardian restart after a stall, the reason it was stopped, a spawn
 * error, success, and a failure retried while `retries` allows.
 */
export function exitDecision(end: AttemptEnd): ExitDecision {
  if (end.lost !== undefined) return lostDecision({ ...end, lost: end.lost });
  if (end.stopping) return cancelled(runStopped(end.stoppedBy));
  if (end.killReason === 'superseded' || end.killReason === 'point-failed') return cancelled(engineStop(end.killReason, end.stop));
  if (end.logError) return failed({ reason: end.logError.diskFull ? 'disk-full' : 'log-error', message: end.logError.message });
  if (end.outputsError) return failed({ reason: 'outputs-error', message: end.outputsError });
  if (end.killReason === 'heartbeat-timeout' && end.restarts < end.maxRestarts)
    return { kind: 'restart', failure: { reason: 'heartbeat-timeout', limitMs: end.heartbeatTimeoutMs } };
  if (end.killReason) return failed(stoppedFor(end.killReason, end));
  if (end.spawnError && end.exitCode === null) return failed({ reason: 'spawn-error', message: end.spawnError });
  if (end.exitCode === 0) return end.worktree ? { kind: 'commit' } : { kind: 'end', state: 'succeeded', failure: null };
  const failure: ExitNonZero | ExitSignal = end.signal ? { reason: 'signal', signal: end.signal } : { reason: 'exit-non-zero', exitCode: end.exitCode };
  if (end.attempt <= end.retries) {
    const delayMs = retryDelayMs(end.attempt);
    return { kind: 'retry', failure, delayMs, notBefore: end.now + delayMs };
  }
  return failed(failure);
}

/** A remote attempt whose worker was lost (at its launch or while it ran), and why. */
export function lostDecision(
  end: Pick<AttemptEnd, 'stopping' | 'stoppedBy' | 'killReason' | 'stop' | 'restarts' | 'maxRestarts'> & { lost: string },
): Exclude<ExitDecision, { kind: 'commit' | 'retry' }> {
  if (end.stopping) return cancelled(runStopped(end.stoppedBy));
  if (end.killReason === 'superseded') return cancelled(engineStop('superseded', end.stop));
  const failure: WorkerLost = { reason: 'worker-lost', why: end.lost };
  if (end.restarts < end.maxRestarts) return { kind: 'restart', failure };
  return { kind: 'end', state: 'failed', failure };
}

/**
 * The `reason` a record and an event carry for `failure` (none for a success): the one place a
 * failure value becomes the strings of SPEC §5. Its type proves every reason of a
 * {@link Failure} is a {@link FailureReason} of the events (test/core/failures.test.ts proves
 * the converse).
 */
export function reasonOf(failure: Failure | null): FailureReason | null {
  return failure ? failure.reason : null;
}

/**
 * `gather: first`: the first member to succeed wins its group; the other members are to be
 * stopped (superseded). Returns those members, or nothing when the group was already won or
 * `id` is in no such group. Marks the group won.
 */
export function firstWins(group: { members: readonly string[]; won: boolean; winner?: string } | undefined, id: string): string[] {
  if (!group || group.won) return [];
  group.won = true;
  group.winner = id;
  return group.members.filter((m) => m !== id);
}
