/**
 * FileLockManager on a clock the test moves (src/locks/manager.ts, src/locks/grant.ts): the
 * back-off of a waiter, its deadline, its deadlock checks and queue renewals, the renewal loop
 * of a grant and the durations in events, each at the exact times they are due.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLockManager, LockLostError, LockTimeoutError, type LockEvent, type LockHandle } from '../../src/locks/manager.js';
import { realClock, Waker } from '../../src/locks/grant.js';
import { HOST } from '../../src/locks/registry.js';
import type { Holder, LockState } from '../../src/locks/state.js';
import { FileLockStore } from '../../src/locks/store.js';
import { FakeClock } from './fake-clock.js';

let dir: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'coord-mgr-clock-')));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A pid no process has (beyond pid_max on Linux). */
const DEAD_PID = 4_194_399;

/** A file store whose change notifications the test sends, which counts lists and can hold updates back. */
class TestStore extends FileLockStore {
  watchers: Array<{ onChange: () => void; stopped: boolean }> = [];
  lists = 0;
  updates = 0;
  gate: Promise<void> | null = null;
  failUpdates: Error | null = null;
  failReads: Error | null = null;
  override watch(_canonical: string, onChange: () => void): () => void {
    const w = { onChange, stopped: false };
    this.watchers.push(w);
    return () => {
      w.stopped = true;
    };
  }
  override async list(): Promise<LockState[]> {
    this.lists++;
    return super.list();
  }
  override async update(canonical: string, fn: (s: Readonly<LockState>) => LockState | undefined) {
    this.updates++;
    if (this.gate) await this.gate;
    if (this.failUpdates) throw this.failUpdates;
    return super.update(canonical, fn);
  }
  override async read(canonical: string): Promise<LockState> {
    if (this.failReads) throw this.failReads;
    return super.read(canonical);
  }
}

function rig(opts: { leaseMs?: number; pollMs?: number } = {}) {
  const clock = new FakeClock();
  const store = new TestStore(join(dir, 'reg'));
  const events: LockEvent[] = [];
  const m = new FileLockManager({ store, clock, owner: 'me', onEvent: (e) => events.push(e), ...opts });
  const other = new FileLockManager({ store, clock, owner: 'other', leaseMs: 60_000 });
  return { clock, store, events, m, other, f: join(dir, 'f') };
}

/** Fires the waiter's sleeps one after the other until `done` settles; returns their lengths. */
async function sleepsUntil(clock: FakeClock, done: Promise<unknown>, max = 50): Promise<number[]> {
  const sleeps: number[] = [];
  let settled = false;
  void done.then(
    () => (settled = true),
    () => (settled = true),
  );
  const end = done.then(
    () => null,
    () => null,
  );
  for (let i = 0; i < max; i++) {
    const s = await Promise.race([clock.nextSleep(), end]);
    if (!s || settled) break;
    sleeps.push(s.ms);
    clock.fire(s);
  }
  clock.forget();
  return sleeps;
}

const held = (s: LockState, owner: string) => s.holders.find((h) => h.owner === owner);

describe('a waiter on the clock', () => {
  test('sleeps 5 ms, doubling up to pollMs, and times out exactly at its deadline', async () => {
    const { clock, events, m, other, f } = rig({ pollMs: 100 });
    const h = await other.acquire(f);
    const t0 = clock.now();
    const p = m.acquire(f, { timeout: 300 }).catch((e: unknown) => e);
    expect(await sleepsUntil(clock, p)).toEqual([5, 10, 20, 40, 80, 100, 45]);
    const e = (await p) as LockTimeoutError;
    expect(e).toBeInstanceOf(LockTimeoutError);
    expect(e.waitedMs).toBe(300);
    expect(e.message).toMatch(/^timed out after 300ms waiting for a write lock on /);
    expect(clock.now()).toBe(t0 + 300);
    expect(events.filter((x) => x.type === 'lock-timeout')).toEqual([expect.objectContaining({ waitMs: 300 })]);
    expect(m.inspect(f).waiters).toEqual([]);
    await h.release();
  });

  test('pollMs caps the sleeps; a timeout of 0, or below, gives up before any sleep', async () => {
    const { clock, m, other, f } = rig({ pollMs: 30 });
    const h = await other.acquire(f);
    const p = m.acquire(f, { timeout: 100 }).catch((e: unknown) => e);
    expect(await sleepsUntil(clock, p)).toEqual([5, 10, 20, 30, 30, 5]);
    for (const timeout of [0, -50]) {
      const q = m.acquire(f, { timeout }).catch((e: unknown) => e);
      expect(await sleepsUntil(clock, q)).toEqual([]);
      expect(((await q) as LockTimeoutError).waitedMs).toBe(0);
    }
    await h.release();
  });

  test('without a timeout (or an infinite one) it sleeps on and is granted when the holder lets go', async () => {
    const { clock, events, m, other, f } = rig({ pollMs: 40 });
    const h = await other.acquire(f);
    const t0 = clock.now();
    const p = m.acquire(f, { timeout: Infinity });
    const sleeps: number[] = [];
    for (let i = 0; i < 6; i++) {
      const s = await clock.nextSleep();
      sleeps.push(s.ms);
      clock.fire(s);
    }
    expect(sleeps).toEqual([5, 10, 20, 40, 40, 40]);
    const last = await clock.nextSleep();
    clock.t = t0 + 1000;
    await h.release(); // hands the lock over at t0 + 1000
    clock.fire(last);
    const got = await p;
    expect(events.find((e) => e.type === 'lock-granted')).toEqual({
      type: 'lock-granted',
      path: f,
      owner: 'me',
      pid: process.pid,
      mode: 'write',
      token: 2,
      waitMs: 1000,
      contended: true,
    });
    await got.release();
  });

  test('a change notification wakes it at once; the sleeps go on doubling', async () => {
    const { clock, store, m, other, f } = rig({ pollMs: 1000 });
    const h = await other.acquire(f);
    const p = m.acquire(f);
    const first = await clock.nextSleep();
    expect(first.ms).toBe(5);
    const w = store.watchers.at(-1)!;
    w.onChange(); // the store says the lock changed: no need to wait for the timer
    const second = await clock.nextSleep();
    expect(first.cancelled).toBe(true);
    expect(second.ms).toBe(10);
    await h.release();
    w.onChange();
    const got = await p;
    expect(second.cancelled).toBe(true);
    expect(w.stopped).toBe(true);
    await got.release();
  });

  test('an abort while it sleeps wakes it and gives the request up', async () => {
    const { clock, m, other, f } = rig();
    const h = await other.acquire(f);
    const ctl = new AbortController();
    const p = m.acquire(f, { signal: ctl.signal, timeout: 10_000 });
    const s = await clock.nextSleep();
    ctl.abort(new Error('enough'));
    await expect(p).rejects.toThrow('enough');
    expect(s.cancelled).toBe(true);
    expect(m.inspect(f).waiters).toEqual([]);
    await h.release();
  });

  test('an abort and a deadline reached together: the abort is what it reports', async () => {
    const { clock, m, other, f } = rig();
    const h = await other.acquire(f);
    const ctl = new AbortController();
    const p = m.acquire(f, { signal: ctl.signal, timeout: 5 });
    const s = await clock.nextSleep();
    ctl.abort(new Error('aborted first'));
    clock.t = s.at;
    await expect(p).rejects.toThrow('aborted first');
    await h.release();
  });

  test('a nested request checks for deadlocks at once and then every 250 ms, and sleeps at most 250 ms', async () => {
    const { clock, store, m, other, f } = rig({ pollMs: 1000 });
    const h = await other.acquire(f);
    const p = m.acquire(f, { holding: ['no-such-ticket'], timeout: 1000 }).catch((e: unknown) => e);
    const seen: Array<[number, number]> = [];
    for (let i = 0; i < 9; i++) {
      const s = await clock.nextSleep();
      seen.push([s.ms, store.lists]);
      clock.fire(s);
    }
    // at 0: a check; the sleeps end at 5, 15, 35, 75, 155, 315 (a check), 565 (a check), 815 (a check)
    expect(seen).toEqual([
      [5, 1],
      [10, 1],
      [20, 1],
      [40, 1],
      [80, 1],
      [160, 1],
      [250, 2],
      [250, 3],
      [185, 4],
    ]);
    expect(await p).toBeInstanceOf(LockTimeoutError);
    await h.release();
  });

  test('a request that holds nothing never lists the locks', async () => {
    const { clock, store, m, other, f } = rig({ pollMs: 1000 });
    const h = await other.acquire(f);
    const p = m.acquire(f, { timeout: 600 }).catch((e: unknown) => e);
    expect(await sleepsUntil(clock, p)).toEqual([5, 10, 20, 40, 80, 160, 285]);
    expect(store.lists).toBe(0);
    await h.release();
  });

  test('its queue entry is renewed once less than two thirds of its lease are left, to a full lease', async () => {
    const { clock, m, other, f } = rig({ leaseMs: 300, pollMs: 1000 });
    const h = await other.acquire(f);
    const t0 = clock.now();
    const p = m.acquire(f);
    const mine = () => m.inspect(f).waiters.find((w) => w.owner === 'me')!;
    let s = await clock.nextSleep();
    expect(mine().expires).toBe(t0 + 300);
    clock.t = t0 + 100; // two thirds left exactly: not yet
    clock.fire(s);
    s = await clock.nextSleep();
    expect(mine().expires).toBe(t0 + 300);
    clock.fire(s); // at t0 + 110
    s = await clock.nextSleep();
    expect(mine().expires).toBe(t0 + 410);
    await h.release();
    clock.fire(s);
    await (await p).release();
  });
});

describe('reclaiming on the clock', () => {
  const putHolder = async (store: FileLockStore, f: string, h: Partial<Holder>) =>
    store.update(f, (s) => {
      const holder: Holder = {
        ticket: 'gone',
        owner: 'ghost',
        run: null,
        pid: process.pid,
        host: HOST,
        procStart: null,
        mode: 'write',
        since: 1,
        expires: 0,
        token: s.token + 1,
        grantedAt: 1,
        ...h,
      };
      return { ...s, token: s.token + 1, holders: [holder] };
    });

  test('a dead holder whose lease ends just now is reclaimed as process-gone; one whose lease ended before, as lease-expired', async () => {
    const { clock, store, events, m, f } = rig();
    await putHolder(store, f, { pid: DEAD_PID, expires: clock.now() });
    await (await m.acquire(f)).release();
    await putHolder(store, f, { owner: 'sleeper', expires: clock.now() - 1 });
    await (await m.acquire(f)).release();
    expect(events.filter((e) => e.type === 'lock-reclaimed').map((e) => [(e as { from: string }).from, (e as { why: string }).why])).toEqual([
      ['ghost', 'process-gone'],
      ['sleeper', 'lease-expired'],
    ]);
  });

  test('a live holder whose lease ends just now is not reclaimed', async () => {
    const { clock, store, m, f } = rig();
    await putHolder(store, f, { expires: clock.now() });
    const p = m.acquire(f, { timeout: 0 }).catch((e: unknown) => e);
    expect(await p).toBeInstanceOf(LockTimeoutError);
  });
});

describe('a grant on the clock', () => {
  test('is renewed every third of its lease (at least every 10 ms) to a full lease from then', async () => {
    for (const [leaseMs, every] of [
      [300, 100],
      [100, 33],
      [20, 10],
    ] as const) {
      const { clock, m, f } = rig({ leaseMs });
      const h = await m.acquire(f);
      const timer = await clock.nextInterval();
      expect(timer.ms).toBe(every);
      expect(held(m.inspect(f), 'me')!.expires).toBe(clock.now() + leaseMs);
      const due = timer.at;
      clock.fire(timer);
      await until(() => held(m.inspect(f), 'me')!.expires === due + leaseMs);
      expect(await h.release()).toBe(true);
      expect(timer.cancelled).toBe(true);
    }
  });

  test('one renewal at a time: a tick while one waits for the store starts none', async () => {
    const { clock, store, m, f } = rig({ leaseMs: 300 });
    const h = await m.acquire(f);
    const timer = await clock.nextInterval();
    let open!: () => void;
    store.gate = new Promise<void>((r) => (open = r));
    const before = store.updates;
    clock.fire(timer);
    clock.fire(timer);
    expect(store.updates).toBe(before + 1);
    store.gate = null;
    open();
    await until(() => held(m.inspect(f), 'me')!.expires === clock.now() + 300);
    // that renewal done, the next tick renews again
    clock.fire(timer);
    expect(store.updates).toBe(before + 2);
    await until(() => held(m.inspect(f), 'me')!.expires === clock.now() + 300);
    expect(h.lost.aborted).toBe(false);
    expect(await h.release()).toBe(true);
  });

  test('a renewal the store refuses loses the grant, naming why, once; the renewals stop', async () => {
    const { clock, store, events, m, f } = rig({ leaseMs: 300 });
    const h = await m.acquire(f);
    const timer = await clock.nextInterval();
    store.failUpdates = new Error('server away');
    clock.fire(timer);
    const reason = await lostReason(h);
    expect(reason).toBeInstanceOf(LockLostError);
    expect((reason as Error).message).toBe(`lock lost on ${f}: the lease could not be renewed: server away`);
    expect(timer.cancelled).toBe(true);
    expect(events.filter((e) => e.type === 'lock-lost')).toEqual([
      { type: 'lock-lost', path: f, owner: 'me', pid: process.pid, mode: 'write', token: 1, reason: 'the lease could not be renewed: server away' },
    ]);
    store.failUpdates = null;
    expect(await h.release()).toBe(true); // its entry was still there: the release removes it
    expect(events.filter((e) => e.type === 'lock-lost')).toHaveLength(1);
  });

  test('a renewal finding the grant gone names the newer token and the lease', async () => {
    const { clock, store, m, f } = rig({ leaseMs: 90_000 });
    const h = await m.acquire(f);
    const timer = await clock.nextInterval();
    await store.update(f, (s) => ({ ...s, holders: [], token: 5 }));
    clock.fire(timer);
    expect(((await lostReason(h)) as Error).message).toBe(`lock lost on ${f}: token 5 was granted since (its lease of 1m30s ran out, or the lock was removed)`);
    expect(await h.release()).toBe(false);
  });

  test('a release finding its grant gone on a store it cannot read says so', async () => {
    const { store, events, m, f } = rig();
    const h = await m.acquire(f);
    await store.update(f, (s) => ({ ...s, holders: [] }));
    store.failReads = new Error('no route to host');
    expect(await h.release()).toBe(false);
    expect(((await lostReason(h)) as Error).message).toBe(`lock lost on ${f}: the lock could not be read: no route to host`);
    expect(events.filter((e) => e.type === 'lock-lost')).toHaveLength(1);
  });

  test('a release after the grant was lost reports nothing more', async () => {
    const { clock, store, events, m, f } = rig({ leaseMs: 300 });
    const h = await m.acquire(f);
    const timer = await clock.nextInterval();
    await store.update(f, (s) => ({ ...s, holders: [] }));
    clock.fire(timer);
    await lostReason(h);
    expect(await h.release()).toBe(false);
    expect(events.filter((e) => e.type === 'lock-lost')).toHaveLength(1);
    expect(await h.release()).toBe(false);
  });

  test('the time held and waited, to the millisecond', async () => {
    const { clock, events, m, other, f } = rig({ pollMs: 1000 });
    const t0 = clock.now();
    const first = await m.acquire(f);
    const p = other.acquire(f);
    const s = await clock.nextSleep();
    clock.t = t0 + 250;
    expect(await first.release()).toBe(true);
    clock.fire(s);
    const second = await p;
    clock.t = t0 + 400;
    await second.release();
    expect(events.find((e) => e.type === 'lock-released')).toMatchObject({ heldMs: 250, token: 1 });
    expect(events.filter((e) => e.type === 'lock-granted').map((e) => (e as { waitMs: number }).waitMs)).toEqual([0]);
  });
});

describe('Waker', () => {
  test('a wake before the sleep makes the next sleep return at once, and only that one', async () => {
    const clock = new FakeClock();
    const w = new Waker(() => () => undefined, clock);
    w.wake();
    await w.next(50);
    expect(clock.made).toHaveLength(0);
    const p = w.next(50);
    const t = await clock.nextSleep();
    expect(t.ms).toBe(50);
    clock.fire(t);
    await p;
    // a wake after the timer fired is kept for the next sleep
    w.wake();
    await w.next(20);
    expect(clock.made).toHaveLength(1);
  });

  test('a wake during the sleep ends it and cancels its timer; the one after sleeps again', async () => {
    const clock = new FakeClock();
    let notify: () => void = () => {};
    let stops = 0;
    const w = new Waker((onChange) => {
      notify = onChange;
      return () => stops++;
    }, clock);
    const p = w.next(-5);
    const t = await clock.nextSleep();
    expect(t.ms).toBe(0);
    notify();
    await p;
    expect(t.cancelled).toBe(true);
    const q = w.next(30);
    const t2 = await clock.nextSleep();
    expect(t2.ms).toBe(30);
    clock.fire(t2);
    await q;
    w.close();
    w.close();
    expect(stops).toBe(1);
  });

  test('a store that cannot watch leaves the timer alone', async () => {
    const clock = new FakeClock();
    const w = new Waker(() => {
      throw new Error('no inotify');
    }, clock);
    const p = w.next(10);
    clock.fire(await clock.nextSleep());
    await p;
    w.close();
  });
});

describe('realClock', () => {
  test('reads the time, runs a timer once (or not, cancelled), and a repeating one that keeps no process alive', async () => {
    const before = Date.now();
    expect(realClock.now()).toBeGreaterThanOrEqual(before);
    expect(realClock.now()).toBeLessThanOrEqual(Date.now());
    await new Promise<void>((resolve) => realClock.after(1, resolve));
    let cancelledRan = false;
    realClock.after(0, () => (cancelledRan = true))();
    const orig = globalThis.setInterval;
    let made: ReturnType<typeof setInterval> | undefined;
    globalThis.setInterval = ((fn: () => void, ms: number) => (made = orig(fn, ms))) as typeof setInterval;
    let stop: () => void;
    try {
      let ticks = 0;
      await new Promise<void>((resolve) => {
        stop = realClock.every(1, () => {
          if (++ticks === 2) resolve();
        });
      });
    } finally {
      globalThis.setInterval = orig;
    }
    expect(made!.hasRef()).toBe(false);
    stop!();
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
    expect(cancelledRan).toBe(false);
  });
});

function lostReason(h: LockHandle): Promise<unknown> {
  return new Promise((resolve) => {
    if (h.lost.aborted) resolve(h.lost.reason);
    else h.lost.addEventListener('abort', () => resolve(h.lost.reason), { once: true });
  });
}

/** Waits, a turn of the event loop at a time, until `cond` holds (the work it waits for is promises on files, not time). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise<void>((r) => setImmediate(r));
}
