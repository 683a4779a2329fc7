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
