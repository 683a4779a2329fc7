/**
 * FileLockManager's compare-and-set steps (src/locks/manager.ts) on a clock the test moves:
 * what a request records, a step tried again on a changed state, reclaiming only when blocked,
 * the hand-off of a request that gives up, and writes made only when something changed.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { getEventListeners } from 'node:events';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLockManager, LockTimeoutError, type LockEvent } from '../../src/locks/manager.js';
import { HOST } from '../../src/locks/registry.js';
import { emptyLockState, type Holder, type LockState, type Waiter } from '../../src/locks/state.js';
import { FileLockStore } from '../../src/locks/store.js';
import { processStartTime } from '../../src/util/proc.js';
import { FakeClock } from './fake-clock.js';
import { exitCodeOf } from '../../src/cli/errors.js';

let dir: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'coord-mgr-steps-')));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const DEAD_PID = 4_194_399;

/** A file store with no change notifications (the test moves the clock) that counts the commits that changed a state, and can make the next update try a given state first (a compare-and-set that lost). */
class StepStore extends FileLockStore {
  commits = 0;
  firstTry: LockState | null = null;
  override watch(): () => void {
    return () => undefined;
  }
  override updateSync(canonical: string, fn: (s: Readonly<LockState>) => LockState | undefined) {
    if (this.firstTry) {
      const s = this.firstTry;
      this.firstTry = null;
      fn(s); // its result lost the race: thrown away
    }
    const r = super.updateSync(canonical, fn);
    if (r.changed) this.commits++;
    return r;
  }
}

function rig(opts: { leaseMs?: number; pollMs?: number } = {}) {
  const clock = new FakeClock();
  const store = new StepStore(join(dir, 'reg'));
  const events: LockEvent[] = [];
  const mk = (owner: string, more: { leaseMs?: number; pollMs?: number } = {}) =>
    new FileLockManager({ store, clock, owner, onEvent: (e) => events.push(e), ...opts, ...more });
  return { clock, store, events, mk, m: mk('me'), other: mk('other', { leaseMs: 60_000 }), f: join(dir, 'f') };
}

const party = (p: Partial<Holder>): Holder => ({
  ticket: 'x',
  owner: 'x',
  run: null,
  pid: process.pid,
  host: HOST,
  procStart: null,
  mode: 'write',
  since: 1,
  expires: 0,
  token: 1,
  grantedAt: 1,
  ...p,
});

describe('LockTimeoutError', () => {
  test('with no holder to name: queued behind other waiters; exit 75', () => {
    const e = new LockTimeoutError('/p', 1500, [], 'read');
    expect(e.message).toBe('timed out after 1.5s waiting for a read lock on /p: queued behind other waiters');
    expect(e.code).toBe('timeout');
    expect(exitCodeOf(e)).toBe(75);
    expect(e.name).toBe('LockTimeoutError');
    expect([e.path, e.waitedMs, e.holders]).toEqual(['/p', 1500, []]);
  });
});

describe('a request', () => {
  test('records a random 16-hex ticket, this process, its start time, when, its lease, and its watchdog when it has one', async () => {
    const { clock, m, other, f } = rig({ leaseMs: 5000 });
    const t0 = clock.now();
    // the watchdog of `coord lock`: a live process (a dead one would let the grant be reclaimed)
    const watchdog = { pid: process.ppid, procStart: processStartTime(process.ppid) };
    const a = await m.acquire(f, { watchdog });
    const h = m.inspect(f).holders[0]!;
    expect(h.ticket).toMatch(/^[0-9a-f]{16}$/);
    expect(h).toMatchObject({
      owner: 'me',
      pid: process.pid,
      host: HOST,
      procStart: processStartTime(process.pid),
      since: t0,
      grantedAt: t0,
      expires: t0 + 5000,
      watchdog,
    });
    const p = other.acquire(f, { mode: 'read' });
    const sleep = await clock.nextSleep();
    const w = m.inspect(f).waiters[0]!;
    expect(w).not.toHaveProperty('watchdog');
    expect(w).toMatchObject({ owner: 'other', since: t0, expires: t0 + 60_000, chain: [] });
    expect(w.ticket).not.toBe(h.ticket);
    await a.release();
    clock.fire(sleep);
    await (await p).release();
  });

  test('sleeps at most 100 ms by default', async () => {
    const { clock, m, other, f } = rig();
    const h = await other.acquire(f);
    const p = m.acquire(f, { timeout: 455 }).catch((e: unknown) => e);
    const sleeps: number[] = [];
    for (let i = 0; i < 8; i++) {
      const s = await clock.nextSleep();
      sleeps.push(s.ms);
      clock.fire(s);
    }
    expect(sleeps).toEqual([5, 10, 20, 40, 80, 100, 100, 100]);
    expect(await p).toBeInstanceOf(LockTimeoutError);
    await h.release();
  });

  test('leaves no abort listener behind on its signal, waiting or granted', async () => {
    const { clock, m, other, f } = rig();
    const h = await other.acquire(f);
    const ctl = new AbortController();
    const p = m.acquire(f, { signal: ctl.signal });
    for (let i = 0; i < 4; i++) {
      const s = await clock.nextSleep();
      expect(getEventListeners(ctl.signal, 'abort').length).toBe(1);
      clock.fire(s);
    }
    const s = await clock.nextSleep();
    await h.release();
    clock.fire(s);
    await (await p).release();
    expect(getEventListeners(ctl.signal, 'abort').length).toBe(0);
  });
});

describe('a step', () => {
  test('tried again on a changed state grants only what the last try granted', async () => {
    const { store, m, other, f } = rig();
    const h = await other.acquire(f);
    store.firstTry = emptyLockState(f); // the first try saw the lock free
    expect(await m.acquire(f, { timeout: 0 }).catch((e: unknown) => e)).toBeInstanceOf(LockTimeoutError);
    await h.release();
  });

  test('tried again on a changed state reports only the reclaims of the last try', async () => {
    const { store, events, m, f } = rig();
    // the first try saw a dead holder and reclaimed it; the last one finds the lock free
    store.firstTry = { ...emptyLockState(f), token: 1, holders: [party({ ticket: 'dead', owner: 'ghost', pid: DEAD_PID, expires: Number.MAX_SAFE_INTEGER })] };
    const h = await m.acquire(f, { timeout: 0 });
    expect(events.filter((e) => e.type === 'lock-reclaimed')).toEqual([]);
    await h.release();
  });

  test('that can grant at once reclaims nothing, even beside a holder that is gone', async () => {
    const { clock, store, events, m, f } = rig();
    await store.update(f, (s) => ({ ...s, token: 1, holders: [party({ ticket: 'old', owner: 'sleeper', mode: 'read', expires: clock.now() - 1 })] }));
    const h = await m.acquire(f, { mode: 'read' });
    expect(events.filter((e) => e.type === 'lock-reclaimed')).toEqual([]);
    expect(m.inspect(f).holders.map((x) => x.owner)).toEqual(['sleeper', 'me']);
    await h.release();
  });

  test('that finds its own queue entry expired (it was paused) queues again with no reclaim of itself', async () => {
    const { clock, events, m, other, f } = rig({ leaseMs: 300 });
    const h = await other.acquire(f);
    const p = m.acquire(f);
    const s = await clock.nextSleep();
    clock.t += 10_000;
    clock.fire(s);
    const next = await clock.nextSleep();
    expect(events.filter((e) => e.type === 'lock-reclaimed')).toEqual([]);
    expect(m.inspect(f).waiters.map((w) => [w.owner, w.expires])).toEqual([['me', clock.now() + 300]]);
    await h.release();
    clock.fire(next);
    await (await p).release();
  });

  test('that removes a party that is gone but must still wait stores the state without it', async () => {
    const { clock, store, events, m, other, f } = rig();
    const h = await other.acquire(f);
    const p = m.acquire(f);
    const first = await clock.nextSleep();
    const dead: Waiter = { ...party({ ticket: 'dead', owner: 'ghost', pid: DEAD_PID, expires: clock.now() + 60_000 }), chain: [] };
    await store.update(f, (s) => ({ ...s, waiters: [...s.waiters, dead] }));
    clock.fire(first);
    const next = await clock.nextSleep();
    expect(m.inspect(f).waiters.map((w) => w.owner)).toEqual(['me']);
    expect(events.filter((e) => e.type === 'lock-reclaimed').map((e) => (e as { from: string }).from)).toEqual(['ghost']);
    await h.release();
    clock.fire(next);
    await (await p).release();
  });

  test('writes nothing when it only notices a grant handed to it, or waits with a lease still long', async () => {
    const { clock, store, m, other, f } = rig({ leaseMs: 60_000 });
    const h = await other.acquire(f);
    const p = m.acquire(f);
    let s = await clock.nextSleep();
    const queued = store.commits;
    clock.fire(s);
    s = await clock.nextSleep();
    expect(store.commits).toBe(queued);
    await h.release(); // hands the lock to the waiter: one commit
    expect(store.commits).toBe(queued + 1);
    clock.fire(s);
    const got = await p;
    expect(store.commits).toBe(queued + 1);
    await got.release();
  });
});

describe('giving up', () => {
  test('hands the lock on to the requests it kept waiting', async () => {
    const { clock, mk, m, other, f } = rig({ leaseMs: 40_000 });
    const r1 = await other.acquire(f, { mode: 'read' });
    const w = m.acquire(f, { timeout: 5 }).catch((e: unknown) => e);
    const mine = await clock.nextSleep();
    const third = mk('third');
    const r2 = third.acquire(f, { mode: 'read' });
    const theirs = await clock.nextSleep();
    expect(m.inspect(f).waiters.map((x) => x.owner)).toEqual(['me', 'third']);
    clock.fire(mine);
    expect(await w).toBeInstanceOf(LockTimeoutError);
    // granted by the give-up itself, before the third request looks again
    const s = m.inspect(f);
    expect(s.holders.map((x) => [x.owner, x.expires])).toEqual([
      ['other', expect.any(Number)],
      ['third', clock.now() + 40_000],
    ]);
    expect(s.waiters).toEqual([]);
    clock.fire(theirs);
    await (await r2).release();
    await r1.release();
  });
});
