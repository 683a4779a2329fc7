/** Queue details: messages stored by older versions, damaged cursors, retry times, the order of redeliveries, refusals (src/queue/*.ts). */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../src/backend/file/file-backend.js';
import type { Backend } from '../../src/backend/types.js';
import type { EventInput } from '../../src/events/types.js';
import { MessageQueue, QueueError } from '../../src/queue/queue.js';
import { CursorQueues, topicKey } from '../../src/queue/cursors.js';
import { messageOf } from '../../src/queue/engine.js';
import { runRecord } from '../backend/contract.js';
import { withOverrides } from '../backend/overrides.js';
import { exitCodeOf } from '../../src/cli/errors.js';

let dir: string;
let backend: FileBackend;
let events: EventInput[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coord-queue-m-'));
  backend = new FileBackend(join(dir, '.coord'));
  await backend.createRun(runRecord('r1', new Date().toISOString()), 'streams: []\n');
  events = [];
});
afterEach(async () => {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

const queue = (opts: ConstructorParameters<typeof MessageQueue>[2] = {}) => new MessageQueue(backend, 'r1', { onEvent: (e) => events.push(e), ...opts });
async function thrown(p: Promise<unknown>): Promise<QueueError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(QueueError);
    return e as QueueError;
  }
  throw new Error('expected a QueueError');
}

describe('messages', () => {
  it('an entry an older version stored without some fields reads with defaults', () => {
    expect(messageOf({ body: 'b', sender: 's', time: 't' })).toEqual({ body: 'b', sender: 's', time: 't' });
    expect(messageOf({ body: { a: 1 } })).toEqual({ body: '{"a":1}', sender: null, time: '' });
    expect(messageOf(undefined)).toEqual({ body: 'null', sender: null, time: '' });
    expect(messageOf({ body: 'x', sender: 7, time: 8 })).toEqual({ body: 'x', sender: null, time: '' });
  });

  it('sends with the sender and the time of its clock', async () => {
    const q = queue({ sender: 'prod', now: () => Date.UTC(2026, 0, 1) });
    await q.send('jobs', 'x');
    expect(await q.recv('jobs', { consumer: 'c' })).toEqual({ id: 1, topic: 'jobs', body: 'x', sender: 'prod', time: '2026-01-01T00:00:00.000Z', delivery: 1 });
  });

  it('refuses what is not a message, one too large, JSON too deep, and an unknown run', async () => {
    const q = queue();
    expect((await thrown(q.send('jobs', null as unknown as string))).message).toBe('a message is a string, got null');
    expect((await thrown(q.send('jobs', 5 as unknown as string))).message).toBe('a message is a string, got number');
    const big = 'x'.repeat(4 * 1024 * 1024 + 1);
    expect((await thrown(q.send('jobs', big))).message).toBe(
      `the message is too large: ${4 * 1024 * 1024 + 1} bytes (at most 4 MiB, 4194304 bytes); nothing was sent`,
    );
    expect(await q.send('jobs', 'x'.repeat(4 * 1024 * 1024))).toBe(1);
    expect((await thrown(q.send('jobs', '['.repeat(65) + ']'.repeat(65)))).message).toBe(
      'the message is JSON nesting more than 64 levels of objects and arrays (at most 64); nothing was sent',
    );
    expect((await thrown(MessageQueue.open(backend, 'nope'))).message).toBe('no run "nope"');
    expect((await thrown(q.send('bad name', 'x'))).message).toBe(
      `bad topic name "bad name": use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit`,
    );
  });

  it('a member is 1 to 128 printable characters', async () => {
    const q = queue();
    await q.send('jobs', 'x');
    for (const bad of ['', 'x'.repeat(129), 'a\u007fb', 'tab\there']) {
      expect((await thrown(q.recv('jobs', { consumer: 'c', member: bad }))).message).toBe(
        `bad member name ${JSON.stringify(bad)}: 1 to 128 printable characters`,
      );
      expect(exitCodeOf(await thrown(q.ack('jobs', 1, { consumer: 'c', member: bad })))).toBe(2);
    }
    expect(await q.recv('jobs', { consumer: 'c', member: 'x'.repeat(128) })).toMatchObject({ id: 1 });
    expect(events.at(-1)).toEqual({ type: 'queue-received', topic: 'jobs', id: 1, consumer: 'c', member: 'x'.repeat(128), delivery: 1 });
  });

  it('says why an ack is refused: no messages, not delivered yet, or acknowledged already', async () => {
    const q = queue();
    expect((await thrown(q.ack('empty', 1, { consumer: 'c' }))).message).toBe(
      'message 1 of empty is not waiting for an acknowledgement by c (empty has no messages)',
    );
    await q.send('jobs', 'a');
    await q.send('jobs', 'b');
    await q.recv('jobs', { consumer: 'c' });
    expect((await thrown(q.ack('jobs', 1, { consumer: 'c' }))).message).toBe(
      'message 1 of jobs is not waiting for an acknowledgement by c (it was acknowledged already, or received without --ack-timeout)',
    );
    expect((await thrown(q.ack('jobs', 2, { consumer: 'c' }))).message).toBe(
      'message 2 of jobs is not waiting for an acknowledgement by c (it has not been delivered to it yet)',
    );
    expect((await thrown(q.ack('jobs', 3, { consumer: 'c' }))).message).toMatch(/\(jobs has messages 1 to 2\)$/);
    expect((await thrown(q.ack('jobs', 0, { consumer: 'c' }))).message).toBe('a message id is a whole number from 1, got 0');
    expect((await thrown(q.recv('jobs', { consumer: 'c', ackTimeoutMs: -5 }))).message).toBe('an ack timeout is a positive number of milliseconds, got -5');
    expect((await thrown(q.recv('jobs', { consumer: 'c', waitMs: Number.NaN }))).message).toBe('a wait is a non-negative number of milliseconds, got NaN');
    expect(await q.recv('jobs', { consumer: 'c', ackTimeoutMs: Infinity }).catch((e: unknown) => (e as Error).message)).toBe(
      'an ack timeout is a positive number of milliseconds, got Infinity',
    );
  });
});

describe('cursors', () => {
  it('with nothing to take, says how long until the nearest ack deadline, or Infinity', async () => {
    let now = 1000;
    const c = new CursorQueues(backend, 'r1', () => now);
    expect(await c.take('jobs', 'g', 'a', undefined)).toEqual({ retryInMs: Infinity });
    await backend.logAppend('r1', topicKey('jobs'), { body: 'x', sender: null, time: '' });
    await backend.logAppend('r1', topicKey('jobs'), { body: 'y', sender: null, time: '' });
    expect((await c.take('jobs', 'g', 'a', 500)).got?.id).toBe(1);
    now = 1100;
    expect((await c.take('jobs', 'g', 'a', 200)).got?.id).toBe(2);
    const r = await c.take('jobs', 'g', 'b', 500);
    // the nearest deadline: message 2 at 1300, plus a millisecond
    expect(r).toEqual({ retryInMs: 201 });
  });

  it('of two messages whose deadlines passed, the older goes first, then the other, before new ones', async () => {
    let now = 0;
    const c = new CursorQueues(backend, 'r1', () => now);
    for (const b of ['1', '2', '3']) await backend.logAppend('r1', topicKey('jobs'), { body: b, sender: null, time: '' });
    await c.take('jobs', 'g', 'a', 100);
    await c.take('jobs', 'g', 'b', 50);
    now = 1000;
    const order = [];
    for (let i = 0; i < 3; i++) {
      const t = await c.take('jobs', 'g', 'c', undefined);
      order.push([t.got?.id, t.got?.delivery, t.got?.from]);
    }
    expect(order).toEqual([
      [1, 2, 'a'],
      [2, 2, 'b'],
      [3, 1, null],
    ]);
  });

  it('a damaged cursor is refused, naming the consumer and topic; damaged pending entries read with safe defaults', async () => {
    const c = new CursorQueues(backend, 'r1', () => 10);
    await backend.logAppend('r1', topicKey('jobs'), { body: 'x', sender: null, time: '' });
    await backend.docCommit('r1', 'consumer/jobs/bad', 0, { next: 0 });
    await expect(c.take('jobs', 'bad', 'a', undefined)).rejects.toThrow('the cursor of consumer bad on topic jobs is damaged (no valid "next")');
    await backend.docCommit('r1', 'consumer/jobs/nonum', 0, { next: 'one' });
    await expect(c.take('jobs', 'nonum', 'a', undefined)).rejects.toThrow('damaged');
    await backend.docCommit('r1', 'consumer/jobs/frac', 0, { next: 1.5 });
    await expect(c.take('jobs', 'frac', 'a', undefined)).rejects.toThrow('damaged');
    await backend.docCommit('r1', 'consumer/jobs/nul', 0, null);
    await expect(c.take('jobs', 'nul', 'a', undefined)).rejects.toThrow('damaged');
    // message 1 pending with its fields lost: handed again at once, as its second delivery
    await backend.docCommit('r1', 'consumer/jobs/odd', 0, {
      next: 2,
      pending: { '1': { member: 5, deadline: 'soon', delivery: 0 }, x: { member: 'm', deadline: 1, delivery: 1 }, '2': null },
      delivered: -1,
      acked: 'a',
    });
    const t = await c.take('jobs', 'odd', 'a', undefined);
    expect(t.got).toMatchObject({ id: 1, delivery: 2, from: '?' });
    const sum = await c.summary();
    expect(sum).toEqual([{ topic: 'jobs', size: 1, consumers: [{ name: 'odd', next: 2, lag: 0, pending: 0 }] }]);
  });

  it('a pending entry keeps its member, deadline and delivery count', async () => {
    let now = 100;
    const c = new CursorQueues(backend, 'r1', () => now);
    await backend.logAppend('r1', topicKey('jobs'), { body: 'x', sender: null, time: '' });
    await backend.docCommit('r1', 'consumer/jobs/g', 0, { next: 2, pending: { '1': { member: 'w1', deadline: 500, delivery: 3 } }, delivered: 3, acked: 0 });
    expect(await c.take('jobs', 'g', 'a', undefined)).toEqual({ retryInMs: 401 });
    now = 500;
    expect((await c.take('jobs', 'g', 'a', undefined)).got).toMatchObject({ id: 1, delivery: 4, from: 'w1' });
  });

  it('a pending entry whose message is gone is dropped, not looped on', async () => {
    const c = new CursorQueues(backend, 'r1', () => 1000);
    await backend.docCommit('r1', 'consumer/jobs/g', 0, { next: 1, pending: { '7': { member: 'w', deadline: 0, delivery: 1 } }, delivered: 1, acked: 0 });
    expect(await c.take('jobs', 'g', 'a', undefined)).toEqual({ retryInMs: Infinity });
    expect((await backend.docRead<{ pending: object }>('r1', 'consumer/jobs/g'))!.data.pending).toEqual({});
  });

  it('the summary counts lag and pending per consumer and leaves out damaged cursors', async () => {
    const c = new CursorQueues(backend, 'r1', () => 0);
    for (const b of ['1', '2', '3']) await backend.logAppend('r1', topicKey('jobs'), { body: b, sender: null, time: '' });
    await c.take('jobs', 'g', 'a', 1000);
    await c.take('jobs', 'g', 'a', undefined);
    await backend.docCommit('r1', 'consumer/jobs/broken', 0, { next: -3 });
    await backend.docCommit('r1', 'consumer/jobs/ahead', 0, { next: 9, pending: {} });
    const s = await c.summary();
    expect(s).toEqual([
      {
        topic: 'jobs',
        size: 3,
        consumers: expect.arrayContaining([
          { name: 'g', next: 3, lag: 1, pending: 1 },
          { name: 'ahead', next: 9, lag: 0, pending: 0 },
        ]),
      },
    ]);
    expect(s[0]!.consumers).toHaveLength(2);
  });
});

describe('cursor bookkeeping', () => {
  it('the cursor counts deliveries and acknowledgements', async () => {
    let now = 0;
    const c = new CursorQueues(backend, 'r1', () => now);
    for (const b of ['1', '2']) await backend.logAppend('r1', topicKey('jobs'), { body: b, sender: null, time: '' });
    await c.take('jobs', 'g', 'a', 100);
    await c.take('jobs', 'g', 'a', 100);
    expect(await c.ack('jobs', 'g', 2)).toBe(true);
    now = 500;
    await c.take('jobs', 'g', 'b', 100);
    const cur = (await backend.docRead<{ delivered: number; acked: number; recent: string[] }>('r1', 'consumer/jobs/g'))!.data;
    expect([cur.delivered, cur.acked]).toEqual([3, 1]);
    // every commit leaves its token, the newest last
    expect(cur.recent).toHaveLength(4);
    expect(new Set(cur.recent).size).toBe(4);
  });

  it('a cursor remembers the tokens of its last 64 commits, not more', async () => {
    const c = new CursorQueues(backend, 'r1', () => 0);
    for (let i = 0; i < 70; i++) await backend.logAppend('r1', topicKey('jobs'), { body: String(i), sender: null, time: '' });
    for (let i = 0; i < 70; i++) await c.take('jobs', 'g', 'a', undefined);
    const cur = (await backend.docRead<{ recent: unknown[] }>('r1', 'consumer/jobs/g'))!;
    expect(cur.data.recent).toHaveLength(64);
    // tokens that are not strings (a damaged cursor) are dropped when read
    await backend.docCommit('r1', 'consumer/jobs/g', cur.version, { next: 71, pending: {}, delivered: 70, acked: 0, recent: [1, 'a', null] });
    await backend.logAppend('r1', topicKey('jobs'), { body: 'x', sender: null, time: '' });
    await c.take('jobs', 'g', 'a', undefined);
    const after = (await backend.docRead<{ recent: unknown[] }>('r1', 'consumer/jobs/g'))!.data.recent;
    expect(after).toHaveLength(2);
    expect(after[0]).toBe('a');
  });

  it('a gap is stepped over only once it is older than the grace period', async () => {
    let now = 100_000;
    const c = new CursorQueues(backend, 'r1', () => now);
    await backend.logPut('r1', topicKey('state'), 2, { body: 'two', sender: null, time: new Date(now - 5000).toISOString() });
    expect(await c.take('state', 'g', 'a', undefined)).toEqual({ retryInMs: Infinity });
    now += 1;
    expect((await c.take('state', 'g', 'a', undefined)).got).toMatchObject({ id: 2, message: { body: 'two' } });
    // a gap whose next message has no readable time waits
    await backend.logPut('r1', topicKey('state'), 4, { body: 'four', sender: null, time: 'whenever' });
    now += 60_000;
    expect(await c.take('state', 'g', 'a', undefined)).toEqual({ retryInMs: Infinity });
  });

  it('a waiting recv looks again every fallbackMs when no notification comes', async () => {
    const deaf = withOverrides<Backend>(backend, { watchLog: () => () => undefined });
    const q = new MessageQueue(deaf, 'r1', { onEvent: () => undefined, fallbackMs: 30 });
    setTimeout(() => void backend.logAppend('r1', topicKey('jobs'), { body: 'late', sender: null, time: '' }), 50);
    const t0 = Date.now();
    expect((await q.recv('jobs', { consumer: 'c', waitMs: 5000 }))?.body).toBe('late');
    expect(Date.now() - t0).toBeLessThan(800);
  });
});
