/**
 * Each unit that decides a failure outside a whole run decides it as a value with the data of
 * its reason: the scheduler's skip names the dependency that failed, the exit policy passes on
 * the data of the engine's stops, the exit handler's stops name the group and its winner, and a
 * convergence point's failure names what failed it.
 */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Failure } from '../../src/core/failures.js';
import type { CoordEvent, PointState, StreamState } from '../../src/events/types.js';
import { PointRunner, type PointHost, type PointOptions } from '../../src/convergence/point-runner.js';
import type { PointSpec } from '../../src/plan/types.js';
import type { WaitRef } from '../../src/graph/graph.js';
import { becauseOf, dependencyJudgement, dependencyVerdict, type DependencyView } from '../../src/orchestrator/dependencies.js';
import type { Engine, StreamRt } from '../../src/orchestrator/engine.js';
import { exitDecision, lostDecision, type AttemptEnd } from '../../src/orchestrator/exit-policy.js';
import { ExitHandler } from '../../src/orchestrator/exits.js';
import { Scheduler } from '../../src/orchestrator/scheduler.js';
import { move, type StreamPhase } from '../../src/orchestrator/stream-state.js';
import type { VoteGroup } from '../../src/orchestrator/vote-groups.js';
import { makeTemp, removeTemp } from '../workspace/fsfix.js';

const view = (streams: Record<string, StreamState>, points: Record<string, PointState> = {}, lost = false): DependencyView => ({
  streamState: (id) => streams[id],
  pointState: (id) => points[id],
  voteState: () => (lost ? 'lost' : 'pending'),
});

describe('a dependency that failed', () => {
  it('is named with its kind, id and state, and its words are those of the verdict', () => {
    const cases: Array<[WaitRef[], DependencyView, Failure]> = [
      [[{ kind: 'stream', id: 'build' }], view({ build: 'skipped' }), { reason: 'dependency-failed', wait: { kind: 'stream', id: 'build', state: 'skipped' } }],
      [[{ kind: 'point', id: 'merge' }], view({}, { merge: 'failed' }), { reason: 'dependency-failed', wait: { kind: 'point', id: 'merge' } }],
      [
        [{ kind: 'group', id: 'solve', gather: 'first', members: ['solve-1', 'solve-2'] }],
        view({ 'solve-1': 'failed', 'solve-2': 'cancelled' }),
        { reason: 'dependency-failed', wait: { kind: 'group', id: 'solve', gather: 'first' } },
      ],
      [
        [{ kind: 'group', id: 'judge', gather: 'vote', members: ['judge-1'] }],
        view({}, {}, true),
        { reason: 'dependency-failed', wait: { kind: 'group', id: 'judge', gather: 'vote' } },
      ],
    ];
    for (const [waits, v, failure] of cases) {
      const judged = dependencyJudgement(waits, v);
      expect(judged).toEqual({ kind: 'failed', failure });
      if (judged.kind !== 'failed') throw new Error('not failed');
      expect(dependencyVerdict(waits, v)).toEqual({ kind: 'failed', because: becauseOf(judged.failure) });
    }
    expect(dependencyJudgement([{ kind: 'stream', id: 'build' }], view({ build: 'running' }))).toEqual({ kind: 'blocked' });
  });
});

/** A stream of the run as the engine's parts see it (only what these tests touch). */
const streamRt = (id: string, state: StreamState = 'pending', phase: StreamPhase = { kind: 'pending' }): StreamRt =>
  ({ spec: { id }, rec: { state, attempt: 0, exitCode: null, reason: null }, phase, startedMs: 0 }) as unknown as StreamRt;

/** An engine of fakes: its streams, the events emitted, and the ends the exit handler was asked for. */
function fakeEngine(streams: StreamRt[], waits: Record<string, WaitRef[]> = {}) {
  const events: CoordEvent[] = [];
  const byId = new Map(streams.map((rt) => [rt.spec.id, rt]));
  const firstGroups = new Map<string, { id: string; members: string[]; won: boolean; winner?: string }>();
  const e = {
    plan: { resources: {}, guardian: { soft: 'SIGTERM' } },
    flags: { stopping: undefined, finished: false },
    bus: { emit: (ev: CoordEvent) => events.push(ev) },
    records: { poolsChanged: () => undefined },
    graph: { waitsFor: (id: string) => waits[id] ?? [] },
    table: {
      get: (id: string) => byId.get(id),
      points: new Map(),
      firstGroups,
      pointsOf: () => [],
      moveTo: (rt: StreamRt, next: StreamPhase) => move(rt, next),
    },
    voteGroups: { of: () => undefined },
    control: { ended: () => undefined },
    afterChange: () => undefined,
  } as unknown as Engine;
  const scheduler = new Scheduler(e, 2);
  const exits = new ExitHandler(e);
  Object.assign(e, { scheduler, exits });
  return { e, events, scheduler, exits, firstGroups };
}

describe('the scheduler', () => {
  it('skips a stream whose dependency failed with a failure that names that dependency and its state', () => {
    const build = streamRt('build', 'failed', { kind: 'failed' });
    const test = streamRt('test');
    const { events, scheduler, exits } = fakeEngine([build, test], { test: [{ kind: 'stream', id: 'build' }] });
    const end = jest.spyOn(exits, 'end');
    scheduler.pending.add(test);
    scheduler.schedule();
    expect(end).toHaveBeenCalledWith(test, 'skipped', { reason: 'dependency-failed', wait: { kind: 'stream', id: 'build', state: 'failed' } });
    expect(test.rec).toMatchObject({ state: 'skipped', reason: 'dependency-failed' });
    expect(events.find((ev) => ev.type === 'stream-skipped')).toMatchObject({ stream: 'test', reason: 'dependency-failed', because: 'stream "build" failed' });
    expect(events.find((ev) => ev.type === 'stream-ended')).toMatchObject({ stream: 'test', state: 'skipped', reason: 'dependency-failed' });
  });
});

describe('the exit handler', () => {
  it('supersedes the other replicas of a `gather: first` group naming the group and its winner', () => {
    const a = streamRt('solve-1', 'running', { kind: 'committing', shows: 'running' });
    const b = streamRt('solve-2');
    const { exits, firstGroups } = fakeEngine([a, b]);
    const group = { id: 'solve', members: ['solve-1', 'solve-2'], won: false };
    firstGroups.set('solve-1', group).set('solve-2', group);
    const end = jest.spyOn(exits, 'end');
    exits.end(a, 'succeeded', null);
    expect(end).toHaveBeenCalledWith(b, 'cancelled', { reason: 'superseded', group: 'solve', winner: 'solve-1' });
    expect(b.rec).toMatchObject({ state: 'cancelled', reason: 'superseded' });
  });

  it('fails the points of a lost vote group with the group and its results, and supersedes its replicas without a winner', () => {
    const r1 = streamRt('judge-1', 'failed', { kind: 'failed' });
    const r2 = streamRt('judge-2');
    const { exits, e } = fakeEngine([r1, r2]);
    const groupFailed = jest.fn();
    const drop = jest.fn();
    Object.assign(e.table, { pointsOf: () => [{ groupFailed, drop }] });
    const end = jest.spyOn(exits, 'end');
    const g: VoteGroup = { id: 'judge', members: ['judge-1', 'judge-2'], state: 'lost', results: new Map([['judge-1', null]]), digesting: 0 };
    exits.voteDecided(g);
    expect(end).toHaveBeenCalledWith(r2, 'cancelled', { reason: 'superseded', group: 'judge', winner: undefined });
    expect(drop).toHaveBeenCalledWith('judge-2');
    expect(groupFailed).toHaveBeenCalledWith({ reason: 'no-majority', group: 'judge', results: [{ stream: 'judge-1', digest: null }] });
  });

  it('ends a queued stream stopped for its failed points with that stop, and a launch keeps the stop to end with', () => {
    const queued = streamRt('feed', 'waiting', { kind: 'waiting', readyAt: 0, notBefore: 0 });
    const launching = streamRt('other', 'waiting', { kind: 'launching', shows: 'waiting', hold: undefined, abort: undefined, stopAs: undefined });
    const { exits } = fakeEngine([queued, launching]);
    const end = jest.spyOn(exits, 'end');
    exits.stopFor(queued, { reason: 'point-failed', points: ['merge'] });
    expect(end).toHaveBeenCalledWith(queued, 'cancelled', { reason: 'point-failed', points: ['merge'] });
    expect(queued.rec).toMatchObject({ state: 'cancelled', reason: 'point-failed' });
    exits.stopFor(launching, { reason: 'point-timeout', point: 'merge', limitMs: 500 });
    expect(launching.phase).toMatchObject({ kind: 'launching', stopAs: { reason: 'point-timeout', point: 'merge', limitMs: 500 } });
  });
});

const attempt = (over: Partial<AttemptEnd>): AttemptEnd => ({
  stopping: false,
  killReason: undefined,
  exitCode: 0,
  signal: null,
  worktree: false,
  attempt: 1,
  retries: 0,
  restarts: 0,
  maxRestarts: 0,
  timeoutMs: undefined,
  heartbeatTimeoutMs: 600_000,
  now: 0,
  ...over,
});

describe('the exit policy', () => {
  it('ends a stream the engine stopped for another’s sake with that stop, data and all', () => {
    const superseded = { reason: 'superseded', group: 'solve', winner: 'solve-2' } as const;
    expect(exitDecision(attempt({ killReason: 'superseded', stop: superseded, exitCode: 1 }))).toEqual({
      kind: 'end',
      state: 'cancelled',
      failure: superseded,
    });
    const pointFailed = { reason: 'point-failed' as const, points: ['merge', 'gather'] };
    expect(exitDecision(attempt({ killReason: 'point-failed', stop: pointFailed }))).toEqual({ kind: 'end', state: 'cancelled', failure: pointFailed });
    const timedOut = { reason: 'point-timeout', point: 'merge', limitMs: 500 } as const;
    expect(exitDecision(attempt({ killReason: 'point-timeout', stop: timedOut }))).toEqual({ kind: 'end', state: 'failed', failure: timedOut });
    expect(lostDecision({ stopping: false, killReason: 'superseded', stop: superseded, restarts: 0, maxRestarts: 1, lost: 'gone' })).toEqual({
      kind: 'end',
      state: 'cancelled',
      failure: superseded,
    });
  });

  it('names what stopped the run, and lets a later stop of another kind decide by its own reason', () => {
    expect(exitDecision(attempt({ stopping: true, stoppedBy: 'interrupted' }))).toEqual({
      kind: 'end',
      state: 'cancelled',
      failure: { reason: 'cancelled', stop: 'interrupted' },
    });
    expect(lostDecision({ stopping: true, stoppedBy: 'cancelled', killReason: undefined, restarts: 0, maxRestarts: 1, lost: 'gone' })).toEqual({
      kind: 'end',
      state: 'cancelled',
      failure: { reason: 'cancelled', stop: 'cancelled' },
    });
    // superseded first, then stopped for a stall: the stall decides, the supersede's data is not its
    const d = exitDecision(
      attempt({ killReason: 'heartbeat-timeout', stop: { reason: 'superseded', group: 'g', winner: 'w' }, exitCode: null, signal: 'SIGTERM' }),
    );
    expect(d).toEqual({ kind: 'end', state: 'failed', failure: { reason: 'heartbeat-timeout', limitMs: 600_000 } });
  });
});

describe('a convergence point', () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await makeTemp('coord-fv-');
  });
  afterEach(async () => {
    await removeTemp(tmp);
  });

  const spec = (over: Partial<PointSpec> = {}): PointSpec => ({
    name: 'merge',
    type: 'barrier',
    streams: ['a', 'b'],
    onConflict: 'fail',
    allowConflicts: false,
    keepGoing: false,
    checkpointKeep: 3,
    ...over,
  });
  const point = (s: PointSpec, opts: Partial<PointOptions> = {}) => {
    const events: CoordEvent[] = [];
    const host: PointHost = {
      emit: (ev) => events.push(ev as CoordEvent),
      save: () => undefined,
      sourceOf: async (id) => ({ stream: id, dir: path.join(tmp, id), outputs: [] }),
      workspaceOf: (id) => ({ stream: id, dir: path.join(tmp, id), outputs: [] }),
      settled: () => undefined,
      running: () => [],
      excluded: () => undefined,
      feedback: () => false,
    };
    const p = new PointRunner(s, path.join(tmp, 'run'), host, { checkpointIntervalMs: 0, runId: 'r1', ...opts });
    return { p, events };
  };
  const failedEvent = (events: CoordEvent[]) => events.find((ev) => ev.type === 'point-failed');

  it('fails for a failed stream naming it, with the message it always had', () => {
    const { p, events } = point(spec());
    p.streamFailed('b', 'failed');
    expect(p.failure).toEqual({ reason: 'stream-failed', streams: ['b'] });
    expect(p.rec).toMatchObject({ state: 'failed', reason: 'stream-failed', message: 'stream "b" failed' });
    expect(failedEvent(events)).toMatchObject({ reason: 'stream-failed', message: 'stream "b" failed' });
  });

  it('fails for a lost vote group with its words built from the group', () => {
    const { p } = point(spec());
    p.groupFailed({ reason: 'no-majority', group: 'judge', results: [] });
    expect(p.failure).toEqual({ reason: 'no-majority', group: 'judge', results: [] });
    expect(p.rec).toMatchObject({ reason: 'no-majority', message: 'the replicas of "judge" did not agree on a result' });
  });

  it('is cancelled naming what stopped the run', () => {
    const { p } = point(spec());
    p.cancel('interrupted');
    expect(p.failure).toEqual({ reason: 'cancelled', stop: 'interrupted' });
    expect(p.rec).toMatchObject({ reason: 'cancelled', message: 'the run was stopped' });
  });

  it('times out naming itself and its limit', async () => {
    const { p } = point(spec({ timeoutMs: 20 }));
    p.streamStarted();
    await new Promise((r) => setTimeout(r, 80));
    expect(p.failure).toEqual({ reason: 'point-timeout', point: 'merge', limitMs: 20 });
    expect(p.rec).toMatchObject({ reason: 'point-timeout', message: 'not converged within 20ms' });
  });

  it('fails on conflicting outputs naming each path and the streams that wrote it', async () => {
    for (const [id, text] of [
      ['a', 'one\n'],
      ['b', 'two\n'],
    ] as const) {
      mkdirSync(path.join(tmp, id), { recursive: true });
      writeFileSync(path.join(tmp, id, 'out.txt'), text);
    }
    const { p, events } = point(spec());
    p.streamSucceeded('a');
    p.streamSucceeded('b');
    await p.idle();
    expect(p.failure).toEqual({ reason: 'conflict', conflicts: [{ path: 'out.txt', streams: ['a', 'b'] }] });
    expect(p.rec.message).toMatch(/^conflicting outputs: out\.txt \(a, b\); resolve the files in /);
    expect(failedEvent(events)).toMatchObject({ reason: 'conflict' });
  });

  it('fails a rejected approval with the approval’s message', async () => {
    mkdirSync(path.join(tmp, 'a'), { recursive: true });
    writeFileSync(path.join(tmp, 'a', 'out.txt'), 'one\n');
    const message = 'approval rejected: 0 yes, 1 no, 1 needed of 1';
    const { p } = point(spec({ streams: ['a'] }), { approve: async () => ({ accepted: false, message, runEnded: false }) });
    p.streamSucceeded('a');
    await p.idle();
    expect(p.failure).toEqual({ reason: 'rejected', message });
    expect(p.rec).toMatchObject({ state: 'failed', reason: 'rejected', message });
  });
});
