/**
 * Whether a stream may start, given what it waits for (the run's graph says: src/graph/) and
 * where those nodes are now: a stream must have succeeded, a convergence point must be done,
 * a `gather: first` group needs one member's success and a `gather: vote` group its replicas'
 * agreement on a result. A wait that can no longer be met makes the stream `skipped`. The
 * graph knows what the nodes are; this file knows only what their run-time states mean.
 */
import type { DependencyFailed, FailedWait } from '../core/failures.js';
import { unreachable } from '../core/unreachable.js';
import { TERMINAL_STREAM_STATES, type PointState, type StreamState } from '../events/types.js';
import type { GroupRef, WaitRef } from '../graph/graph.js';
import type { VoteGroupState } from './vote-groups.js';

/** May start; waits still; can never start (`because` says which wait failed). */
export type Verdict = { kind: 'ready' } | { kind: 'blocked' } | { kind: 'failed'; because: string };

/** The verdict with the failure of a stream that can never start: which wait failed, as a value. */
export type Judgement = { kind: 'ready' } | { kind: 'blocked' } | { kind: 'failed'; failure: DependencyFailed };

/** The run-time state of the graph's nodes. */
export interface DependencyView {
  streamState(id: string): StreamState | undefined;
  pointState(id: string): PointState | undefined;
  /** A `gather: vote` group's decision: met when it won, failed when it lost. */
  voteState(group: GroupRef): VoteGroupState | undefined;
}

const failedOn = (wait: FailedWait): Judgement => ({ kind: 'failed', failure: { reason: 'dependency-failed', wait } });

/**
 * The judgement over `waits` (in their order: the first wait that failed is the one named).
 * A node the view does not know is no wait (as a name nothing in the run has).
 */
export function dependencyJudgement(waits: readonly WaitRef[], view: DependencyView): Judgement {
  let ready = true;
  for (const w of waits) {
    if (w.kind === 'group' && w.gather === 'vote') {
      const vote = view.voteState(w);
      if (vote === 'lost') return failedOn({ kind: 'group', id: w.id, gather: 'vote' });
      if (vote === 'pending') ready = false;
    } else if (w.kind === 'group') {
      const states = w.members.map((m) => view.streamState(m));
      if (states.includes('succeeded')) continue;
      if (states.every((st) => st !== undefined && TERMINAL_STREAM_STATES.has(st))) return failedOn({ kind: 'group', id: w.id, gather: 'first' });
      ready = false;
    } else if (w.kind === 'stream') {
      const stream = view.streamState(w.id);
      if (stream === undefined || stream === 'succeeded') continue;
      if (stream === 'failed' || stream === 'skipped' || stream === 'cancelled') return failedOn({ kind: 'stream', id: w.id, state: stream });
      ready = false;
    } else {
      const point = view.pointState(w.id);
      if (point === 'failed') return failedOn({ kind: 'point', id: w.id });
      if (point !== undefined && point !== 'done') ready = false;
    }
  }
  return ready ? { kind: 'ready' } : { kind: 'blocked' };
}

/** Why a stream was skipped, in words (the `because` of its `stream-skipped` event). */
export function becauseOf(failure: DependencyFailed): string {
  const { wait } = failure;
  switch (wait.kind) {
    case 'stream':
      return `stream "${wait.id}" ${wait.state}`;
    case 'point':
      return `convergence point "${wait.id}" failed`;
    case 'group':
      return wait.gather === 'vote' ? `the replicas of "${wait.id}" did not agree on a result` : `no replica of "${wait.id}" succeeded`;
    default:
      return unreachable(wait);
  }
}

/** The verdict over `waits`: the judgement, with the failed wait in words. */
export function dependencyVerdict(waits: readonly WaitRef[], view: DependencyView): Verdict {
  const j = dependencyJudgement(waits, view);
  return j.kind === 'failed' ? { kind: 'failed', because: becauseOf(j.failure) } : j;
}
