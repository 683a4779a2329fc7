/**
 * The backend contract: one suite every Backend implementation must pass (after wireit's
 * cache-common tests). Call `backendContract(name, factory)` from a test file per backend.
 */
import { describe, expect, it, beforeEach, afterEach } from '@jest/globals';
import type { Backend, RunRecord, StreamRecord, PointRecord, PoolRecord } from '../../src/backend/types.js';
import type { CoordEvent } from '../../src/events/types.js';
import type { ProposalRecord } from '../../src/consensus/board.js';

export interface BackendFixture {
  backend: Backend;
  cleanup(): Promise<void>;
}

export function runRecord(id: string, startedAt: string): RunRecord {
  return {
    id,
    plan: '/plans/p.yaml',
    name: 'p',
    state: 'running',
    startedAt,
    endedAt: null,
    coordinator: { pid: process.pid, startTime: null, host: 'here' },
    workspaceDir: `/tmp/streams/${id}`,
    concurrency: 4,
    pools: { gpu: 1 },
  };
}

function streamRecord(id: string, state: StreamRecord['state']): StreamRecord {
  return {
    id,
    state,
    attempt: 1,
    pid: 123,
    pgid: 123,
    procStartTime: null,
    exitCode: null,
    signal: null,
    reason: null,
    workspace: `/w/${id}`,
    capabilities: [],
    dependsOn: [],
    resources: {},
    startedAt: null,
    endedAt: null,
    lastHeartbeat: null,
  };
}

export function backendContract(name: string, make: () => Promise<BackendFixture>): void {
  describe(`Backend contract: ${name}`, () => {
    let fx: BackendFixture;
    let b: Backend;
    beforeEach(async () => {
      fx = await make();
      b = fx.backend;
    });
    afterEach(async () => {
      await b.close();
      await fx.cleanup();
    });

    it('creates, reads and updates a run; an id cannot be created twice', async () => {
      await b.createRun(runRecord('r1', '2026-01-01T00:00:00.000Z'), 'streams: []\n');
      expect(await b.getRun('r1')).toMatchObject({ id: 'r1', state: 'running', pools: { gpu: 1 } });
      await expect(b.createRun(runRecord('r1', '2026-01-01T00:00:00.000Z'), '')).rejects.toThrow();
      const next = await b.updateRun('r1', { state: 'succeeded', endedAt: '2026-01-01T00:01:00.000Z' });
      expect(next).toMatchObject({ id: 'r1', state: 'succeeded', name: 'p' });
      expect(await b.getRun('r1')).toEqual(next);
      expect(await b.getRun('nope')).toBeUndefined();
      await expect(b.updateRun('nope', { state: 'failed' })).rejects.toThrow();
    });

    it('lists runs newest first', async () => {
      await b.createRun(runRecord('old', '2026-01-01T00:00:00.000Z'), '');
      await b.createRun(runRecord('new', '2026-01-02T00:00:00.000Z'), '');
      await b.createRun(runRecord('mid', '2026-01-01T12:00:00.000Z'), '');
      expect((await b.listRuns()).map((r) => r.id)).toEqual(['new', 'mid', 'old']);
    });

    it('replaces stream and point records by id', async () => {
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      await b.putStreams('r', [streamRecord('a', 'pending'), streamRecord('b', 'waiting')]);
      await b.putStreams('r', [streamRecord('b', 'running')]);
      await b.putStreams('r', [{ ...streamRecord('a', 'succeeded'), exitCode: 0 }]);
      const streams = await b.listStreams('r');
      expect(streams.map((s) => [s.id, s.state, s.exitCode])).toEqual([
        ['a', 'succeeded', 0],
        ['b', 'running', null],
      ]);
      const point: PointRecord = { name: 'p', type: 'barrier', state: 'waiting', streams: ['a', 'b'], merged: [], conflicts: [], reason: null, message: null, target: '/t' };
      await b.putPoint('r', point);
      await b.putPoint('r', { ...point, state: 'done', merged: ['a', 'b'] });
      expect(await b.listPoints('r')).toEqual([{ ...point, state: 'done', merged: ['a', 'b'] }]);
    });

    it('replaces the pool records as a whole', async () => {
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      expect(await b.getPools('r')).toBeUndefined();
      const pool: PoolRecord = {
        name: 'gpu',
        capacity: 1,
        inUse: 1,
        holders: [{ owner: 'a', stream: 'a', pid: null, kind: 'stream', units: 1, since: '2026-01-01T00:00:01.000Z' }],
        waiters: [{ owner: 'pid:9', stream: null, pid: 9, kind: 'acquire', units: 1, priority: 0, since: '2026-01-01T00:00:02.000Z' }],
      };
      await b.putPools('r', [pool]);
      await b.putPools('r', [{ ...pool, inUse: 0, holders: [] }]);
      expect(await b.getPools('r')).toEqual([{ ...pool, inUse: 0, holders: [] }]);
    });

    it('replaces proposals by name and lists them', async () => {
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      const p: ProposalRecord = {
        name: 'ship',
        kind: 'proposal',
        value: { v: 1 },
        proposer: 'a',
        voters: ['a', 'b'],
        quorum: 'majority',
        needed: 2,
        timeoutMs: null,
        createdAt: '2026-01-01T00:00:00.000Z',
        openedAt: '2026-01-01T00:00:00.000Z',
        deadline: null,
        votes: [],
        yes: 0,
        no: 0,
        state: 'pending',
        reason: null,
        decidedAt: null,
      };
      await b.putProposal('r', p);
      const decided = { ...p, votes: [{ voter: 'a', vote: 'yes' as const, reason: null, time: '2026-01-01T00:00:01.000Z' }], yes: 1, state: 'rejected' as const, reason: 'timeout' as const };
      await b.putProposal('r', decided);
      await b.putProposal('r', { ...p, name: 'other' });
      expect(await b.getProposal('r', 'ship')).toEqual(decided);
      expect(await b.getProposal('r', 'nope')).toBeUndefined();
      expect((await b.listProposals('r')).map((x) => x.name)).toEqual(['other', 'ship']);
    });

    it('keeps events in order and reads them incrementally from a cursor', async () => {
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      const ev = (i: number): CoordEvent => ({ type: 'warning', message: `m${i}`, time: `2026-01-01T00:00:0${i}.000Z`, run: 'r' });
      for (let i = 0; i < 5; i++) await b.appendEvent('r', ev(i));
      const first = await b.readEvents('r');
      expect(first.events.map((e) => (e.type === 'warning' ? e.message : ''))).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
      const none = await b.readEvents('r', first.cursor);
      expect(none.events).toEqual([]);
      await b.appendEvent('r', ev(5));
      const more = await b.readEvents('r', first.cursor);
      expect(more.events).toEqual([ev(5)]);
    });

    it('removes a run entirely', async () => {
      await b.createRun(runRecord('gone', '2026-01-01T00:00:00.000Z'), '');
      await b.putStreams('gone', [streamRecord('a', 'pending')]);
      await b.removeRun('gone');
      expect(await b.getRun('gone')).toBeUndefined();
      expect(await b.listRuns()).toEqual([]);
      expect(await b.listStreams('gone')).toEqual([]);
    });
  });
}
