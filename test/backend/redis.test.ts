/**
 * The Redis backend: the shared contract suite, then what only a networked engine has to
 * prove — concurrent writers on separate connections, server restarts and SIGKILL with
 * nothing lost and nothing applied twice, replies lost after a write landed, giving up.
 *
 * Runs against a private redis-server (test/redis-server.ts), or the contract and concurrency
 * tests against COORD_TEST_REDIS when it is set (each test under a fresh key prefix); the
 * restart tests always use a private server. Without COORD_TEST_REDIS and without a
 * redis-server binary the tests that need one are skipped, saying so (test/requires.ts).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisBackend, type ConnectionEvent } from '../../src/backend/redis/redis-backend.js';
import { parseBackendUrl } from '../../src/backend/url.js';
import type { CoordEvent } from '../../src/events/types.js';
import { backendContract, runRecord } from './contract.js';
import { startRedis, type RedisServer } from '../redis-server.js';
import { requires } from '../requires.js';

/** A server to run against: COORD_TEST_REDIS, or a private one. */
const needs = requires('redis');
/** Servers of the test's own, to restart and kill. */
const needsBinary = requires('redis-server');

let server: RedisServer | null = null;
let url = '';
let serial = 0;
const quiet = (): void => {};
const freshPrefix = (): string => `coord-test:${process.pid}:${Date.now().toString(36)}:${++serial}:`;

needs.beforeAll(async () => {
  const shared = process.env['COORD_TEST_REDIS'];
  if (shared) url = shared;
  else {
    server = await startRedis();
    url = server.url;
  }
});

needs.afterAll(async () => {
  await server?.cleanup();
});

/** Every key under `prefix`, through a plain client. */
async function keysUnder(at: string, prefix: string): Promise<string[]> {
  const c = new Redis(at, { lazyConnect: true, maxRetriesPerRequest: 1 });
  c.on('error', quiet);
  try {
    await c.connect();
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await c.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
      out.push(...keys);
      cursor = next;
    } while (cursor !== '0');
    return out.sort();
  } finally {
    c.disconnect();
  }
}

async function dropPrefix(at: string, prefix: string): Promise<void> {
  const keys = await keysUnder(at, prefix);
  if (keys.length === 0) return;
  const c = new Redis(at, { maxRetriesPerRequest: 1 });
  c.on('error', quiet);
  try {
    for (let i = 0; i < keys.length; i += 500) await c.unlink(...keys.slice(i, i + 500));
  } finally {
    c.disconnect();
  }
}

needs.describe('on a Redis server', () => {
  backendContract('redis', async () => {
    const prefix = freshPrefix();
    return { backend: new RedisBackend(url, { prefix, onConnection: quiet }), cleanup: () => dropPrefix(url, prefix) };
  });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Read-modify-write of the state's counter by compare-and-set, retried on conflict; the change log carries `tag`. */
async function increment(b: RedisBackend, runId: string, tag: unknown): Promise<number> {
  for (;;) {
    const cur = await b.docRead<{ n: number }>(runId, 'state');
    const made = await b.docCommit(runId, 'state', cur?.version ?? 0, { n: (cur?.data.n ?? 0) + 1 }, { keep: 4, logs: { changes: tag } });
    if (made) return made.version;
  }
}

const warning = (w: number, i: number): CoordEvent => ({ type: 'warning', message: `${w}:${i}`, time: '2026-01-01T00:00:00.000Z', run: 'r' });

needs.describe('RedisBackend: concurrent writers on separate connections', () => {
  it('4 × 200 compare-and-set increments end at exactly 800, with 800 change-log entries and no holes', async () => {
    const prefix = freshPrefix();
    const admin = new RedisBackend(url, { prefix, onConnection: quiet });
    const writers = Array.from({ length: 4 }, () => new RedisBackend(url, { prefix, onConnection: quiet }));
    try {
      await admin.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      await Promise.all(
        writers.map(async (b, w) => {
          for (let i = 0; i < 200; i++) await increment(b, 'r', { w, i });
        }),
      );
      const head = await admin.docRead<{ n: number }>('r', 'state');
      expect(head).toMatchObject({ version: 800, data: { n: 800 } });
      const changes = await admin.logRange<{ w: number; i: number }>('r', 'changes');
      expect(changes.map((e) => e.seq)).toEqual(Array.from({ length: 800 }, (_, i) => i + 1));
      expect(new Set(changes.map((e) => `${e.body.w}:${e.body.i}`)).size).toBe(800);
      expect((await admin.docVersions('r', 'state')).length).toBe(4);
    } finally {
      await Promise.all([admin, ...writers].map((b) => b.close()));
      await dropPrefix(url, prefix);
    }
  });

  it('4 × 250 appends from separate connections get the numbers 1..1000, each once', async () => {
    const prefix = freshPrefix();
    const admin = new RedisBackend(url, { prefix, onConnection: quiet });
    const writers = Array.from({ length: 4 }, () => new RedisBackend(url, { prefix, onConnection: quiet }));
    try {
      await admin.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      const got: Array<[number, string]> = [];
      await Promise.all(
        writers.map(async (b, w) => {
          for (let i = 0; i < 250; i++) got.push([await b.logAppend('r', 'topic/jobs', { w, i }), `${w}:${i}`]);
        }),
      );
      expect(got.map(([seq]) => seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
      const log = new Map((await admin.logRange<{ w: number; i: number }>('r', 'topic/jobs')).map((e) => [e.seq, `${e.body.w}:${e.body.i}`]));
      expect(log.size).toBe(1000);
      for (const [seq, tag] of got) expect(log.get(seq)).toBe(tag);
      expect(await admin.logHead('r', 'topic/jobs')).toBe(1000);
    } finally {
      await Promise.all([admin, ...writers].map((b) => b.close()));
      await dropPrefix(url, prefix);
    }
  });
});

needs.describe('RedisBackend specifics', () => {
  it('removeRun deletes every key of the run and nothing of other runs; writes to a removed run fail', async () => {
    const prefix = freshPrefix();
    const b = new RedisBackend(url, { prefix, onConnection: quiet });
    try {
      for (const id of ['gone', 'kept']) {
        await b.createRun(runRecord(id, '2026-01-01T00:00:00.000Z'), 'plan');
        await b.appendEvent(id, warning(0, 0));
        await b.docCommit(id, 'consumer/jobs/w1', 0, { next: 1 }, { logs: { 'topic/jobs': { body: 1 } } });
        await b.logAppend(id, 'changes', { i: 1 });
        await b.putPools(id, []);
      }
      expect((await keysUnder(url, `${prefix}run:gone:`)).length).toBeGreaterThan(5);
      const keptBefore = await keysUnder(url, `${prefix}run:kept:`);
      await b.removeRun('gone');
      expect(await keysUnder(url, `${prefix}run:gone:`)).toEqual([]);
      expect(await keysUnder(url, `${prefix}run:kept:`)).toEqual(keptBefore);
      expect((await b.listRuns()).map((r) => r.id)).toEqual(['kept']);
      await expect(b.logAppend('gone', 'changes', { i: 2 })).rejects.toThrow('no run "gone"');
      expect(await keysUnder(url, `${prefix}run:gone:`)).toEqual([]);
      await expect(b.removeRun('../x')).rejects.toThrow('bad run id');
    } finally {
      await b.close();
      await dropPrefix(url, prefix);
    }
  });

  it('heartbeat keys expire after their ttl; an older attempt never replaces a newer one; an end deletes only its own', async () => {
    const prefix = freshPrefix();
    const b = new RedisBackend(url, { prefix, onConnection: quiet });
    const c = new Redis(url, { maxRetriesPerRequest: 1 });
    c.on('error', quiet);
    const beat = (attempt: number, time: string | null) => ({
      attempt,
      startedAt: '2026-01-01T00:00:00.000Z',
      time,
      progress: attempt * 10,
      message: `a${attempt}`,
      host: 'h',
      worker: null,
    });
    try {
      await b.putBeat('nope', 's', beat(1, null), 10_000); // no such run: nothing stored
      expect(await keysUnder(url, `${prefix}run:nope:`)).toEqual([]);
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), 'plan');
      await b.putBeat('r', 's', beat(1, null), 400);
      await b.putBeat('r', 't', beat(1, '2026-01-01T00:00:01.000Z'), 60_000);
      const first = await b.readBeats('r', ['s', 't', 'u']);
      expect([...first.keys()].sort()).toEqual(['s', 't']);
      expect(first.get('t')).toMatchObject({ attempt: 1, time: '2026-01-01T00:00:01.000Z', progress: 10, message: 'a1' });
      expect(first.get('s')!.ttlMs).toBeGreaterThan(0);
      expect(first.get('s')!.ttlMs).toBeLessThanOrEqual(400);
      expect(await c.pttl(`${prefix}run:r:beat:s`)).toBeGreaterThan(0);
      await sleep(600); // the server expires it: nobody deletes it
      expect([...(await b.readBeats('r', ['s', 't'])).keys()]).toEqual(['t']);
      // attempt 2 of t, then a late beat of attempt 1: attempt 2's stays
      await b.putBeat('r', 't', beat(2, '2026-01-01T00:00:05.000Z'), 60_000);
      await b.putBeat('r', 't', beat(1, '2026-01-01T00:00:09.000Z'), 60_000);
      expect((await b.readBeats('r', ['t'])).get('t')).toMatchObject({ attempt: 2, time: '2026-01-01T00:00:05.000Z' });
      await b.endBeat('r', 't', 1); // attempt 1's end: not attempt 2's beat
      expect((await b.readBeats('r', ['t'])).get('t')?.attempt).toBe(2);
      await b.endBeat('r', 't', 2);
      expect((await b.readBeats('r', ['t'])).size).toBe(0);
      await b.putBeat('r', 't', beat(3, null), 60_000);
      await b.removeRun('r');
      expect(await keysUnder(url, `${prefix}run:r:`)).toEqual([]);
    } finally {
      c.disconnect();
      await b.close();
      await dropPrefix(url, prefix);
    }
  });

  it('logRange over a long log with gaps: in order, from `from`, at most `limit`, across chunks', async () => {
    const prefix = freshPrefix();
    const b = new RedisBackend(url, { prefix, onConnection: quiet });
    try {
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      const seqs = Array.from({ length: 2500 }, (_, i) => 3 * i + 1);
      await Promise.all(seqs.map((s) => b.logPut('r', 'snapshots', s, { s })));
      expect(await b.logHead('r', 'snapshots')).toBe(3 * 2499 + 1);
      const all = await b.logRange<{ s: number }>('r', 'snapshots');
      expect(all.map((e) => e.seq)).toEqual(seqs);
      expect(all.every((e) => e.body.s === e.seq)).toBe(true);
      expect((await b.logRange('r', 'snapshots', 2999, 1500)).map((e) => e.seq)).toEqual(seqs.filter((s) => s >= 2999).slice(0, 1500));
      expect(await b.logRange('r', 'snapshots', 3 * 2499 + 2)).toEqual([]);
    } finally {
      await b.close();
      await dropPrefix(url, prefix);
    }
  });

  it('watchers of many logs share one subscriber connection, and a write wakes only its log', async () => {
    const prefix = freshPrefix();
    const b = new RedisBackend(url, { prefix, onConnection: quiet });
    const c = new Redis(url);
    c.on('error', quiet);
    try {
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      const calls = new Map<string, number>();
      const stops = ['a', 'b', 'c', 'd'].map((t) => b.watchLog('r', `topic/${t}`, () => calls.set(t, (calls.get(t) ?? 0) + 1)));
      await until('the subscriptions', () => calls.size === 4);
      const subscribers = (await c.client('LIST')) as string;
      expect(subscribers.split('\n').filter((l) => / name=coord /.test(l) && / sub=4 /.test(l))).toHaveLength(1);
      const before = new Map(calls);
      await b.logAppend('r', 'topic/c', 'x');
      await until('the wake-up', () => calls.get('c')! > before.get('c')!);
      await sleep(50);
      expect(calls.get('a')).toBe(before.get('a'));
      for (const stop of stops) stop();
      await sleep(50);
      await b.logAppend('r', 'topic/c', 'y');
      await sleep(50);
      expect(calls.get('c')).toBe(before.get('c')! + 1);
    } finally {
      c.disconnect();
      await b.close();
      await dropPrefix(url, prefix);
    }
  });
});

/** A TCP proxy that can drop the connection after the server has executed a script, before its reply reaches the client. */
async function lossyProxy(host: string, port: number): Promise<{ url: string; dropNextScriptReply(): void; dropped(): number; close(): Promise<void> }> {
  let armed = false;
  let dropped = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const up = createConnection({ host, port });
    sockets.add(client);
    sockets.add(up);
    let dropReply = false;
    const bye = (): void => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    client.on('data', (d) => {
      if (armed && /\r\n(evalsha|eval)\r\n/i.test(d.toString('latin1'))) {
        armed = false;
        dropReply = true;
      }
      up.write(d);
    });
    up.on('data', (d) => {
      // a NOSCRIPT answer means nothing ran yet: let it through, drop the reply of the EVAL that follows
      if (dropReply && !d.toString('latin1').startsWith('-NOSCRIPT')) {
        dropped++;
        bye();
        return;
      }
      client.write(d);
    });
    for (const s of [client, up]) {
      s.on('close', bye);
      s.on('error', bye);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (typeof addr !== 'object' || !addr) throw new Error('no proxy port');
  return {
    url: `redis://127.0.0.1:${addr.port}`,
    dropNextScriptReply: () => {
      armed = true;
    },
    dropped: () => dropped,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('RedisBackend across lost connections', () => {
  needs.it('a write whose reply was lost after it landed is sent again and recognised: no duplicate, no false conflict', async () => {
    const target = parseBackendUrl(url, 'COORD_TEST_REDIS');
    const proxy = await lossyProxy(target.host, target.port);
    const prefix = freshPrefix();
    const seen: ConnectionEvent[] = [];
    const b = new RedisBackend(proxy.url.replace(/$/, `/${target.db}`), { prefix, onConnection: (e) => seen.push(e) });
    try {
      let drops = 0;
      const lossy = async <T>(op: () => Promise<T>): Promise<T> => {
        proxy.dropNextScriptReply();
        const out = await op();
        expect(proxy.dropped()).toBe(++drops);
        return out;
      };
      await lossy(() => b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), 'plan')); // not "exists already"
      expect((await lossy(() => b.docCommit('r', 'state', 0, { n: 1 }, { logs: { changes: { i: 1 } } })))?.version).toBe(1); // not null
      expect(await b.docVersions('r', 'state')).toEqual([1]);
      expect(await lossy(() => b.logAppend('r', 'topic/t', 'once'))).toBe(1);
      expect(await lossy(() => b.logPut('r', 'snapshots', 5, 'snap'))).toBe(true); // not "taken"
      await lossy(() => b.appendEvent('r', warning(0, 1)));
      expect(await lossy(() => b.docRestore('r', 'state', { version: 10, time: 0, data: { n: 10 } }, { logs: { changes: { i: 10 } } }))).toBe(true);
      expect((await lossy(() => b.updateRun('r', { state: 'succeeded' }))).state).toBe('succeeded');
      expect(await b.logRange('r', 'topic/t')).toEqual([{ seq: 1, body: 'once' }]);
      expect(await b.logRange('r', 'snapshots')).toEqual([{ seq: 5, body: 'snap' }]);
      expect((await b.logRange('r', 'changes')).map((e) => e.seq)).toEqual([1, 10]);
      expect((await b.readEvents('r')).events).toEqual([warning(0, 1)]);
      expect(await b.docVersions('r', 'state')).toEqual([10, 1]);
      expect(seen.filter((e) => e.state === 'lost').length).toBe(drops);
      expect(seen.filter((e) => e.state === 'restored').length).toBe(drops);
    } finally {
      await b.close();
      await proxy.close();
      await dropPrefix(url, prefix);
    }
  });

  needsBinary.it('keeps going through a server restart and a SIGKILL: nothing lost, nothing applied twice', async () => {
    const srv = await startRedis();
    const seen: ConnectionEvent[] = [];
    const make = (): RedisBackend => new RedisBackend(srv.url, { prefix: 'restart:', giveUpMs: 20_000, onConnection: (e) => seen.push(e) });
    const admin = make();
    const incrementers = [make(), make()];
    const appenders = [make(), make()];
    const PER = 150;
    let progress = 0;
    try {
      await admin.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      const appended: Array<[number, string]> = [];
      const loops = [
        ...incrementers.map(async (b, w) => {
          for (let i = 0; i < PER; i++) {
            await increment(b, 'r', { w, i });
            progress++;
          }
        }),
        ...appenders.map(async (b, w) => {
          for (let i = 0; i < PER; i++) {
            appended.push([await b.logAppend('r', 'topic/t', { w, i }), `${w}:${i}`]);
            await b.appendEvent('r', warning(w, i));
            progress++;
          }
        }),
      ];
      const disrupt = async (): Promise<void> => {
        await until('a quarter of the writes', () => progress >= PER);
        await srv.restart();
        await until('two thirds of the writes', () => progress >= (PER * 8) / 3);
        await srv.kill();
        await sleep(100);
        await srv.start();
      };
      await Promise.all([...loops, disrupt()]);

      // the counter: every increment once
      expect(await admin.docRead('r', 'state')).toMatchObject({ version: 2 * PER, data: { n: 2 * PER } });
      const changes = await admin.logRange<{ w: number; i: number }>('r', 'changes');
      expect(changes.map((e) => e.seq)).toEqual(Array.from({ length: 2 * PER }, (_, i) => i + 1));
      expect(new Set(changes.map((e) => `${e.body.w}:${e.body.i}`)).size).toBe(2 * PER);
      // the log: every append once, at the number its writer was given
      const log = await admin.logRange<{ w: number; i: number }>('r', 'topic/t');
      expect(log.map((e) => e.seq)).toEqual(Array.from({ length: 2 * PER }, (_, i) => i + 1));
      const bySeq = new Map(log.map((e) => [e.seq, `${e.body.w}:${e.body.i}`]));
      for (const [seq, tag] of appended) expect(bySeq.get(seq)).toBe(tag);
      expect(new Set(bySeq.values()).size).toBe(2 * PER);
      // the events: every one once, in each writer's order
      const { events } = await admin.readEvents('r');
      for (const w of [0, 1]) {
        const mine = events.flatMap((e) => (e.type === 'warning' && e.message.startsWith(`${w}:`) ? [Number(e.message.slice(2))] : []));
        expect(mine).toEqual(Array.from({ length: PER }, (_, i) => i));
      }
      expect(seen.some((e) => e.state === 'lost')).toBe(true);
      expect(seen.some((e) => e.state === 'restored')).toBe(true);
      expect(seen.some((e) => e.state === 'failed')).toBe(false);
    } finally {
      await Promise.all([admin, ...incrementers, ...appenders].map((b) => b.close()));
      await srv.cleanup();
    }
  });

  needsBinary.it('gives up after giveUpMs without a server, naming it, and comes back by itself when the server does', async () => {
    const srv = await startRedis();
    await srv.stop();
    const seen: ConnectionEvent[] = [];
    const b = new RedisBackend(srv.url, { prefix: 'giveup:', giveUpMs: 500, onConnection: (e) => seen.push(e) });
    try {
      const t0 = Date.now();
      await expect(b.getRun('r')).rejects.toThrow(`redis://127.0.0.1:${srv.port}`);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
      expect(Date.now() - t0).toBeLessThan(5000);
      // past giveUpMs, calls fail at once
      const t1 = Date.now();
      await expect(b.logAppend('r', 'changes', 1)).rejects.toThrow(/no connection to the Redis backend at redis:\/\/127\.0\.0\.1:\d+ for \d+ ms/);
      expect(Date.now() - t1).toBeLessThan(450); // not another giveUpMs
      await until('the failed report', () => seen.some((e) => e.state === 'failed'));
      expect(seen[0]).toMatchObject({ state: 'lost' });
      await srv.start();
      await until('the reconnect', () => seen.some((e) => e.state === 'restored'), 10_000);
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      expect((await b.getRun('r'))?.id).toBe('r');
    } finally {
      await b.close();
      await srv.cleanup();
    }
  });

  needsBinary.it('wakes watchers after a reconnect, and they are told about writes after it', async () => {
    const srv = await startRedis();
    const b = new RedisBackend(srv.url, { prefix: 'watch:', onConnection: quiet });
    try {
      await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), '');
      let calls = 0;
      const stop = b.watchLog('r', 'topic/t', () => calls++);
      await until('the subscription', () => calls === 1);
      await srv.restart();
      await until('the wake-up after the reconnect', () => calls >= 2);
      const before = calls;
      await b.logAppend('r', 'topic/t', 'after');
      await until('the wake-up for the write', () => calls > before);
      stop();
    } finally {
      await b.close();
      await srv.cleanup();
    }
  });
});

describe('parseBackendUrl', () => {
  it('reads redis://HOST[:PORT][/DB] with defaults and credentials', () => {
    expect(parseBackendUrl('redis://localhost', '--backend')).toEqual({
      kind: 'redis',
      host: 'localhost',
      port: 6379,
      db: 0,
      url: 'redis://localhost:6379/0',
      display: 'redis://localhost:6379',
    });
    expect(parseBackendUrl('redis://10.0.0.5:6380/2', '--backend')).toMatchObject({
      host: '10.0.0.5',
      port: 6380,
      db: 2,
      url: 'redis://10.0.0.5:6380/2',
      display: 'redis://10.0.0.5:6380/2',
    });
    expect(parseBackendUrl('redis://cache.internal:6380/', '--backend')).toMatchObject({ port: 6380, db: 0 });
    const withPassword = parseBackendUrl('redis://:s3cr%40t@cache:6390/1', 'COORD_BACKEND');
    expect(withPassword).toMatchObject({
      host: 'cache',
      port: 6390,
      db: 1,
      password: 's3cr@t',
      url: 'redis://:s3cr%40t@cache:6390/1',
      display: 'redis://cache:6390/1',
    });
    expect(withPassword.username).toBeUndefined();
    expect(parseBackendUrl('redis://app:pw@cache', '--backend')).toMatchObject({ username: 'app', password: 'pw' });
    expect(parseBackendUrl('redis://[::1]:7000', '--backend')).toMatchObject({ host: '::1', port: 7000, url: 'redis://[::1]:7000/0' });
    expect(parseBackendUrl('  REDIS://Host  ', '--backend')).toMatchObject({ host: 'Host', port: 6379 });
  });

  it('refuses anything else, saying where the value came from and what is wrong', () => {
    const bad: Array<[string, RegExp]> = [
      ['', /it is empty/],
      ['http://localhost:6379', /unknown scheme "http:"/],
      ['localhost:6379', /unknown scheme "localhost:"/],
      ['rediss://cache', /TLS/],
      ['redis:cache', /followed by "\/\/"/],
      ['redis://', /no host/],
      ['redis://:6379', /no host/],
      ['redis://cache:0', /bad port "0"/],
      ['redis://cache:65536', /bad port "65536"/],
      ['redis://cache:port', /bad port "port"/],
      ['redis://cache:', /empty port/],
      ['redis://cache/db1', /bad database "db1"/],
      ['redis://cache/-1', /bad database "-1"/],
      ['redis://cache/1/2', /bad database "1\/2"/],
      ['redis://cache?db=1', /query strings/],
      ['redis://ca che', /white space/],
      ['redis://a:b:c', /too many ":"/],
    ];
    for (const [text, why] of bad) {
      expect(() => parseBackendUrl(text, 'COORD_BACKEND')).toThrow(why);
      expect(() => parseBackendUrl(text, 'COORD_BACKEND')).toThrow(/^COORD_BACKEND: /);
    }
    expect(() => parseBackendUrl('ftp://x', '--backend')).toThrow(
      /^--backend: "ftp:\/\/x" is not a backend URL: unknown scheme "ftp:" \(expected redis:\/\/HOST\[:PORT\]\[\/DB\]\)$/,
    );
    // a password never shows in an error
    let message = '';
    try {
      parseBackendUrl('redis://:hunter2@cache:99999', '--backend');
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/bad port "99999"/);
    expect(message).not.toContain('hunter2');
  });
});
