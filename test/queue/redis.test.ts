/**
 * The shared state and the queues on the Redis backend, through the same library code as on
 * files, with several connections standing for several processes or hosts: no lost update,
 * groups that hand each message to exactly one member, ack-timeout redelivery, waits woken by
 * another connection's send, the message_queue state topic, rollback and snapshot restore.
 */
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisBackend } from '../../src/backend/redis/redis-backend.js';
import { MessageQueue } from '../../src/queue/queue.js';
import { StateStore } from '../../src/state/store.js';
import { runRecord } from '../backend/contract.js';
import { startRedis, type RedisServer } from '../redis-server.js';
import { requires } from '../requires.js';

const needs = requires('redis-server');

let server: RedisServer;
let prefix: string;
let opened: RedisBackend[];
const quiet = () => undefined;

needs.beforeAll(async () => {
  server = await startRedis();
}, 30_000);
needs.afterAll(async () => {
  await server.cleanup();
});
beforeEach(() => {
  prefix = `coordtest:${randomBytes(4).toString('hex')}:`;
  opened = [];
});
afterEach(async () => {
  await Promise.all(opened.map((b) => b.close()));
});

/** A new connection, as another process would have. */
function connection(): RedisBackend {
  const b = new RedisBackend(server.url, { prefix, onConnection: quiet });
  opened.push(b);
  return b;
}

async function newRun(
  b: RedisBackend,
  id: string,
  sharedState?: { type: 'centralized' | 'immutable' | 'message_queue'; keepVersions: number; durable: boolean },
): Promise<void> {
  await b.createRun({ ...runRecord(id, new Date().toISOString()), ...(sharedState ? { sharedState } : {}) }, 'streams: []\n');
}

needs.describe('shared state on Redis', () => {
  it('concurrent update(fn) from 4 connections never loses a write; the change log has every version', async () => {
    await newRun(connection(), 'r');
    const writer = async (w: number) => {
      const s = new StateStore(connection(), 'r', { onEvent: quiet, stream: `w${w}`, keepVersions: 5 });
      for (let i = 0; i < 50; i++) await s.update((cur) => ({ ...cur, seen: [...((cur.seen as string[]) ?? []), `w${w}:${i}`] }));
    };
    await Promise.all([0, 1, 2, 3].map(writer));
    const s = new StateStore(connection(), 'r', { onEvent: quiet });
    const { version, data } = await s.read();
    expect(version).toBe(200);
    expect(new Set(data.seen as string[]).size).toBe(200);
    expect((await s.changeLog()).map((e) => e.version)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    // old versions were removed down to keep_versions, the log stayed whole
    expect((await connection().docVersions('r', 'state')).length).toBeLessThanOrEqual(5);
  });

  it('rollback, --expect-version conflicts, snapshots and the restore of a lost state', async () => {
    const b = connection();
    await newRun(b, 'r');
    const s = new StateStore(b, 'r', { onEvent: quiet, stream: 'a' });
    await s.set('x', 1);
    await s.set('x', 2);
    await expect(s.set('x', 3, 'a', { expectVersion: 1 })).rejects.toThrow('expected version 1, it is at version 2');
    expect((await s.rollback(1)).data).toEqual({ x: 1 });
    expect(await s.read()).toEqual({ version: 3, data: { x: 1 } });
    expect(await s.snapshot()).toBe(3);
    // the newest versions are lost (a server without persistence restarted, say): the state
    // comes back at the snapshot's own version, never going back
    await newRun(b, 'lost');
    const lost = new StateStore(b, 'lost', { onEvent: quiet });
    await b.logPut('lost', 'snapshots', 7, { version: 7, time: Date.now(), data: { y: 7 } }, { durable: true });
    expect(await lost.restoreFromSnapshot()).toBe(7);
    expect(await lost.read()).toEqual({ version: 7, data: { y: 7 } });
    expect((await lost.incr('y')).version).toBe(8);
    expect((await lost.changeLog()).map((e) => [e.version, e.op])).toEqual([
      [7, 'restore'],
      [8, 'incr'],
    ]);
  });

  it('message_queue publishes each version on topic state, read by a consumer on another connection', async () => {
    await newRun(connection(), 'mq', { type: 'message_queue', keepVersions: 10, durable: false });
    const s = await StateStore.open(connection(), 'mq', { onEvent: quiet, stream: 'w' });
    for (let i = 0; i < 5; i++) await s.incr('n');
    const q = await MessageQueue.open(connection(), 'mq', { onEvent: quiet });
    const got: number[] = [];
    for (let m = await q.recv('state', { consumer: 'r' }); m; m = await q.recv('state', { consumer: 'r' }))
      got.push((JSON.parse(m.body) as { data: { n: number } }).data.n);
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });
});

needs.describe('queues on Redis', () => {
  it('a group of 3 members on their own connections drains 600 messages, each exactly once', async () => {
    await newRun(connection(), 'r');
    const producer = new MessageQueue(connection(), 'r', { onEvent: quiet, sender: 'p' });
    for (let i = 1; i <= 600; i++) await producer.send('jobs', `m${i}`);
    const member = async (name: string) => {
      const q = new MessageQueue(connection(), 'r', { onEvent: quiet });
      const mine: number[] = [];
      for (let m = await q.recv('jobs', { consumer: 'g', member: name }); m; m = await q.recv('jobs', { consumer: 'g', member: name })) mine.push(m.id);
      return mine;
    };
    const all = await Promise.all(['a', 'b', 'c'].map(member));
    const ids = all.flat().sort((x, y) => x - y);
    expect(ids).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    for (const mine of all) expect(mine.length).toBeGreaterThan(0);
  });

  it('hands a message again after its ack timeout (the server clock), to another member, until acknowledged', async () => {
    await newRun(connection(), 'r');
    const a = new MessageQueue(connection(), 'r', { onEvent: quiet });
    const b = new MessageQueue(connection(), 'r', { onEvent: quiet });
    await a.send('jobs', 'one');
    await a.send('jobs', 'two');
    // a deadline far enough away that the next two calls come before it, however loaded the machine
    expect(await a.recv('jobs', { consumer: 'g', member: 'a', ackTimeoutMs: 2000 })).toMatchObject({ id: 1, delivery: 1 });
    // not yet run out: b gets the next message, not message 1 again
    expect(await b.recv('jobs', { consumer: 'g', member: 'b', ackTimeoutMs: 60_000 })).toMatchObject({ id: 2, delivery: 1 });
    expect(await b.recv('jobs', { consumer: 'g', member: 'b', ackTimeoutMs: 400 })).toBeUndefined();
    // a waiting receive is woken by the ack timeout, not by the 60 s fallback
    const t0 = Date.now();
    const again = await b.recv('jobs', { consumer: 'g', member: 'b', ackTimeoutMs: 400, waitMs: 10_000 });
    expect(again).toMatchObject({ id: 1, body: 'one', delivery: 2 });
    expect(Date.now() - t0).toBeLessThan(10_000);
    await b.ack('jobs', 1, { consumer: 'g', member: 'b' });
    await new Promise((r) => setTimeout(r, 600));
    expect(await a.recv('jobs', { consumer: 'g', member: 'a', ackTimeoutMs: 400 })).toBeUndefined();
    await expect(a.ack('jobs', 1, { consumer: 'g' })).rejects.toThrow('it was acknowledged already');
    await expect(a.ack('jobs', 3, { consumer: 'g' })).rejects.toThrow('jobs has messages 1 to 2');
    // message 2 is still pending (60 s); the summary says so
    expect(await a.summary()).toEqual([{ topic: 'jobs', size: 2, consumers: [{ name: 'g', next: 3, lag: 0, pending: 1 }] }]);
  });

  it('messages whose ack timeouts have all run out are handed again oldest first, before newer messages', async () => {
    await newRun(connection(), 'r');
    const a = new MessageQueue(connection(), 'r', { onEvent: quiet });
    const b = new MessageQueue(connection(), 'r', { onEvent: quiet });
    for (const body of ['one', 'two', 'three', 'four']) await a.send('jobs', body);
    // timeouts in another order than the messages: 2 runs out first, then 3, then 1 (each a
    // second or more, so none runs out while the three receives are still being made)
    for (const [id, ackTimeoutMs] of [
      [1, 3000],
      [2, 1000],
      [3, 2000],
    ] as const) {
      expect(await a.recv('jobs', { consumer: 'g', member: 'a', ackTimeoutMs })).toMatchObject({ id });
    }
    // past the longest timeout (the server counts from its delivery, before this reply came)
    await new Promise((r) => setTimeout(r, 3200));
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await b.recv('jobs', { consumer: 'g', member: 'b', ackTimeoutMs: 60_000 }));
    expect(got.map((m) => [m?.id, m?.body, m?.delivery])).toEqual([
      [1, 'one', 2],
      [2, 'two', 2],
      [3, 'three', 2],
      [4, 'four', 1],
    ]);
  });

  it('keeps topics as Redis Streams and consumers as consumer groups (XINFO sees them)', async () => {
    await newRun(connection(), 'r');
    const q = new MessageQueue(connection(), 'r', { onEvent: quiet });
    for (let i = 1; i <= 3; i++) await q.send('jobs', `m${i}`);
    await q.recv('jobs', { consumer: 'workers', member: 'w1', ackTimeoutMs: 30_000 });
    await q.recv('jobs', { consumer: 'workers', member: 'w2' });
    await q.recv('jobs', { consumer: 'audit' });
    const raw = new Redis(server.url);
    try {
      const stream = `${prefix}run:r:topic:jobs`;
      expect(await raw.type(stream)).toBe('stream');
      expect((await raw.xrange(stream, '-', '+')).map(([id]) => id)).toEqual(['0-1', '0-2', '0-3']);
      const groups = ((await raw.xinfo('GROUPS', stream)) as Array<Array<string | number>>).map((g) => [
        g[1],
        g[g.indexOf('pending') + 1],
        g[g.indexOf('last-delivered-id') + 1],
      ]);
      // w1 took with an ack timeout (pending), w2 without (NOACK: done once handed out)
      expect(groups).toEqual([
        ['audit', 0, '0-1'],
        ['workers', 1, '0-2'],
      ]);
      const pending = (await raw.xpending(stream, 'workers', '-', '+', 10)) as Array<[string, string, number, number]>;
      expect(pending.map((p) => [p[0], p[1], p[3]])).toEqual([['0-1', 'w1', 1]]);
    } finally {
      raw.disconnect();
    }
    expect(await q.summary()).toEqual([
      {
        topic: 'jobs',
        size: 3,
        consumers: [
          { name: 'audit', next: 2, lag: 2, pending: 0 },
          { name: 'workers', next: 3, lag: 1, pending: 1 },
        ],
      },
    ]);
  });

  it('a waiting receiver is woken by a send on another connection, without polling', async () => {
    await newRun(connection(), 'r');
    const receiver = new MessageQueue(connection(), 'r', { onEvent: quiet, fallbackMs: 60_000 });
    const sender = new MessageQueue(connection(), 'r', { onEvent: quiet });
    const t0 = Date.now();
    const waiting = receiver.recv('jobs', { consumer: 'c', waitMs: 30_000 });
    setTimeout(() => void sender.send('jobs', 'wake'), 300);
    expect(await waiting).toMatchObject({ id: 1, body: 'wake' });
    // woken by the notification: far sooner than the 60 s fallback look
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
