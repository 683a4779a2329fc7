/**
 * Whether a stream may start: each dependency is a stream (it must have succeeded), a
 * convergence point (it must be done), or a member of a `gather: first` group (one member's
 * success is enough) or of a `gather: vote` group (its replicas must have agreed on a
 * result). A dependency that can no longer be met makes the stream `skipped`.
 */
import { TERMINAL_STREAM_STATES, type PointState, type StreamState } from '../events/types.js';

export type Verdict = { kind: 'ready' } | { kind: 'blocked' } | { kind: 'failed'; because: string };

export interface DependencyView {
  streamState(id: string): StreamState | undefined;
  pointState(id: string): PointState | undefined;
  /** The `gather: first` group a stream belongs to, if any. */
  firstGroupOf(id: string): { id: string; members: string[] } | undefined;
  /** The `gather: vote` group a stream belongs to, if any: met when it won, failed when it lost. */
  voteGroupOf?(id: string): { id: string; state: 'pending' | 'won' | 'lost' } | undefined;
}

export function dependencyVerdict(dependsOn: readonly string[], view: DependencyView): Verdict {
  let ready = true;
  const seenGroups = new Set<string>();
  for (const dep of dependsOn) {
    const vote = view.voteGroupOf?.(dep);
    if (vote) {
      if (seenGroups.has(vote.id)) continue;
      seenGroups.add(vote.id);
      if (vote.state === 'lost') return { kind: 'failed', because: `the replicas of "${vote.id}" did not agree on a result` };
      if (vote.state === 'pending') ready = false;
      continue;
    }
    const group = view.firstGroupOf(dep);
    if (group) {
      if (seenGroups.has(group.id)) continue;
      seenGroups.add(group.id);
      const states = group.members.map((m) => view.streamState(m));
      if (states.includes('succeeded')) continue;
      if (states.every((st) => st !== undefined && TERMINAL_STREAM_STATES.has(st))) {
        return { kind: 'failed', because: `no replica of "${group.id}" succeeded` };
      }
      ready = false;
      continue;
    }
    const stream = view.streamState(dep);
    if (stream !== undefined) {
      if (stream === 'succeeded') continue;
      if (TERMINAL_STREAM_STATES.has(stream)) return { kind: 'failed', because: `stream "${dep}" ${stream}` };
      ready = false;
      continue;
    }
    const point = view.pointState(dep);
    if (point === 'done') continue;
    if (point === 'failed') return { kind: 'failed', because: `convergence point "${dep}" failed` };
    if (point !== undefined) ready = false;
  }
  return ready ? { kind: 'ready' } : { kind: 'blocked' };
}
