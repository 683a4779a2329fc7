/** FileLockManager in one process: handles, timeouts, contention figures, events. */
import { afterEach, describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { FileLockManager, LockTimeoutError, type LockEvent } from '../../src/locks/manager.js';
import { Rig } from '../rig.js';
import { exitCodeOf } from '../../src/cli/errors.js';

let rig: Rig;
afterEach(async () => rig?.cleanup());

describe('FileLockManager', () => {
  test('handles release on dispose; a second writer times out naming the holder; figures count waits', async () => {
    rig = new Rig();
    const events: LockEvent[] = [];
    const m = new FileLockManager({ registry: join(rig.dir, 'reg'), owner: 'me', onEvent: (e) => events.push(e) });
    const f = join(rig.dir, 'f');
    {
      await using a = await m.acquire(f);
      expect(a.token).toBe(1);
      const err = await m.acquire(f, { timeout: 50 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LockTimeoutError);
      expect(exitCodeOf(err)).toBe(75);
      expect((err as Error).message).toMatch(/held by me \(pid \d+, write, token 1/);
      expect(m.inspect(f).waiters).toEqual([]);
    }
    expect(m.inspect(f).holders).toEqual([]);
    // a read lock waits for a writer and is handed the lock on release
    const w = await m.acquire(f);
    const r = m.acquire(f, { mode: 'read' });
    await new Promise((res) => setTimeout(res, 30));
    expect(await w.release()).toBe(true);
    expect(await w.release()).toBe(false);
    const rh = await r;
    expect(rh.token).toBe(3);
    expect(await m.withLock(f, () => 'inside', { mode: 'read' })).toBe('inside');
    await rh.release();
    const [c] = m.contentions();
    expect(c).toMatchObject({ path: f, acquisitions: 4, contended: 1 });
    expect(c!.waitMsMax).toBeGreaterThanOrEqual(20);
    expect(events.map((e) => e.type)).toEqual([
      'lock-granted',
      'lock-waiting',
      'lock-timeout',
      'lock-released',
      'lock-granted',
      'lock-waiting',
      'lock-released',
      'lock-granted',
      'lock-granted',
      'lock-released',
      'lock-released',
    ]);
  });

  test('a grant removed by hand is reported through handle.lost, never thrown', async () => {
    rig = new Rig();
    const m = new FileLockManager({ registry: join(rig.dir, 'reg'), leaseMs: 90 });
    const h = await m.acquire(join(rig.dir, 'f'));
    const { rmSync } = await import('node:fs');
    rmSync(join(rig.dir, 'reg'), { recursive: true, force: true });
    const reason = await new Promise<unknown>((res) => h.lost.addEventListener('abort', () => res(h.lost.reason), { once: true }));
    expect(String((reason as Error).message)).toMatch(/lock lost on .*\/f: the lock was removed/);
    expect(await h.release()).toBe(false);
  });
});
