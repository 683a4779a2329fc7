/**
 * Whether a stream may start, given what it waits for (the run's graph says: src/graph/) and
 * where those nodes are now: a stream must have succeeded, a convergence point must be done,
 * a `gather: first` group needs one member's success and a `gather: vote` group its replicas'
 * agreement on a result. A wait that can no longer be met makes the stream `skipped`. The
 * graph knows what the nodes are; this file knows only what their run-time states mean.
 */
import { TERMINAL_STREAM_STATES, type PointState, type StreamState } from '../events/types.js';
import type { GroupRef, WaitRef } from '../graph/graph.js';
import type { VoteGroupState } from './vote-groups.js';

/** May start; waits still; can never start (`because` says which wait failed). */
export type Verdict = { kind: 'ready' } | { kind: 'blocked' } | { kind: 'failed'; because: string };

/** The run-time state of the graph's nodes. */
export interface DependencyView {
  streamState(id: string): StreamState | undefined;
  pointState(id: string): PointState | undefined;
  /** A `gather: vote` group's decision: met when it won, failed when it lost. */
  voteState(group: GroupRef): VoteGroupState | undefined;
}

/**
 * The verdict over `waits` (in their order: the first wait that failed is the one named).
 * A node the view does not know is no wait (as a name nothing in the run has).
 */
export function dependencyVerdict(waits: readonly WaitRef[], view: DependencyView): Verdict {
  let ready = true;
  for (const w of waits) {
    if (w.kind === 'group' && w.gather === 'vote') {
      const vote = view.voteState(w);
      if (vote === 'lost') return { kind: 'failed', because: `the replicas of "${w.id}" did not agree on a result` };
      if (vote === 'pending') ready = false;
    } else if (w.kind === 'group') {
      const states = w.members.map((m) => view.streamState(m));
      if (states.includes('succeeded')) continue;
      if (states.every((st) => st !== undefined && TERMINAL_STREAM_STATES.has(st))) return { kind: 'failed', because: `no replica of "${w.id}" succeeded` };
      ready = false;
    } else if (w.kind === 'stream') {
      const stream = view.streamState(w.id);
      if (stream === undefined || stream === 'succeeded') continue;
      if (TERMINAL_STREAM_STATES.has(stream)) return { kind: 'failed', because: `stream "${w.id}" ${stream}` };
      ready = false;
    } else {
      const point = view.pointState(w.id);
      if (point === 'failed') return { kind: 'failed', because: `convergence point "${w.id}" failed` };
      if (point !== undefined && point !== 'done') ready = false;
    }
  }
  return ready ? { kind: 'ready' } : { kind: 'blocked' };
}
