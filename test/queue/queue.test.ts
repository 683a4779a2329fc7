/**
 * MessageQueue in one process, on the file backend: order, consumers and groups, ack
 * timeouts on a fake clock, waits that sleep on notifications, refused input, the state topic.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../src/backend/file/file-backend.js';
import type { Backend, DocKey } from '../../src/backend/types.js';
import type { EventInput } from '../../src/events/types.js';
import { HOLE_GRACE_MS, MessageQueue, QueueError, queueSummary } from '../../src/queue/queue.js';
import { runRecord } from '../backend/contract.js';
import { exitCodeOf } from '../../src/cli/errors.js';

let dir: string;
let backend: FileBackend;
let events: EventInput[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coord-queue-'));
  backend = new FileBackend(join(dir, '.coord'));
  await backend.createRun(runRecord('r1', new Date().toISOString()), 'streams: []\n');
  events = [];
});
afterEach(async () => {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

function queue(opts: ConstructorParameters<typeof MessageQueue>[2] = {}): MessageQueue {
  return new MessageQueue(backend, 'r1', { onEvent: (e) => events.push(e), ...opts });
}

async function thrown(p: Promise<unknown>): Promise<QueueError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(QueueError);
    return e as QueueError;
  }
  throw new Error('expected a QueueError');
}

describe('MessageQueue', () => {
  it('numbers messages from 1 and hands each consumer every message once, in order', async () => {
    const q = queue({ sender: 'prod' });
    for (let i = 1; i <= 500; i++) expect(await q.send('jobs', `m${i}`)).toBe(i);
    for (const consumer of ['a', 'b']) {
      for (let i = 1; i <= 500; i++) {
        const m = await q.recv('jobs', { consumer });
        expect(m).toMatchObject({ id: i, topic: 'jobs', body: `m${i}`, sender: 'prod', delivery: 1 });
      }
      expect(await q.recv('jobs', { consumer })).toBeUndefined();
    }
    expect(events.filter((e) => e.type === 'queue-sent')).toHaveLength(500);
    expect(events.filter((e) => e.type === 'queue-received')).toHaveLength(1000);
    expect(events[0]).toEqual({ type: 'queue-sent', topic: 'jobs', id: 1, sender: 'prod' });
    expect(events.find((e) => e.type === 'queue-received')).toEqual({ type: 'queue-received', topic: 'jobs', id: 1, consumer: 'a', member: 'a', delivery: 1 });
    expect(await q.summary()).toEqual([
      {
        topic: 'jobs',
        size: 500,
        consumers: [
          { name: 'a', next: 501, lag: 0, pending: 0 },
          { name: 'b', next: 501, lag: 0, pending: 0 },
        ],
      },
    ]);
  });

  it('keeps the body exactly (newlines, unicode, JSON, empty) and writes events to the run log by default', async () => {
    const q = new MessageQueue(backend, 'r1');
    const bodies = ['', 'two\nlines\n', '{"file":"a.ts"}', 'ünïcødé ✓', ' padded '];
    for (const b of bodies) await q.send('t', b);
    for (const b of bodies) expect((await q.recv('t', { consumer: 'c' }))?.body).toBe(b);
    const logged = (await backend.readEvents('r1')).events;
    expect(logged.filter((e) => e.type === 'queue-sent')).toHaveLength(5);
    expect(logged[0]).toMatchObject({ type: 'queue-sent', topic: 't', id: 1, sender: null, run: 'r1' });
    expect(typeof logged[0]!.time).toBe('string');
  });

  it('members of a group share the messages: each goes to exactly one', async () => {
    const q = queue();
    for (let i = 1; i <= 300; i++) await q.send('jobs', String(i));
    const seen = new Map<string, number[]>();
    // interleaved, concurrently started receives of three members
    for (;;) {
      const got = await Promise.all(['x', 'y', 'z'].map((member) => q.recv('jobs', { consumer: 'workers', member })));
      for (const [i, m] of got.entries()) if (m) seen.set(['x', 'y', 'z'][i]!, [...(seen.get(['x', 'y', 'z'][i]!) ?? []), m.id]);
      if (got.every((m) => m === undefined)) break;
    }
    const all = [...seen.values()].flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(seen.size).toBe(3);
    // one member's share arrives in order
    for (const ids of seen.values()) expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  it('hands a message again after its ack timeout, to whichever member asks next, until acknowledged', async () => {
    let now = 1_000_000;
    const q = queue({ now: () => now });
    await q.send('jobs', 'one');
    await q.send('jobs', 'two');
    const first = await q.recv('jobs', { consumer: 'g', member: 'a', ackTimeoutMs: 5000 });
    expect(first).toMatchObject({ id: 1, delivery: 1 });
    // before the deadline the next member gets the next message
    expect(await q.recv('jobs', { consumer: 'g', member: 'b', ackTimeoutMs: 5000 })).toMatchObject({ id: 2, delivery: 1 });
    await q.ack('jobs', 2, { consumer: 'g', member: 'b' });
    expect(await q.recv('jobs', { consumer: 'g', member: 'b', ackTimeoutMs: 5000 })).toBeUndefined();
    expect((await q.summary())[0]!.consumers).toEqual([{ name: 'g', next: 3, lag: 0, pending: 1 }]);
    now += 5000;
    const again = await q.recv('jobs', { consumer: 'g', member: 'b', ackTimeoutMs: 5000 });
    expect(again).toMatchObject({ id: 1, body: 'one', delivery: 2 });
    expect(events.at(-1)).toEqual({ type: 'queue-redelivered', topic: 'jobs', id: 1, consumer: 'g', member: 'b', delivery: 2, from: 'a' });
    now += 6000;
    expect(await q.recv('jobs', { consumer: 'g', member: 'c', ackTimeoutMs: 5000 })).toMatchObject({ id: 1, delivery: 3 });
    await q.ack('jobs', 1, { consumer: 'g', member: 'c' });
    expect(events.at(-1)).toEqual({ type: 'queue-acked', topic: 'jobs', id: 1, consumer: 'g', member: 'c' });
    now += 60_000;
    expect(await q.recv('jobs', { consumer: 'g', member: 'c', ackTimeoutMs: 5000 })).toBeUndefined();
    expect((await q.summary())[0]!.consumers).toEqual([{ name: 'g', next: 3, lag: 0, pending: 0 }]);
    // acknowledged: a second ack is refused, exit 1
    const e = await thrown(q.ack('jobs', 1, { consumer: 'g' }));
    expect(exitCodeOf(e)).toBe(1);
    expect(e.message).toMatch(/^message 1 of jobs is not waiting for an acknowledgement by g/);
  });

  it('messages whose ack deadlines have all passed are handed again oldest first, before newer messages', async () => {
    let now = 1_000_000;
    const q = queue({ now: () => now });
    for (const body of ['one', 'two', 'three', 'four']) await q.send('jobs', body);
    // deadlines in another order than the messages: 2 runs out first, then 3, then 1
    expect(await q.recv('jobs', { consumer: 'g', member: 'a', ackTimeoutMs: 3000 })).toMatchObject({ id: 1 });
    expect(await q.recv('jobs', { consumer: 'g', member: 'a', ackTimeoutMs: 1000 })).toMatchObject({ id: 2 });
    expect(await q.recv('jobs', { consumer: 'g', member: 'a', ackTimeoutMs: 2000 })).toMatchObject({ id: 3 });
    now += 5000;
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await q.recv('jobs', { consumer: 'g', member: 'b', ackTimeoutMs: 60_000 }));
    expect(got.map((m) => [m?.id, m?.body, m?.delivery])).toEqual([
      [1, 'one', 2],
      [2, 'two', 2],
      [3, 'three', 2],
      [4, 'four', 1],
    ]);
    expect(events.filter((e) => e.type === 'queue-redelivered').map((e) => e.id)).toEqual([1, 2, 3]);
  });

  it('a redelivery without an ack timeout is the last one', async () => {
    let now = 0;
    const q = queue({ now: () => now });
    await q.send('jobs', 'x');
    await q.recv('jobs', { consumer: 'g', member: 'a', ackTimeoutMs: 100 });
    now = 200;
    expect(await q.recv('jobs', { consumer: 'g', member: 'b' })).toMatchObject({ id: 1, delivery: 2 });
    now = 10_000;
    expect(await q.recv('jobs', { consumer: 'g', member: 'c' })).toBeUndefined();
    expect((await q.summary())[0]!.consumers[0]!.pending).toBe(0);
  });

  it('survives a compare-and-set reported as failed that did land: nothing skipped, nothing doubled', async () => {
    // every third commit lands but is reported as failed; every sixth also hides the version it made
    let n = 0;
    let hidden: number | undefined;
    const flaky = new Proxy(backend, {
      get(target, prop, receiver) {
        if (prop === 'docCommit') {
          return async (...args: Parameters<Backend['docCommit']>) => {
            const made = await target.docCommit(...args);
            n++;
            if (made && n % 3 === 0) {
              if (n % 6 === 0) hidden = made.version;
              return null;
            }
            return made;
          };
        }
        if (prop === 'docReadVersion') {
          return async (runId: string, key: DocKey, version: number) => (version === hidden ? undefined : target.docReadVersion(runId, key, version));
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Backend;
    const q = new MessageQueue(flaky, 'r1', { onEvent: (e) => events.push(e) });
    for (let i = 1; i <= 60; i++) await q.send('jobs', String(i));
    const ids: number[] = [];
    for (let i = 1; i <= 60; i++) {
      const m = await q.recv('jobs', { consumer: 'g', member: i % 2 ? 'a' : 'b', ackTimeoutMs: 60_000 });
      ids.push(m!.id);
      await q.ack('jobs', m!.id, { consumer: 'g' });
    }
    expect(ids).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(await q.recv('jobs', { consumer: 'g' })).toBeUndefined();
    expect(n).toBeGreaterThanOrEqual(120);
    expect(events.filter((e) => e.type === 'queue-received')).toHaveLength(60);
    expect(events.filter((e) => e.type === 'queue-acked')).toHaveLength(60);
    expect((await q.summary())[0]!.consumers).toEqual([{ name: 'g', next: 61, lag: 0, pending: 0 }]);
  });

  it('refuses bad names, ids, timeouts and unknown messages, changing nothing', async () => {
    const q = queue();
    await q.send('jobs', 'x');
    const before = tree(backend.runDir('r1'));
    for (const bad of ['../x', 'a/b', '', '.hidden', 'x'.repeat(65), '__proto__/x', 'a b']) {
      expect(exitCodeOf(await thrown(q.send(bad, 'x')))).toBe(2);
      expect(exitCodeOf(await thrown(q.recv(bad, { consumer: 'c' })))).toBe(2);
      expect(exitCodeOf(await thrown(q.recv('jobs', { consumer: bad })))).toBe(2);
      expect(exitCodeOf(await thrown(q.ack(bad, 1, { consumer: 'c' })))).toBe(2);
    }
    expect(exitCodeOf(await thrown(q.recv('jobs', { consumer: 'c', ackTimeoutMs: 0 })))).toBe(2);
    expect(exitCodeOf(await thrown(q.recv('jobs', { consumer: 'c', ackTimeoutMs: Number.NaN })))).toBe(2);
    expect(exitCodeOf(await thrown(q.recv('jobs', { consumer: 'c', waitMs: -1 })))).toBe(2);
    expect(exitCodeOf(await thrown(q.recv('jobs', { consumer: 'c', member: 'a\nb' })))).toBe(2);
    expect(exitCodeOf(await thrown(q.ack('jobs', 0, { consumer: 'c' })))).toBe(2);
    expect(exitCodeOf(await thrown(q.ack('jobs', 1.5, { consumer: 'c' })))).toBe(2);
    const unknown = await thrown(q.ack('jobs', 99, { consumer: 'c' }));
    expect(exitCodeOf(unknown)).toBe(1);
    expect(unknown.message).toBe('message 99 of jobs is not waiting for an acknowledgement by c (jobs has messages 1 to 1)');
    expect((await thrown(q.ack('jobs', 1, { consumer: 'c' }))).message).toMatch(/not been delivered to it yet/);
    expect(exitCodeOf(await thrown(q.send('jobs', 42 as unknown as string)))).toBe(2);
    expect(tree(backend.runDir('r1'))).toEqual(before);
  });

  it('waits on the log notification, not by polling, and wakes when another process sends', async () => {
    // a backend that counts looks at the cursor
    let looks = 0;
    const counting = new Proxy(backend, {
      get(target, prop, receiver) {
        if (prop === 'docRead') return (runId: string, key: DocKey) => (looks++, target.docRead(runId, key));
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Backend;
    // a fallback timer far away: only the notification can wake it in time
    const q = new MessageQueue(counting, 'r1', { onEvent: () => {}, fallbackMs: 60_000 });
    const t0 = Date.now();
    const waiting = q.recv('jobs', { consumer: 'c', waitMs: 20_000 });
    await new Promise((r) => setTimeout(r, 600));
    expect(looks).toBeLessThanOrEqual(2);
    const script = `import { FileBackend } from '${join(process.cwd(), 'dist/backend/file/file-backend.js')}';
      import { MessageQueue } from '${join(process.cwd(), 'dist/queue/queue.js')}';
      await new MessageQueue(new FileBackend(process.argv[1]), 'r1').send('jobs', 'hello');`;
    const sent = spawnSync(process.execPath, ['--input-type=module', '-e', script, join(dir, '.coord')], { encoding: 'utf8' });
    expect(sent.stderr).toBe('');
    const tSent = Date.now();
    const m = await waiting;
    expect(m).toMatchObject({ id: 1, body: 'hello' });
    expect(Date.now() - tSent).toBeLessThan(10_000); // woken by the send, not at the end of its wait
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(looks).toBeLessThanOrEqual(6);
  });

  it('a wait with nothing coming returns undefined after its time, looking about once a second', async () => {
    let looks = 0;
    const counting = new Proxy(backend, {
      get(target, prop, receiver) {
        if (prop === 'docRead') return (runId: string, key: DocKey) => (looks++, target.docRead(runId, key));
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as Backend;
    const q = new MessageQueue(counting, 'r1', { onEvent: () => {} });
    const t0 = Date.now();
    expect(await q.recv('jobs', { consumer: 'c', waitMs: 2500 })).toBeUndefined();
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(2400);
    expect(took).toBeLessThan(10_000);
    expect(looks).toBeLessThanOrEqual(6);
  });

  it('a waiting receiver wakes at the nearest ack deadline to take the message again', async () => {
    const q = queue({ fallbackMs: 60_000 });
    await q.send('jobs', 'x');
    await q.recv('jobs', { consumer: 'g', member: 'a', ackTimeoutMs: 400 });
    const t0 = Date.now();
    const again = await q.recv('jobs', { consumer: 'g', member: 'b', ackTimeoutMs: 400, waitMs: 10_000 });
    expect(again).toMatchObject({ id: 1, delivery: 2 });
    expect(Date.now() - t0).toBeLessThan(20_000); // at the deadline, not at the 60 s fallback look
  });

  it('an abort signal ends a wait', async () => {
    const q = queue();
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 100);
    expect(await q.recv('jobs', { consumer: 'c', waitMs: 30_000, signal: ac.signal })).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('under message_queue state the topic state is read-only; its messages are read like any', async () => {
    await backend.createRun(
      { ...runRecord('r2', new Date().toISOString()), sharedState: { type: 'message_queue', keepVersions: 10, durable: false } },
      'streams: []\n',
    );
    const q = await MessageQueue.open(backend, 'r2', { onEvent: () => {} });
    const e = await thrown(q.send('state', 'x'));
    expect(exitCodeOf(e)).toBe(2);
    expect(e.message).toMatch(/topic state is written by the shared state/);
    expect(await backend.topics('r2')).toEqual([]);
    const msg = (v: number, time = new Date().toISOString()) => ({
      body: JSON.stringify({ version: v, stream: 's', op: 'set', keys: ['a'], data: { a: v } }),
      sender: 's',
      time,
    });
    await backend.logPut('r2', 'topic/state', 1, msg(1));
    expect(await q.recv('state', { consumer: 'r' })).toMatchObject({ id: 1, sender: 's', delivery: 1 });
    // a gap (version 2 not written yet, 3 written): not stepped over while it is fresh…
    await backend.logPut('r2', 'topic/state', 3, msg(3));
    expect(await q.recv('state', { consumer: 'r' })).toBeUndefined();
    await backend.logPut('r2', 'topic/state', 2, msg(2));
    expect((await q.recv('state', { consumer: 'r' }))?.id).toBe(2);
    expect((await q.recv('state', { consumer: 'r' }))?.id).toBe(3);
    // …but a gap that stays (a restored snapshot skipped versions) is, after the grace period
    await backend.logPut('r2', 'topic/state', 6, msg(6, new Date(Date.now() - HOLE_GRACE_MS - 1000).toISOString()));
    expect(JSON.parse((await q.recv('state', { consumer: 'r' }))!.body)).toMatchObject({ version: 6, data: { a: 6 } });
    // other topics of that run are ordinary
    expect(await q.send('jobs', 'x')).toBe(1);
    // the same settings without message_queue: state is an ordinary topic
    expect(await new MessageQueue(backend, 'r1', { onEvent: () => {} }).send('state', 'x')).toBe(1);
  });

  it('queueSummary lists topics without consumers and consumers with their lag', async () => {
    const q = queue();
    await q.send('a', '1');
    await q.send('a', '2');
    await q.send('b', '1');
    await q.recv('a', { consumer: 'x', ackTimeoutMs: 60_000 });
    expect(await queueSummary(backend, 'r1')).toEqual([
      { topic: 'a', size: 2, consumers: [{ name: 'x', next: 2, lag: 1, pending: 1 }] },
      { topic: 'b', size: 1, consumers: [] },
    ]);
    expect(existsSync(join(backend.runDir('r1'), 'queues', 'a', 'consumers', 'x'))).toBe(true);
  });
});

/** Every path under `root`, sorted. */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      out.push(`${rel}${e.name}${e.isDirectory() ? '/' : ''}`);
      if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
    }
  };
  walk(root, '');
  return out.sort();
}
