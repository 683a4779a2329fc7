/**
 * The backend contract: one suite every Backend implementation must pass (after wireit's
 * cache-common tests). Call `backendContract(name, factory)` from a test file per backend.
 */
import { describe, expect, it, beforeEach, afterEach } from '@jest/globals';
import type { Backend, RunRecord, StreamRecord, PointRecord, PoolRecord } from '../../src/backend/types.js';
import type { CoordEvent } from '../../src/events/types.js';
import type { ProposalRecord } from '../../src/consensus/board.js';
import { StateStore, type ChangeEntry } from '../../src/state/store.js';
import { MessageQueue } from '../../src/queue/queue.js';
import type { Json, JsonObject } from '../../src/state/paths.js';
import { exitCodeOf } from '../../src/cli/errors.js';
import { CoordError } from '../../src/core/errors.js';

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

/** `n` arrays nested in each other. */
function nested(n: number): Json {
  let v: Json = [];
  for (let i = 1; i < n; i++) v = [v];
  return v;
}

/** What a call rejected with: the exit code of its error code (a plain Error has none) and its message. */
async function refusal(p: Promise<unknown>): Promise<{ exitCode: unknown; message: string }> {
  try {
    await p;
  } catch (e) {
    return { exitCode: e instanceof CoordError ? exitCodeOf(e) : undefined, message: (e as Error).message };
  }
  throw new Error('expected a refusal');
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

    it('a patch that sets a field to undefined removes it; the id never changes', async () => {
      await b.createRun({ ...runRecord('r', '2026-01-01T00:00:00.000Z'), controlSocket: '/tmp/r.sock' }, '');
      const next = await b.updateRun('r', { controlSocket: undefined, id: 'other' } as Partial<RunRecord>);
      expect(next.id).toBe('r');
      expect(next.controlSocket).toBeUndefined();
      const stored = await b.getRun('r');
      expect(stored).toEqual(next);
      expect(stored && 'controlSocket' in stored).toBe(false);
      expect(await b.getRun('other')).toBeUndefined();
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
      // optional fields are stored with the record (a worktree stream's branch)
      const wt: StreamRecord = { ...streamRecord('w', 'running'), branch: 'coord/r/w', worker: null };
      await b.putStreams('r', [wt]);
      expect((await b.listStreams('r')).find((s) => s.id === 'w')).toEqual(wt);
      const point: PointRecord = {
        name: 'p',
        type: 'barrier',
        state: 'waiting',
        streams: ['a', 'b'],
        merged: [],
        conflicts: [],
        reason: null,
        message: null,
        target: '/t',
      };
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
      const decided = {
        ...p,
        votes: [{ voter: 'a', vote: 'yes' as const, reason: null, time: '2026-01-01T00:00:01.000Z' }],
        yes: 1,
        state: 'rejected' as const,
        reason: 'timeout' as const,
      };
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

    it('versioned documents: compare-and-set, history kept to `keep`, restore only forward', async () => {
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      expect(await b.docRead('r', 'state')).toBeUndefined();
      const v1 = await b.docCommit('r', 'state', 0, { n: 1 }, { keep: 3, meta: { op: 'set' } });
      expect(v1).toMatchObject({ version: 1, data: { n: 1 }, meta: { op: 'set' } });
      // a stale writer loses and nothing is written
      expect(await b.docCommit('r', 'state', 0, { n: 99 }, { keep: 3 })).toBeNull();
      for (let i = 2; i <= 30; i++) expect((await b.docCommit('r', 'state', i - 1, { n: i }, { keep: 3 }))?.version).toBe(i);
      expect(await b.docRead('r', 'state')).toMatchObject({ version: 30, data: { n: 30 } });
      expect(await b.docReadVersion('r', 'state', 29)).toMatchObject({ version: 29, data: { n: 29 } });
      const kept = await b.docVersions('r', 'state');
      expect(kept[0]).toBe(30);
      expect(kept.length).toBeLessThanOrEqual(3 + 8);
      expect(await b.docReadVersion('r', 'state', 1)).toBeUndefined();
      expect(await b.docRestore('r', 'state', { version: 10, time: 0, data: { n: -1 } })).toBe(false);
      expect(await b.docRestore('r', 'state', { version: 40, time: 0, data: { n: 40 } })).toBe(true);
      expect(await b.docRead('r', 'state')).toMatchObject({ version: 40, data: { n: 40 } });
      expect((await b.docCommit('r', 'state', 40, { n: 41 }))?.version).toBe(41);
      // consumer cursors are documents of their own
      expect((await b.docCommit('r', 'consumer/jobs/w1', 0, { next: 1 }))?.version).toBe(1);
      expect(await b.consumers('r', 'jobs')).toEqual(['w1']);
      await expect(b.docCommit('r', 'consumer/../x' as 'state', 0, {})).rejects.toThrow();
    });

    it('a commit writes the log entries it carries at its version number, a restore too', async () => {
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      for (let i = 1; i <= 20; i++) {
        const made = await b.docCommit('r', 'state', i - 1, { n: i }, { keep: 3, meta: { i }, logs: { changes: { i }, 'topic/state': { body: `m${i}` } } });
        expect(made?.version).toBe(i);
      }
      // a losing writer writes nothing
      expect(await b.docCommit('r', 'state', 3, { n: -1 }, { keep: 3, logs: { changes: { i: -1 } } })).toBeNull();
      expect((await b.logRange<{ i: number }>('r', 'changes')).map((e) => [e.seq, e.body.i])).toEqual(Array.from({ length: 20 }, (_, i) => [i + 1, i + 1]));
      expect(await b.logGet('r', 'topic/state', 20)).toEqual({ body: 'm20' });
      expect(await b.docRestore('r', 'state', { version: 30, time: 0, data: { n: 30 } }, { keep: 3, logs: { changes: { i: 30 } } })).toBe(true);
      expect(await b.logGet('r', 'changes', 30)).toEqual({ i: 30 });
      expect(await b.logGet('r', 'changes', 25)).toBeUndefined();
    });

    it('numbered logs: appends without gaps, puts at a number once, ranges and heads', async () => {
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      expect(await b.logHead('r', 'topic/jobs')).toBe(0);
      const seqs: number[] = [];
      for (let i = 0; i < 1005; i++) seqs.push(await b.logAppend('r', 'topic/jobs', { i }));
      expect(seqs).toEqual(Array.from({ length: 1005 }, (_, i) => i + 1));
      expect(await b.logHead('r', 'topic/jobs')).toBe(1005);
      expect(await b.logGet('r', 'topic/jobs', 1001)).toEqual({ i: 1000 });
      expect(await b.logGet('r', 'topic/jobs', 2000)).toBeUndefined();
      const tail = await b.logRange<{ i: number }>('r', 'topic/jobs', 998, 4);
      expect(tail.map((e) => e.seq)).toEqual([998, 999, 1000, 1001]);
      expect(await b.topics('r')).toEqual(['jobs']);
      expect(await b.logPut('r', 'changes', 2, { v: 2 })).toBe(true);
      expect(await b.logPut('r', 'changes', 2, { v: 'again' })).toBe(false);
      expect(await b.logPut('r', 'changes', 1, { v: 1 }, { durable: true })).toBe(true);
      expect(await b.logRange('r', 'changes')).toEqual([
        { seq: 1, body: { v: 1 } },
        { seq: 2, body: { v: 2 } },
      ]);
    });

    it('tells a watcher when a log grows', async () => {
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      let calls = 0;
      const woke = new Promise<void>((resolve) => {
        const stop = b.watchLog('r', 'topic/t', () => {
          calls++;
          stop();
          resolve();
        });
      });
      await b.logAppend('r', 'topic/t', 'hello');
      await woke;
      expect(calls).toBeGreaterThan(0);
    });

    it('a commit that carries log entries wakes the watchers of those logs', async () => {
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      let calls = 0;
      const stop = b.watchLog('r', 'changes', () => calls++);
      try {
        // wake-ups from setting the watch up are not what this looks for
        await new Promise((r) => setTimeout(r, 100));
        calls = 0;
        expect((await b.docCommit('r', 'state', 0, { n: 1 }, { logs: { changes: { i: 1 } } }))?.version).toBe(1);
        for (let waited = 0; calls === 0 && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
        expect(calls).toBeGreaterThan(0);
      } finally {
        stop();
      }
    });

    it('the shared state and the queues hold their limits (64 levels, 4 MiB) before writing, and cope with a deeper document stored earlier', async () => {
      const MiB = 1024 * 1024;
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      const s = new StateStore(b, 'r', { onEvent: () => undefined });
      await s.set('a', 1);
      const deep = { exitCode: 2, message: expect.stringMatching(/^too deep: the state would nest more than 64 levels of objects and arrays at /) };
      expect(await refusal(s.set('p', nested(64)))).toEqual(deep);
      expect(await refusal(s.set('p', nested(2500)))).toEqual(deep);
      expect(await refusal(s.merge('m', { a: nested(100) }))).toEqual(deep);
      expect(await refusal(s.update((d) => ({ ...d, u: nested(70) })))).toEqual(deep);
      expect(await refusal(s.incr(Array.from({ length: 65 }, () => 'k').join('.')))).toMatchObject({
        exitCode: 2,
        message: expect.stringMatching(/65 segments/),
      });
      expect(await refusal(s.set('big', 'é'.repeat(2 * MiB)))).toMatchObject({
        exitCode: 2,
        message: expect.stringMatching(/^too large: the state would take \d+ bytes as JSON \(at most 4 MiB, 4194304 bytes\)/),
      });
      expect(await s.read()).toEqual({ version: 1, data: { a: 1 } });
      expect(await b.docVersions('r', 'state')).toEqual([1]);
      // right at the limits: stored and read back whole
      expect((await s.set('p', nested(63))).version).toBe(2);
      const fill = 4 * MiB - Buffer.byteLength(JSON.stringify(await s.get())) - Buffer.byteLength(',"big":""');
      expect((await s.set('big', 'x'.repeat(fill))).version).toBe(3);
      expect(Buffer.byteLength(JSON.stringify((await s.read()).data))).toBe(4 * MiB);
      expect(await refusal(s.set('big', 'x'.repeat(fill + 1)))).toMatchObject({ exitCode: 2, message: expect.stringMatching(/4194305 bytes/) });
      expect((await s.delete('big')).version).toBe(4);

      const q = new MessageQueue(b, 'r', { onEvent: () => undefined });
      expect(await refusal(q.send('t', 'x'.repeat(4 * MiB + 1)))).toEqual({
        exitCode: 2,
        message: 'the message is too large: 4194305 bytes (at most 4 MiB, 4194304 bytes); nothing was sent',
      });
      expect(await refusal(q.send('t', JSON.stringify({ a: nested(64) })))).toMatchObject({
        exitCode: 2,
        message: expect.stringMatching(/more than 64 levels/),
      });
      expect(await b.logHead('r', 'topic/t')).toBe(0);
      expect(await q.send('t', 'é'.repeat(2 * MiB))).toBe(1);
      expect(await q.send('t', JSON.stringify(nested(64)))).toBe(2);
      expect((await q.recv('t', { consumer: 'c' }))?.body).toBe('é'.repeat(2 * MiB));

      // a document an older version stored, deeper than the limit: written straight through the backend
      const head = await b.docRead<JsonObject>('r', 'state');
      const entry: ChangeEntry = { version: 5, time: new Date().toISOString(), stream: null, op: 'set', keys: ['old'] };
      expect(
        (await b.docCommit('r', 'state', head!.version, { ...head!.data, old: nested(2500) }, { keep: 100, meta: entry, logs: { changes: entry } }))?.version,
      ).toBe(5);
      const stuck = {
        exitCode: 1,
        message: expect.stringMatching(
          /^the state at version 5 nests more than 64 levels .*: only a change that brings it within the limits is taken, such as coord state delete old$/,
        ),
      };
      expect(await refusal(s.set('x', 1))).toEqual(stuck);
      expect(await refusal(s.merge(undefined, { y: 1 }))).toEqual(stuck);
      expect(await refusal(s.snapshot())).toMatchObject({
        exitCode: 1,
        message: expect.stringMatching(/version 5 is not snapshotted: it nests more than 64 levels/),
      });
      const frozen = await new StateStore(b, 'r', { type: 'immutable', onEvent: () => undefined }).get();
      expect(Object.isFrozen(frozen['old'])).toBe(true);
      expect((await s.delete('old')).version).toBe(6);
      expect((await s.set('x', 1)).version).toBe(7);
      expect(await s.snapshot()).toBe(7);
      // and one larger than the limit
      const larger: ChangeEntry = { ...entry, version: 8, keys: ['huge'] };
      expect(
        (await b.docCommit('r', 'state', 7, { ...(await s.get()), huge: 'x'.repeat(5 * MiB) }, { keep: 100, meta: larger, logs: { changes: larger } }))
          ?.version,
      ).toBe(8);
      expect(await refusal(s.set('y', 1))).toMatchObject({
        exitCode: 1,
        message: expect.stringMatching(
          /^the state at version 8 takes more than 4 MiB as JSON .*: only a change that brings it within the limits is taken, such as coord state delete huge$/,
        ),
      });
      expect((await s.delete('huge')).version).toBe(9);
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
