/**
 * The exit policy: how a run's end becomes its state and `coord run`'s exit code (SPEC §1):
 * 0 every stream and point succeeded, 1 something failed, 130 interrupted or cancelled.
 */
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
  /** Why the engine was stopping the attempt, if it was. */
  killReason: FailureReason | undefined;
  /** The remote attempt's worker was lost (why). */
  lost?: string | undefined;
  /** The stream's output could not be stored (and whether for a full disk). */
  logError?: { diskFull: boolean } | undefined;
  /** The worker could not send the attempt's outputs back. */
  outputsError?: boolean;
  /** The process could not be started. */
  spawnError?: boolean;
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
  /** Now, on the wall clock (retry backoff ends at `now + delay`). */
  now: number;
}

/** What becomes of a stream after an attempt ended. */
export type ExitDecision =
  | { kind: 'end'; state: 'succeeded' | 'failed' | 'cancelled'; reason: FailureReason | null }
  /** Exited 0 in a git worktree: committed on its branch, then succeeded (or failed). */
  | { kind: 'commit' }
  /** Runs again after a backoff (`retries`), waiting until `notBefore`. */
  | { kind: 'retry'; reason: 'signal' | 'exit-non-zero'; delayMs: number; notBefore: number }
  /** Runs again at once as a restart (the guardian after a stall, or a lost worker), recovering. */
  | { kind: 'restart'; reason: 'heartbeat-timeout' | 'worker-lost' };

/**
 * The exit policy of one attempt, in the order the cases win: a lost worker (restarted while
 * `max_restarts` allows), the run stopping, a stream stopped for another's sake, output that
 * could not be stored, a guardian restart after a stall, the reason it was stopped, a spawn
 * error, success, and a failure retried while `retries` allows.
 */
export function exitDecision(end: AttemptEnd): ExitDecision {
  if (end.lost !== undefined) return lostDecision(end);
  if (end.stopping) return { kind: 'end', state: 'cancelled', reason: 'cancelled' };
  if (end.killReason === 'superseded' || end.killReason === 'point-failed') return { kind: 'end', state: 'cancelled', reason: end.killReason };
  if (end.logError) return { kind: 'end', state: 'failed', reason: end.logError.diskFull ? 'disk-full' : 'log-error' };
  if (end.outputsError) return { kind: 'end', state: 'failed', reason: 'outputs-error' };
  if (end.killReason === 'heartbeat-timeout' && end.restarts < end.maxRestarts) return { kind: 'restart', reason: 'heartbeat-timeout' };
  if (end.killReason) return { kind: 'end', state: 'failed', reason: end.killReason };
  if (end.spawnError && end.exitCode === null) return { kind: 'end', state: 'failed', reason: 'spawn-error' };
  if (end.exitCode === 0) return end.worktree ? { kind: 'commit' } : { kind: 'end', state: 'succeeded', reason: null };
  const reason = end.signal ? 'signal' : 'exit-non-zero';
  if (end.attempt <= end.retries) {
    const delayMs = retryDelayMs(end.attempt);
    return { kind: 'retry', reason, delayMs, notBefore: end.now + delayMs };
  }
  return { kind: 'end', state: 'failed', reason };
}

/** A remote attempt whose worker was lost (at its launch or while it ran). */
export function lostDecision(end: Pick<AttemptEnd, 'stopping' | 'killReason' | 'restarts' | 'maxRestarts'>): Exclude<ExitDecision, { kind: 'commit' | 'retry' }> {
  if (end.stopping) return { kind: 'end', state: 'cancelled', reason: 'cancelled' };
  if (end.killReason === 'superseded') return { kind: 'end', state: 'cancelled', reason: 'superseded' };
  if (end.restarts < end.maxRestarts) return { kind: 'restart', reason: 'worker-lost' };
  return { kind: 'end', state: 'failed', reason: 'worker-lost' };
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
