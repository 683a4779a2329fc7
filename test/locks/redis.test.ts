/**
 * The locks on a Redis server (RedisLockStore, COORD_BACKEND): the guarantees of the file
 * locks — modes, FIFO fairness, growing fencing tokens, owner-checked release, leases, reclaim,
 * lost grants, timeouts, deadlocks — for processes that share one server. One private server
 * for the file.
 */
import { afterEach, expect, test } from '@jest/globals';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startRedis, type RedisServer } from '../redis-server.js';
import { requires } from '../requires.js';
import { RedisBackend } from '../../src/backend/redis/redis-backend.js';
import { RedisLockStore } from '../../src/locks/redis-store.js';
import { DeadlockError, FileLockManager, LockTimeoutError, type LockEvent, type LockHandle } from '../../src/locks/manager.js';
import { HOST } from '../../src/locks/registry.js';
import { emptyLockState } from '../../src/locks/state.js';
import { FIXTURES, Rig, type Spawned } from '../rig.js';
import { checkLog } from './lockcheck.js';

const needs = requires('redis-server');
let server: RedisServer;
const backends: RedisBackend[] = [];
let rig: Rig | undefined;

needs.beforeAll(async () => {
  server = await startRedis();
});
needs.afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
  await server?.cleanup();
});
afterEach(async () => {
  await rig?.cleanup();
  rig = undefined;
});

/** A manager with its own connection, as another process (or host) would have. */
function manager(owner: string, opts: { leaseMs?: number; onEvent?: (e: LockEvent) => void } = {}): FileLockManager {
  const b = new RedisBackend(server.url, { onConnection: () => {} });
  backends.push(b);
  return new FileLockManager({ owner, store: new RedisLockStore(b), ...opts });
}

/** A path of its own per test: the lock is named by the path string. */
const path = (): string => `/coord-redis-lock-test/${randomBytes(6).toString('hex')}`;

const pending = <T>(p: Promise<T>): { settled: () => boolean; value: () => T | undefined } => {
  let done = false;
  let value: T | undefined;
  p.then(
    (v) => {
      done = true;
      value = v;
    },
    () => {
      done = true;
    },
  );
  return { settled: () => done, value: () => value };
};

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

needs.describe('locks on Redis, library level', () => {
  test('readers share the lock, a writer is alone', async () => {
    const f = path();
    const [a, b, w] = [manager('a'), manager('b'), manager('w')];
    const ra = await a.acquire(f, { mode: 'read' });
    const rb = await b.acquire(f, { mode: 'read', timeout: 2000 });
    expect((await a.inspectAsync(f)).holders.map((h) => h.owner).sort()).toEqual(['a', 'b']);
    await expect(w.acquire(f, { mode: 'write', timeout: 150 })).rejects.toThrow(LockTimeoutError);
    const wp = pending(w.acquire(f, { mode: 'write' }));
    await ra.release();
    await new Promise((r) => setTimeout(r, 100));
    expect(wp.settled()).toBe(false); // b still reads
    await rb.release();
    await until('the writer', () => wp.settled());
    const wh = wp.value()!;
    expect((await a.inspectAsync(f)).holders.map((h) => [h.owner, h.mode])).toEqual([['w', 'write']]);
    await expect(a.acquire(f, { mode: 'read', timeout: 150 })).rejects.toThrow(LockTimeoutError);
    expect(await wh.release()).toBe(true);
  });

  test('FIFO: a writer queued behind a reader is served before later readers; tokens grow with every grant', async () => {
    const f = path();
    const [r1, w, r2] = [manager('r1'), manager('w'), manager('r2')];
    const h1 = await r1.acquire(f, { mode: 'read' });
    const wp = pending(w.acquire(f, { mode: 'write' }));
    await until('the writer queued', async () => (await r1.inspectAsync(f)).waiters.length === 1);
    const r2p = pending(r2.acquire(f, { mode: 'read' }));
    await until('the reader queued', async () => (await r1.inspectAsync(f)).waiters.length === 2);
    await new Promise((r) => setTimeout(r, 100));
    expect(r2p.settled()).toBe(false); // compatible with the holder, but the writer is ahead
    await h1.release();
    await until('the writer', () => wp.settled());
    expect(r2p.settled()).toBe(false);
    const hw = wp.value()!;
    await hw.release();
    await until('the second reader', () => r2p.settled());
    const h2 = r2p.value()!;
    expect([h1.token, hw.token, h2.token]).toEqual([1, 2, 3]);
    await h2.release();
    // and on: every grant a higher token, whoever gets it
    const tokens: number[] = [];
    for (let i = 0; i < 6; i++) {
      const h = await [r1, w, r2][i % 3]!.acquire(f, { mode: i % 2 ? 'read' : 'write' });
      tokens.push(h.token);
      await h.release();
    }
    expect(tokens).toEqual([4, 5, 6, 7, 8, 9]);
    expect((await r1.inspectAsync(f)).stats).toMatchObject({ acquisitions: 9, contended: 2 });
  });

  test('owner-checked release: a waiter that gives up, or a second release, never removes the holder', async () => {
    const f = path();
    const [a, b] = [manager('a'), manager('b')];
    const h = await a.acquire(f);
    const err = await b.acquire(f, { timeout: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as Error).message).toMatch(
      /timed out after .* waiting for a write lock on \/coord-redis-lock-test\/.*: held by a \(pid \d+, write, token 1, since /,
    );
    expect((await a.inspectAsync(f)).holders.map((x) => x.ticket)).toEqual([h.ticket]);
    const h2p = pending(b.acquire(f));
    await h.release();
    await until('b', () => h2p.settled());
    const h2 = h2p.value()!;
    expect(await h.release()).toBe(false); // released already: b's grant stays
    expect((await a.inspectAsync(f)).holders.map((x) => x.ticket)).toEqual([h2.ticket]);
    expect(await h2.release()).toBe(true);
  });

  test('a holder on another host is judged by its lease only, then reclaimed with a higher token', async () => {
    const f = path();
    const events: LockEvent[] = [];
    const m = manager('here', { onEvent: (e) => events.push(e) });
    const b = new RedisBackend(server.url, { onConnection: () => {} });
    backends.push(b);
    const store = new RedisLockStore(b);
    // a holder on another host whose pid does not exist here: only its lease may end it
    const now = Date.now();
    await store.update(f, () => ({
      ...emptyLockState(f),
      token: 7,
      holders: [
        {
          ticket: 'far',
          owner: 'far-away',
          run: null,
          pid: 999_999_999,
          host: `${HOST}-elsewhere`,
          procStart: null,
          mode: 'write',
          since: now,
          expires: now + 600,
          token: 7,
          grantedAt: now,
        },
      ],
    }));
    const started = Date.now();
    const h = await m.acquire(f, { timeout: 5000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(h.token).toBe(8);
    expect(events.find((e) => e.type === 'lock-reclaimed')).toMatchObject({ from: 'far-away', why: 'lease-expired' });
    await h.release();
  });

  test('a deadlock between two managers: the newest request fails naming the cycle, the other gets its lock', async () => {
    const [x, y] = [path(), path()];
    const [a, b] = [manager('a'), manager('b')];
    const hx = await a.acquire(x);
    const hy = await b.acquire(y);
    const ay = pending(a.acquire(y, { holding: [hx.ticket] }));
    await until('a queued', async () => (await a.inspectAsync(y)).waiters.length === 1);
    await new Promise((r) => setTimeout(r, 5)); // b's request is the newer one
    const err = await b.acquire(x, { holding: [hy.ticket] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeadlockError);
    expect((err as Error).message).toMatch(
      /^deadlock: .*b \(pid \d+\) waits for \/coord-redis-lock-test\/\w+ held by a \(pid \d+\).*a \(pid \d+\) waits for \/coord-redis-lock-test\/\w+ held by b/,
    );
    expect(ay.settled()).toBe(false);
    await hy.release();
    await until('a gets y', () => ay.settled());
    const got = ay.value() as LockHandle;
    expect(got.path).toBe(y);
    await got.release();
    await hx.release();
  });

  test("a holder paused past its lease loses the grant (handle.lost), the waiter gets a higher token, the stale holder's fenced write and release are refused", async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const data = join(rig.dir, 'data');
    const h = spawn(process.execPath, [join(FIXTURES, 'lock-holder.js'), f, data, '600'], {
      cwd: rig.dir,
      env: rig.env({ COORD_BACKEND: server.url }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    h.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until('the grant', () => /granted 1/.test(out));
      process.kill(h.pid!, 'SIGSTOP');
      const next = await manager('next').acquire(f, { timeout: 5000 });
      expect(next.token).toBe(2);
      process.kill(h.pid!, 'SIGCONT');
      h.stdin.write('go\n');
      await new Promise<void>((resolve) => h.on('close', () => resolve()));
      expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ lost: true, wrote: false, released: false });
      expect(existsSync(data)).toBe(false);
      expect(next.lost.aborted).toBe(false);
      const s = await manager('look').inspectAsync(f);
      expect(s.holders.map((x) => [x.owner, x.token])).toEqual([['next', 2]]);
      expect(await next.release()).toBe(true);
    } finally {
      h.kill('SIGKILL');
    }
  });
});

needs.describe('locks on Redis, processes', () => {
  const STRESS = join(FIXTURES, 'lock-stress.js');
  /** A fresh rig, the files of lock-stress.js (the locked file, the counter, the log) and its environment. */
  const stressRig = () => {
    const at = (rig = new Rig());
    return { at, f: join(at.dir, 'f'), counter: join(at.dir, 'counter'), log: join(at.dir, 'log'), env: { env: { COORD_BACKEND: server.url } } };
  };

  test('4 processes × 200 read-increment-write cycles end at exactly 800, no overlap, tokens distinct and growing', async () => {
    const { at, f, counter, log, env } = stressRig();
    const runs = Array.from({ length: 4 }, () => at.spawnNode(STRESS, [f, counter, log, '200', 'write'], env).done);
    for (const r of await Promise.all(runs)) expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(counter, 'utf8')).toBe('800');
    const check = checkLog(readFileSync(log, 'utf8'));
    expect(check.violations).toEqual([]);
    expect(check.writes).toBe(800);
    expect(new Set(check.tokens).size).toBe(800);
    expect(check.tokens).toEqual([...check.tokens].sort((a, b) => a - b));
  }, 40_000);

  test('a SIGKILLed holder (same host): its lock goes to one waiter at a time, at once, not after the lease', async () => {
    const { at, f, counter, log, env } = stressRig();
    const look = manager('look');
    const holder = at.spawnNode(STRESS, [f, counter, log, '1', 'write', '3600000', '30000'], env);
    await at.waitForFile(log);
    const contenders = [1, 2].map(() => at.spawnNode(STRESS, [f, counter, log, '3', 'write', '50', '30000'], env));
    await until('two waiters', async () => (await look.inspectAsync(f)).waiters.length === 2);
    const killed = Date.now();
    holder.child.kill('SIGKILL');
    for (const c of contenders) expect(await c.done).toMatchObject({ code: 0, stderr: '' });
    expect(Date.now() - killed).toBeLessThan(10_000); // the lease is 30 s: reclaimed by pid
    const check = checkLog(readFileSync(log, 'utf8').replace(/^E .*\n/, 'E dead 0 write 1\nX dead 0 write\n'));
    expect(check.violations).toEqual([]);
    expect(check.writes).toBe(7);
    expect(readFileSync(counter, 'utf8')).toBe('7');
    expect(new Set(check.tokens).size).toBe(7);
  }, 30_000);

  test('the server restarts while a lock is held and waited for: never two holders, the waiter gets it', async () => {
    const { at, f, counter, log, env } = stressRig();
    const look = manager('look');
    // the holder (4 s lease) stays inside until the waiter has queued and the server has been away
    const go = join(at.dir, 'go');
    const holder = at.spawnNode(STRESS, [f, counter, log, '1', 'write', '0', '4000'], { env: { ...env.env, HOLD_UNTIL: go } });
    await at.waitForFile(log);
    const waiter = at.spawnNode(STRESS, [f, counter, log, '1', 'write', '0', '4000'], env);
    await until('the waiter queued', async () => (await look.inspectAsync(f)).waiters.length === 1);
    await server.restart();
    writeFileSync(go, '');
    const [h, w] = await Promise.all([holder.done, waiter.done]);
    expect(w.code).toBe(0);
    // both saw the server go away (and come back) while the lock was held and waited for
    expect(h.stderr).toMatch(/lost the connection to redis:\/\/127\.0\.0\.1:\d+.*\n(.*\n)*coord: reconnected/);
    expect(w.stderr).toMatch(/lost the connection/);
    // the holder kept its grant (0), or learnt at its release that it had lost it (3)
    expect([0, 3]).toContain(h.code);
    const check = checkLog(readFileSync(log, 'utf8'));
    expect(check.violations).toEqual([]);
    expect(check.writes).toBe(2);
    expect(readFileSync(counter, 'utf8')).toBe('2');
    expect(check.tokens).toEqual([1, 2]);
    expect((await look.inspectAsync(f)).holders).toEqual([]);
  }, 30_000);
});

needs.describe('coord lock / locks / write on Redis', () => {
  const lineOf = async (s: Spawned, re: RegExp): Promise<void> => {
    let out = '';
    s.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    await until(`${re}`, () => re.test(out), 15_000);
  };

  test('coord lock --backend URL x -- true exits 0 promptly', async () => {
    rig = new Rig();
    const started = Date.now();
    const r = await rig.coord(['lock', '--backend', server.url, join(rig.dir, 'x'), '--', 'true']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await manager('look').inspectAsync(join(rig.dir, 'x'))).token).toBe(1);
  });

  test('coord locks --json --backend URL shows the holder and token of a held lock; write --fence with a stale token is refused', async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const go = join(rig.dir, 'go');
    expect((await rig.coord(['lock', '--backend', server.url, f, '--', 'true'])).code).toBe(0); // token 1
    const holder = rig.spawn(
      [
        'lock',
        '--backend',
        server.url,
        f,
        '--',
        'sh',
        '-c',
        `echo held $COORD_LOCK_TOKEN; exec ${process.execPath} ${join(FIXTURES, 'wait-for-file.js')} ${go}`,
      ],
      { env: { COORD_LOCK_OWNER: 'the-holder' } },
    );
    await lineOf(holder, /held 2/);
    const r = await rig.coord(['locks', '--json', '--backend', server.url]);
    expect(r.code).toBe(0);
    const view = JSON.parse(r.stdout) as { locks: Array<{ path: string; mode: string; holders: Array<{ owner: string; token: number; host: string }> }> };
    const mine = view.locks.find((l) => l.path === f);
    expect(mine).toMatchObject({ mode: 'write', holders: [{ owner: 'the-holder', token: 2, host: HOST }] });
    // the file registry of this machine knows nothing of it
    const local = JSON.parse((await rig.coord(['locks', '--json'])).stdout) as { locks: unknown[] };
    expect(local.locks).toEqual([]);
    // a fenced write with the stale token 1 is refused; with the current token it lands
    const stale = await rig.coord(['write', '--backend', server.url, '--fence', '1', f], { input: 'stale\n' });
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/fencing token 1 is stale, token 2 has been granted since/);
    expect(existsSync(f)).toBe(false);
    const fresh = await rig.coord(['write', '--backend', server.url, '--fence', '2', f], { input: 'fresh\n' });
    expect(fresh.code).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('fresh\n');
    // an unfenced write waits for the holder's lock
    const w = rig.coord(['write', '--backend', server.url, '--timeout', '300ms', f], { input: 'late\n' });
    expect((await w).code).toBe(75);
    rig.write('go', '');
    expect((await holder.done).code).toBe(0);
    expect((await rig.coord(['append', '--backend', server.url, f], { input: 'more' })).code).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('fresh\nmore\n');
    expect((await manager('look').inspectAsync(f)).token).toBe(3);
  }, 30_000);
});
