/** Cursors (src/queue/cursors.ts): damaged fields, a commit that another writer beat or whose reply was lost, versions kept. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../src/backend/file/file-backend.js';
import type { Backend } from '../../src/backend/types.js';
import { CursorQueues, topicKey, type ConsumerCursor } from '../../src/queue/cursors.js';
import { runRecord } from '../backend/contract.js';
import { withOverrides } from '../backend/overrides.js';

let dir: string;
let backend: FileBackend;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coord-cursors-m-'));
  backend = new FileBackend(join(dir, '.coord'));
  await backend.createRun(runRecord('r1', new Date().toISOString()), 'streams: []\n');
});
afterEach(async () => {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The file backend with some of its methods replaced. */
const wrapped = (over: Partial<Backend>): Backend => withOverrides<Backend>(backend, over);

const send = async (...bodies: string[]): Promise<void> => {
  for (const body of bodies) await backend.logAppend('r1', topicKey('jobs'), { body, sender: null, time: '' });
};
const cursor = async (name = 'g'): Promise<ConsumerCursor> => (await backend.docRead<ConsumerCursor>('r1', `consumer/jobs/${name}`))!.data;
const taken = { next: 2, pending: {}, delivered: 1, acked: 0 };

describe('damaged cursor fields', () => {
  it('counts that are not whole non-negative numbers restart from 0', async () => {
    const c = new CursorQueues(backend, 'r1', () => 0);
    await send('a', 'b');
    await backend.docCommit('r1', 'consumer/jobs/g', 0, { next: 1, pending: {}, delivered: 2.5, acked: -1 });
    expect((await c.take('jobs', 'g', 'a', undefined)).got?.id).toBe(1);
    expect(await cursor()).toMatchObject({ delivered: 1, acked: 0 });
    // whole counts are kept
    await backend.docCommit('r1', 'consumer/jobs/h', 0, { next: 1, pending: {}, delivered: 4, acked: 2 });
    await c.take('jobs', 'h', 'a', undefined);
    expect(await cursor('h')).toMatchObject({ delivered: 5, acked: 2 });
  });

  it('a pending that is null is read as nothing pending', async () => {
    const c = new CursorQueues(backend, 'r1', () => 0);
    await send('a');
    await backend.docCommit('r1', 'consumer/jobs/g', 0, { next: 1, pending: null, delivered: 0, acked: 0 });
    expect((await c.take('jobs', 'g', 'a', undefined)).got).toMatchObject({ id: 1, delivery: 1, from: null });
  });

  it('pending entries under keys that are not message numbers, or that are not objects, are dropped', async () => {
    const c = new CursorQueues(backend, 'r1', () => 0);
    await send('a', 'b', 'c');
    const entry = { member: 'w', deadline: 10_000, delivery: 1 };
    await backend.docCommit('r1', 'consumer/jobs/g', 0, {
      next: 4,
      pending: { '1x': entry, x1: entry, '01': entry, '3': 5, '2': entry },
      delivered: 3,
      acked: 0,
    });
    expect(await c.summary()).toEqual([{ topic: 'jobs', size: 3, consumers: [{ name: 'g', next: 4, lag: 0, pending: 1 }] }]);
  });

  it('a delivery count that is not whole reads as 1: the redelivery is the second', async () => {
    const c = new CursorQueues(backend, 'r1', () => 100);
    await send('a');
    await backend.docCommit('r1', 'consumer/jobs/g', 0, { next: 2, pending: { '1': { member: 'w', deadline: 0, delivery: 2.5 } }, delivered: 1, acked: 0 });
    expect((await c.take('jobs', 'g', 'a', undefined)).got).toMatchObject({ id: 1, delivery: 2, from: 'w' });
  });

  it('a cursor without commit tokens (an older version wrote it) gets only the new commit token', async () => {
    const c = new CursorQueues(backend, 'r1', () => 0);
    await send('a');
    await backend.docCommit('r1', 'consumer/jobs/g', 0, { next: 1, pending: {}, delivered: 0, acked: 0 });
    await c.take('jobs', 'g', 'a', undefined);
    const recent = (await cursor()).recent!;
    expect(recent).toHaveLength(1);
    expect(recent[0]).toMatch(/^[A-Za-z0-9_-]{12}$/);
  });
});

describe('taking', () => {
  it('of expired messages numbered past 2^32 the smallest number goes first, whatever order the cursor lists them in', async () => {
    const c = new CursorQueues(backend, 'r1', () => 100);
    const big = 2 ** 32;
    await backend.logPut('r1', topicKey('jobs'), big, { body: 'low', sender: null, time: '' });
    await backend.logPut('r1', topicKey('jobs'), big + 1, { body: 'high', sender: null, time: '' });
    const p = { member: 'w', deadline: 0, delivery: 1 };
    await backend.docCommit('r1', 'consumer/jobs/g', 0, { next: big + 2, pending: { [String(big + 1)]: p, [String(big)]: p }, delivered: 2, acked: 0 });
    expect((await c.take('jobs', 'g', 'a', undefined)).got).toMatchObject({ id: big, message: { body: 'low' } });
    expect((await c.take('jobs', 'g', 'a', undefined)).got).toMatchObject({ id: big + 1, message: { body: 'high' } });
  });

  it('a log whose head is past its readable messages answers that there is nothing yet', async () => {
    const c = new CursorQueues(wrapped({ logHead: async () => 5 }), 'r1', () => 0);
    expect(await c.take('jobs', 'g', 'a', undefined)).toEqual({ retryInMs: Infinity });
  });

  it('a message sent between the look at its number and the look at the head is taken at once, not waited on as a gap', async () => {
    const now = 100_000;
    let looks = 0;
    const racing = wrapped({
      logGet: async (runId, key, seq) => {
        const got = await backend.logGet(runId, key, seq);
        if (++looks === 1) await backend.logAppend('r1', topicKey('jobs'), { body: 'just now', sender: null, time: new Date(now).toISOString() });
        return got as never;
      },
    });
    const c = new CursorQueues(racing, 'r1', () => now);
    expect((await c.take('jobs', 'g', 'a', undefined)).got).toMatchObject({ id: 1, message: { body: 'just now' }, delivery: 1 });
    expect(await c.take('jobs', 'g', 'a', undefined)).toEqual({ retryInMs: Infinity });
  });

  it('a cursor keeps its last 32 versions', async () => {
    const c = new CursorQueues(backend, 'r1', () => 0);
    await send(...Array.from({ length: 40 }, (_, i) => String(i)));
    for (let i = 0; i < 40; i++) await c.take('jobs', 'g', 'a', undefined);
    expect((await backend.docRead('r1', 'consumer/jobs/g'))!.version).toBe(40);
    // a writer told its commit of version 9 failed can still look at version 9
    for (let v = 9; v <= 40; v++) expect(await backend.docReadVersion('r1', 'consumer/jobs/g', v)).toBeDefined();
  });
});

describe('a commit told it failed', () => {
  /** Another writer commits `data` as the next version just before this commit. */
  function beaten(data: unknown, over: Partial<Backend> = {}): Backend {
    let once = true;
    return wrapped({
      ...over,
      docCommit: async (runId, key, expected, d, opts) => {
        if (once) {
          once = false;
          await backend.docCommit(runId, key, expected, data, opts);
        }
        return backend.docCommit(runId, key, expected, d, opts);
      },
    });
  }

  it('beaten by a writer of cursors without tokens: looks again and takes the next message', async () => {
    await send('a', 'b');
    const c = new CursorQueues(beaten(taken), 'r1', () => 0);
    expect((await c.take('jobs', 'g', 'a', undefined)).got?.id).toBe(2);
  });

  it('beaten by a damaged cursor: refuses it as damaged', async () => {
    await send('a', 'b');
    const c = new CursorQueues(beaten(null), 'r1', () => 0);
    await expect(c.take('jobs', 'g', 'a', undefined)).rejects.toThrow('the cursor of consumer g on topic jobs is damaged');
  });

  describe('and the version after the one it read is gone', () => {
    const gone = { docReadVersion: async () => undefined };

    it('the newest version without its token: looks again, so a message taken by another member is not handed twice', async () => {
      await send('a', 'b');
      const c = new CursorQueues(beaten({ ...taken, recent: ['other'] }, gone), 'r1', () => 0);
      expect((await c.take('jobs', 'g', 'a', undefined)).got?.id).toBe(2);
    });

    it('the newest version without tokens at all: looks again', async () => {
      await send('a', 'b');
      const c = new CursorQueues(beaten(taken, gone), 'r1', () => 0);
      expect((await c.take('jobs', 'g', 'a', undefined)).got?.id).toBe(2);
    });

    it('the newest version damaged: refuses it as damaged', async () => {
      await send('a', 'b');
      const c = new CursorQueues(beaten(null, gone), 'r1', () => 0);
      await expect(c.take('jobs', 'g', 'a', undefined)).rejects.toThrow('damaged');
    });

    it('no cursor readable at that moment: looks again', async () => {
      await send('a', 'b');
      let reads = 0;
      const c = new CursorQueues(
        beaten(taken, {
          ...gone,
          // the read after the failed commit finds nothing; the others read the file backend
          docRead: async (runId, key) => (++reads === 2 ? undefined : backend.docRead(runId, key)),
        }),
        'r1',
        () => 0,
      );
      expect((await c.take('jobs', 'g', 'a', undefined)).got?.id).toBe(2);
      expect(reads).toBe(3);
    });
  });

  it('whose reply was lost and another writer committed after it: finds its token in its version and hands the message once', async () => {
    await send('a', 'b');
    let once = true;
    const lost = wrapped({
      docCommit: async (runId, key, expected, d, opts) => {
        const r = await backend.docCommit(runId, key, expected, d, opts);
        if (!once) return r;
        once = false;
        // the commit landed; an older writer (no tokens) moved the cursor on; the reply says "failed"
        await backend.docCommit(runId, key, expected + 1, { ...(d as ConsumerCursor), recent: undefined }, opts);
        return null;
      },
    });
    const c = new CursorQueues(lost, 'r1', () => 0);
    expect((await c.take('jobs', 'g', 'a', undefined)).got?.id).toBe(1);
    expect((await c.take('jobs', 'g', 'a', undefined)).got?.id).toBe(2);
  });
});

describe('the summary', () => {
  it('leaves out a consumer whose cursor is gone by the time it is read', async () => {
    await send('a');
    const c0 = new CursorQueues(backend, 'r1', () => 0);
    await c0.take('jobs', 'g', 'a', undefined);
    const c = new CursorQueues(wrapped({ consumers: async () => ['g', 'gone'] }), 'r1', () => 0);
    expect(await c.summary()).toEqual([{ topic: 'jobs', size: 1, consumers: [{ name: 'g', next: 2, lag: 0, pending: 0 }] }]);
  });
});
