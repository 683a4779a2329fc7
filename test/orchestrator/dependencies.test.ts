/** The verdict over what a stream waits for (the graph's nodes), from their run-time states. */
import { describe, expect, it } from '@jest/globals';
import type { PointState, StreamState } from '../../src/events/types.js';
import type { GroupRef, WaitRef } from '../../src/graph/graph.js';
import { dependencyVerdict, type DependencyView } from '../../src/orchestrator/dependencies.js';
import type { VoteGroupState } from '../../src/orchestrator/vote-groups.js';

const view = (streams: Record<string, StreamState>, points: Record<string, PointState> = {}, votes: Record<string, VoteGroupState> = {}): DependencyView => ({
  streamState: (id) => streams[id],
  pointState: (id) => points[id],
  voteState: (g) => votes[g.id],
});
const stream = (id: string): WaitRef => ({ kind: 'stream', id });
const point = (id: string): WaitRef => ({ kind: 'point', id });
const first: GroupRef = { kind: 'group', id: 'solve', gather: 'first', members: ['solve-1', 'solve-2'] };
const vote: GroupRef = { kind: 'group', id: 'judge', gather: 'vote', members: ['judge-1', 'judge-2', 'judge-3'] };

describe('dependencyVerdict', () => {
  it('nothing to wait for: ready', () => {
    expect(dependencyVerdict([], view({}))).toEqual({ kind: 'ready' });
  });

  it('a stream must succeed; any other end fails the wait', () => {
    expect(dependencyVerdict([stream('a')], view({ a: 'succeeded' }))).toEqual({ kind: 'ready' });
    expect(dependencyVerdict([stream('a')], view({ a: 'running' }))).toEqual({ kind: 'blocked' });
    expect(dependencyVerdict([stream('a')], view({ a: 'pending' }))).toEqual({ kind: 'blocked' });
    expect(dependencyVerdict([stream('a')], view({ a: 'failed' }))).toEqual({ kind: 'failed', because: 'stream "a" failed' });
    expect(dependencyVerdict([stream('a')], view({ a: 'skipped' }))).toEqual({ kind: 'failed', because: 'stream "a" skipped' });
    expect(dependencyVerdict([stream('a')], view({ a: 'cancelled' }))).toEqual({ kind: 'failed', because: 'stream "a" cancelled' });
  });

  it('a point must be done', () => {
    expect(dependencyVerdict([point('p')], view({}, { p: 'done' }))).toEqual({ kind: 'ready' });
    expect(dependencyVerdict([point('p')], view({}, { p: 'merging' }))).toEqual({ kind: 'blocked' });
    expect(dependencyVerdict([point('p')], view({}, { p: 'pending' }))).toEqual({ kind: 'blocked' });
    expect(dependencyVerdict([point('p')], view({}, { p: 'failed' }))).toEqual({ kind: 'failed', because: 'convergence point "p" failed' });
  });

  it('a gather: first group needs one success, and fails once every member ended without one', () => {
    expect(dependencyVerdict([first], view({ 'solve-1': 'running', 'solve-2': 'succeeded' }))).toEqual({ kind: 'ready' });
    expect(dependencyVerdict([first], view({ 'solve-1': 'failed', 'solve-2': 'running' }))).toEqual({ kind: 'blocked' });
    expect(dependencyVerdict([first], view({ 'solve-1': 'failed', 'solve-2': 'cancelled' }))).toEqual({
      kind: 'failed',
      because: 'no replica of "solve" succeeded',
    });
  });

  it('a gather: vote group needs its replicas to have agreed', () => {
    expect(dependencyVerdict([vote], view({ 'judge-1': 'succeeded' }, {}, { judge: 'won' }))).toEqual({ kind: 'ready' });
    // every replica succeeded, but the tally is not in yet
    const allDone = { 'judge-1': 'succeeded', 'judge-2': 'succeeded', 'judge-3': 'succeeded' } as const;
    expect(dependencyVerdict([vote], view(allDone, {}, { judge: 'pending' }))).toEqual({ kind: 'blocked' });
    expect(dependencyVerdict([vote], view({}, {}, { judge: 'lost' }))).toEqual({
      kind: 'failed',
      because: 'the replicas of "judge" did not agree on a result',
    });
  });

  it('the first failed wait in order is the one named, even after one still open', () => {
    const waits = [stream('open'), point('p'), stream('gone')];
    expect(dependencyVerdict(waits, view({ open: 'running', gone: 'failed' }, { p: 'failed' }))).toEqual({
      kind: 'failed',
      because: 'convergence point "p" failed',
    });
    expect(dependencyVerdict(waits, view({ open: 'succeeded', gone: 'succeeded' }, { p: 'done' }))).toEqual({ kind: 'ready' });
  });

  it('a node the run does not know is no wait', () => {
    expect(dependencyVerdict([stream('ghost'), point('nowhere')], view({}))).toEqual({ kind: 'ready' });
  });
});
