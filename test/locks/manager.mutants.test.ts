/** FileLockManager in one process: events, messages, deadlocks, aborts, reclaiming, renewal (src/locks/manager.ts). */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadlockError, describeParty, FileLockManager, LockLostError, LockTimeoutError, type LockEvent } from '../../src/locks/manager.js';
import { HOST } from '../../src/locks/registry.js';
import { emptyLockState, type Holder, type LockState } from '../../src/locks/state.js';
import type { LockStore } from '../../src/locks/store.js';
import { exitCodeOf } from '../../src/cli/errors.js';

let dir: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'coord-mgr-')));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const manager = (events: LockEvent[] = [], opts: ConstructorParameters<typeof FileLockManager>[0] = {}) =>
  new FileLockManager({ registry: join(dir, 'reg'), owner: 'me', onEvent: (e) => events.push(e), ...opts });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A pid no process has (beyond pid_max on Linux). */
const DEAD_PID = 4_194_399;

describe('describeParty', () => {
  const base = { ticket: 't', owner: 'w1', run: null, pid: 42, host: HOST, procStart: null, mode: 'write' as const, since: 0, expires: 1 };
  test('names the owner, pid, mode, token and since when; the host only when it is another', () => {
    const h: Holder = { ...base, token: 7, grantedAt: Date.UTC(2026, 0, 1) };
    expect(describeParty(h)).toBe('w1 (pid 42, write, token 7, since 2026-01-01T00:00:00.000Z)');
    expect(describeParty({ ...h, host: 'elsewhere' })).toBe('w1 (pid 42 on elsewhere, write, token 7, since 2026-01-01T00:00:00.000Z)');
    expect(describeParty({ ...base, mode: 'read', since: Date.UTC(2026, 0, 2) })).toBe('w1 (pid 42, read, since 2026-01-02T00:00:00.000Z)');
  });
});

describe('FileLockManager', () => {
  test('defaults: owner pid:<pid>, no run, a 10 s lease', () => {
    const m = new FileLockManager({ registry: join(dir, 'reg') });
    expect(m.owner).toBe(`pid:${process.pid}`);
    expect(m.run).toBeNull();
    expect(m.leaseMs).toBe(10_000);
    expect(m.registry).toBe(join(dir, 'reg'));
  });

  test('events say who, which lock, what mode and token; a grant without waiting is not contended', async () => {
    const events: LockEvent[] = [];
    const m = manager(events, { run: 'r1' });
    const f = join(dir, 'f');
    const h = await m.acquire(f, { mode: 'read' });
    expect(h).toMatchObject({ path: f, mode: 'read', token: 1 });
    expect(h.lost.aborted).toBe(false);
    expect(m.inspect(f).holders).toEqual([expect.objectContaining({ owner: 'me', run: 'r1', pid: process.pid, mode: 'read', token: 1 })]);
    await sleep(15);
    expect(await h.release()).toBe(true);
    expect(events[0]).toEqual({ type: 'lock-granted', path: f, owner: 'me', pid: process.pid, mode: 'read', token: 1, waitMs: 0, contended: false });
    expect(events[1]).toMatchObject({ type: 'lock-released', path: f, owner: 'me', pid: process.pid, mode: 'read', token: 1 });
    expect((events[1] as { heldMs: number }).heldMs).toBeGreaterThanOrEqual(10);
    expect(await m.inspectAsync(f)).toMatchObject({ holders: [], waiters: [], token: 1 });
    expect((await m.contentionsAsync()).map((c) => c.path)).toEqual([f]);
    expect((await m.locksAsync()).map((l) => l.path)).toEqual([f]);
  });

  test('a waiter is told who holds the lock, and its grant is contended with the time it waited', async () => {
    const events: LockEvent[] = [];
    const m = manager(events);
    const f = join(dir, 'f');
    const a = await m.acquire(f);
    const b = m.acquire(f, { mode: 'read' });
    await sleep(40);
    const waiting = events.find((e) => e.type === 'lock-waiting');
    expect(waiting).toEqual({ type: 'lock-waiting', path: f, owner: 'me', pid: process.pid, mode: 'read', holders: [describeParty(m.inspect(f).holders[0]!)] });
    expect(events.filter((e) => e.type === 'lock-waiting')).toHaveLength(1);
    await a.release();
    const hb = await b;
    const granted = events.filter((e) => e.type === 'lock-granted')[1] as Extract<LockEvent, { type: 'lock-granted' }>;
    expect(granted.contended).toBe(true);
    expect(granted.waitMs).toBeGreaterThanOrEqual(30);
    expect(hb.token).toBe(2);
    await hb.release();
  });

  test('a timeout names the holders and the wait; timeout 0 gives up at once', async () => {
    const events: LockEvent[] = [];
    const m = manager(events);
    const f = join(dir, 'f');
    const a = await m.acquire(f);
    const t0 = Date.now();
    const e = (await m.acquire(f, { timeout: 0 }).catch((x: unknown) => x)) as LockTimeoutError;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(e).toBeInstanceOf(LockTimeoutError);
    expect(e.path).toBe(f);
    expect(e.holders.map((h) => h.ticket)).toEqual([a.ticket]);
    expect(e.message).toMatch(new RegExp(`^timed out after .* waiting for a write lock on ${f}: held by me \\(pid ${process.pid}, write, token 1, since `));
    const timeout = events.find((x) => x.type === 'lock-timeout');
    expect(timeout).toMatchObject({ type: 'lock-timeout', path: f, owner: 'me', mode: 'write', holders: [describeParty(e.holders[0]!)] });
    expect(m.inspect(f).waiters).toEqual([]);
    // an infinite timeout is no timeout
    const b = m.acquire(f, { timeout: Infinity });
    await sleep(30);
    await a.release();
    await (await b).release();
  });

  test('an abort gives up the request, with the signal reason or a plain error', async () => {
    const m = manager();
    const f = join(dir, 'f');
    const a = await m.acquire(f);
    const ctl = new AbortController();
    const p = m.acquire(f, { signal: ctl.signal });
    await sleep(20);
    expect(m.inspect(f).waiters).toHaveLength(1);
    ctl.abort(new Error('stop now'));
    await expect(p).rejects.toThrow('stop now');
    expect(m.inspect(f).waiters).toEqual([]);
    const ctl2 = new AbortController();
    const p2 = m.acquire(f, { signal: ctl2.signal });
    await sleep(10);
    ctl2.abort('just a string');
    await expect(p2).rejects.toThrow('lock request aborted');
    await a.release();
  });

  test('a deadlock between two nested requests: the newest gives up with the cycle, the other gets its lock', async () => {
    const events: LockEvent[] = [];
    const m = manager(events);
    const x = join(dir, 'x');
    const y = join(dir, 'y');
    const hx = await m.acquire(x);
    const hy = await m.acquire(y);
    const first = m.acquire(y, { holding: [hx.ticket] });
    await sleep(30);
    const second = m.acquire(x, { holding: [hy.ticket] });
    const e = (await second.catch((err: unknown) => err)) as DeadlockError;
    expect(e).toBeInstanceOf(DeadlockError);
    expect(exitCodeOf(e)).toBe(75);
    expect(e.path).toBe(x);
    expect(e.message).toMatch(/^deadlock: .* waits for .*; this request \(the newest\) gives up$/);
    expect(events.find((ev) => ev.type === 'lock-deadlock')).toMatchObject({ type: 'lock-deadlock', path: x, mode: 'write', cycle: e.cycle });
    await hy.release();
    const got = await first;
    expect(got.path).toBe(y);
    await got.release();
    await hx.release();
  });

  test('a nested request with no cycle just waits', async () => {
    const m = manager();
    const x = join(dir, 'x');
    const y = join(dir, 'y');
    const hx = await m.acquire(x);
    const other = await m.acquire(y);
    const p = m.acquire(y, { holding: [hx.ticket], timeout: 30_000 });
    await sleep(300);
    await other.release();
    await (await p).release();
    await hx.release();
  });

  test('the grant of a process that is gone is reclaimed, with an event naming it', async () => {
    const events: LockEvent[] = [];
    const m = manager(events);
    const f = join(dir, 'f');
    await m.store.update(f, (s) => {
      const dead: Holder = {
        ticket: 'dead',
        owner: 'ghost',
        run: null,
        pid: DEAD_PID,
        host: HOST,
        procStart: null,
        mode: 'write',
        since: Date.now(),
        expires: Date.now() + 60_000,
        token: s.token + 1,
        grantedAt: Date.now(),
      };
      return { ...s, token: s.token + 1, holders: [dead] };
    });
    const h = await m.acquire(f, { timeout: 2000 });
    expect(h.token).toBe(2);
    expect(events.find((e) => e.type === 'lock-reclaimed')).toEqual({
      type: 'lock-reclaimed',
      path: f,
      owner: 'me',
      pid: process.pid,
      from: 'ghost',
      fromPid: DEAD_PID,
      why: 'process-gone',
    });
    await h.release();
  });

  test('a grant whose lease ran out is reclaimed as lease-expired', async () => {
    const events: LockEvent[] = [];
    const m = manager(events);
    const f = join(dir, 'f');
    await m.store.update(f, (s) => {
      const stale: Holder = {
        ticket: 'old',
        owner: 'sleeper',
        run: null,
        pid: process.ppid,
        host: HOST,
        procStart: null,
        mode: 'write',
        since: 1,
        expires: Date.now() - 1000,
        token: 1,
        grantedAt: 1,
      };
      return { ...s, token: 1, holders: [stale] };
    });
    const h = await m.acquire(f, { timeout: 2000 });
    expect(events.find((e) => e.type === 'lock-reclaimed')).toMatchObject({ from: 'sleeper', why: 'lease-expired' });
    await h.release();
  });

  test('a held grant is renewed every third of its lease, and a waiter keeps its place', async () => {
    const m = manager([], { leaseMs: 150, pollMs: 10 });
    const f = join(dir, 'f');
    const h = await m.acquire(f);
    const w = m.acquire(f, { mode: 'read' });
    await sleep(300);
    expect(h.lost.aborted).toBe(false);
    const s = m.inspect(f);
    expect(s.holders[0]!.expires).toBeGreaterThan(Date.now());
    expect(s.waiters).toHaveLength(1);
    expect(s.waiters[0]!.expires).toBeGreaterThan(Date.now());
    expect(await h.release()).toBe(true);
    await (await w).release();
  });

  test('a grant taken over by another (the state set back and granted again) is lost, naming the newer token', async () => {
    const m = manager([], { leaseMs: 60 });
    const f = join(dir, 'f');
    const h = await m.acquire(f);
    await m.store.update(f, (s) => ({ ...s, holders: [] }));
    const other = await m.acquire(f);
    const reason = await new Promise<unknown>((res) => h.lost.addEventListener('abort', () => res(h.lost.reason), { once: true }));
    expect(reason).toBeInstanceOf(LockLostError);
    expect(exitCodeOf(reason)).toBe(75);
    expect((reason as Error).message).toMatch(/^lock lost on .*: token 2 was granted since \(its lease of .* ran out, or the lock was removed\)$/);
    await other.release();
  });

  test('a release finding its grant gone reports it lost, once', async () => {
    const events: LockEvent[] = [];
    const m = manager(events, { leaseMs: 60_000 });
    const f = join(dir, 'f');
    const h = await m.acquire(f);
    await m.store.update(f, (s) => ({ ...s, holders: [] }));
    expect(await h.release()).toBe(false);
    expect(h.lost.aborted).toBe(true);
    expect((h.lost.reason as Error).message).toMatch(/the lock was removed/);
    expect(events.filter((e) => e.type === 'lock-lost')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'lock-released')).toHaveLength(0);
    expect(await h.release()).toBe(false);
  });

  test('withLock releases however fn ends', async () => {
    const m = manager();
    const f = join(dir, 'f');
    await expect(m.withLock(f, () => Promise.reject(new Error('inside failed')))).rejects.toThrow('inside failed');
    expect(m.inspect(f).holders).toEqual([]);
    expect(await m.withLock(f, (h) => h.token)).toBe(2);
  });

  test('a store that is not this machine registry refuses the synchronous reads, naming the async ones', async () => {
    const state: LockState = emptyLockState('/x');
    const store: LockStore = {
      where: 'redis://server',
      read: async () => state,
      update: async () => ({ state, changed: false }),
      list: async () => [state],
      watch: () => () => undefined,
    };
    const m = new FileLockManager({ store });
    expect(m.registry).toBe('redis://server');
    expect(() => m.inspect('/x')).toThrow('inspect() reads the lock registry of this machine; use inspectAsync() with the locks on redis://server');
    expect(() => m.locks()).toThrow('use locksAsync()');
    expect(() => m.contentions()).toThrow('use locksAsync()');
    expect(await m.locksAsync()).toEqual([state]);
  });

  test('a store without change notifications still hands the lock over, on the timer', async () => {
    const inner = manager().store;
    const deaf: LockStore = {
      where: inner.where,
      read: (c) => inner.read(c),
      update: (c, fn) => inner.update(c, fn),
      list: () => inner.list(),
      watch: () => {
        throw new Error('no inotify here');
      },
    };
    const m = new FileLockManager({ store: deaf, owner: 'me', pollMs: 20 });
    const f = join(dir, 'f');
    const a = await m.acquire(f);
    const b = m.acquire(f);
    await sleep(50);
    await a.release();
    const hb = await b;
    expect(hb.token).toBe(2);
    await hb.release();
  });
});
