/** FileLockManager (src/locks/manager.ts): a renewal keeps only this grant (its ticket and token), durations in events. */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLockManager, LockLostError, type LockEvent, type LockHandle } from '../../src/locks/manager.js';
import { FileLockStore } from '../../src/locks/store.js';
import type { LockState } from '../../src/locks/state.js';

let dir: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'coord-mgr-renew-')));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const lost = (h: LockHandle) =>
  new Promise<unknown>((resolve) => {
    if (h.lost.aborted) resolve(h.lost.reason);
    else h.lost.addEventListener('abort', () => resolve(h.lost.reason), { once: true });
  });

/** A file store that reports each compare-and-set that changed a state, so a test waits for renewals instead of sleeping. */
class ObservedStore extends FileLockStore {
  private waiting: { n: number; resolve: () => void }[] = [];
  commits = 0;
  override updateSync(canonical: string, fn: (s: Readonly<LockState>) => LockState | undefined) {
    const r = super.updateSync(canonical, fn);
    if (r.changed) {
      this.commits++;
      this.waiting = this.waiting.filter((w) => (this.commits >= w.n ? (w.resolve(), false) : true));
    }
    return r;
  }
  /** Resolves once `more` further changes were committed. */
  after(more: number): Promise<void> {
    return new Promise((resolve) => this.waiting.push({ n: this.commits + more, resolve }));
  }
}

describe('FileLockManager renewal', () => {
  test('renewals keep a read grant held beside another read grant', async () => {
    const store = new ObservedStore(join(dir, 'reg'));
    const m = new FileLockManager({ store, owner: 'me', leaseMs: 60 });
    const f = join(dir, 'f');
    const a = await m.acquire(f, { mode: 'read' });
    const b = await m.acquire(f, { mode: 'read' });
    // both timers (every 20 ms) renew a few times
    await store.after(6);
    expect(a.lost.aborted).toBe(false);
    expect(b.lost.aborted).toBe(false);
    expect((await store.read(f)).holders.map((h) => h.ticket).sort()).toEqual([a.ticket, b.ticket].sort());
    expect(await a.release()).toBe(true);
    expect(await b.release()).toBe(true);
  });

  test('a holder entry with this ticket but another token is not this grant: the renewal reports it lost', async () => {
    const store = new ObservedStore(join(dir, 'reg'));
    const m = new FileLockManager({ store, owner: 'me', leaseMs: 60 });
    const f = join(dir, 'f');
    const h = await m.acquire(f);
    // a state set back and granted again: the same ticket, a newer token, and the lock's token above this grant's
    store.updateSync(f, (s) => ({ ...s, token: s.token + 1, holders: s.holders.map((x) => ({ ...x, token: x.token + 1 })) }));
    const reason = await lost(h);
    expect(reason).toBeInstanceOf(LockLostError);
    expect((reason as Error).message).toMatch(/token 2 was granted since/);
    await h.release();
  });

  test('a holder entry with this token but another ticket is not this grant: the renewal reports it lost', async () => {
    const store = new ObservedStore(join(dir, 'reg'));
    const m = new FileLockManager({ store, owner: 'me', leaseMs: 60 });
    const f = join(dir, 'f');
    const h = await m.acquire(f);
    store.updateSync(f, (s) => ({ ...s, holders: s.holders.map((x) => ({ ...x, ticket: 'someone-else' })) }));
    const reason = await lost(h);
    expect(reason).toBeInstanceOf(LockLostError);
    expect((reason as Error).message).toMatch(/the lock was removed/);
    // release removes nothing of the other ticket's
    expect(await h.release()).toBe(false);
    expect((await store.read(f)).holders.map((x) => x.ticket)).toEqual(['someone-else']);
  });
});

describe('FileLockManager event durations', () => {
  test('the wait of a contended grant and the time a lock was held are within the time that passed', async () => {
    const events: LockEvent[] = [];
    const store = new ObservedStore(join(dir, 'reg'));
    const m = new FileLockManager({ store, owner: 'me', leaseMs: 10_000, onEvent: (e) => events.push(e) });
    const f = join(dir, 'f');
    const t0 = Date.now();
    const first = await m.acquire(f);
    const queued = store.after(1);
    const second = m.acquire(f);
    await queued; // the second request is in the queue
    await first.release();
    const h = await second;
    await h.release();
    const elapsed = Date.now() - t0;
    const granted = events.filter((e) => e.type === 'lock-granted') as Extract<LockEvent, { type: 'lock-granted' }>[];
    expect(granted.map((e) => e.contended)).toEqual([false, true]);
    expect(granted[1]!.waitMs).toBeGreaterThanOrEqual(0);
    expect(granted[1]!.waitMs).toBeLessThanOrEqual(elapsed);
    const released = events.filter((e) => e.type === 'lock-released') as Extract<LockEvent, { type: 'lock-released' }>[];
    expect(released).toHaveLength(2);
    for (const e of released) {
      expect(e.heldMs).toBeGreaterThanOrEqual(0);
      expect(e.heldMs).toBeLessThanOrEqual(elapsed);
    }
  });
});
