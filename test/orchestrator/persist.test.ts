/** The run's one record writer: writes in order, coalesces lanes on a (fake) clock, keeps the first failure. */
import { describe, expect, it } from '@jest/globals';
import { RecordWriter } from '../../src/orchestrator/persist.js';
import { FakeTimers } from '../supervise/fake-timers.js';

describe('RecordWriter', () => {
  it('runs writes one after another in the order they were made', async () => {
    const w = new RecordWriter();
    const log: string[] = [];
    let release: () => void = () => undefined;
    const slow = new Promise<void>((r) => (release = r));
    w.write(async () => {
      log.push('a start');
      await slow;
      log.push('a end');
    });
    w.write(async () => void log.push('b'));
    await Promise.resolve();
    expect(log).toEqual(['a start']);
    release();
    await w.settled();
    expect(log).toEqual(['a start', 'a end', 'b']);
  });

  it('coalesces a lane: keys marked within one window are written once, as they are at the flush', async () => {
    const timers = new FakeTimers();
    const w = new RecordWriter({ timers });
    const state = new Map([
      ['x', 'pending'],
      ['y', 'pending'],
    ]);
    const batches: string[][] = [];
    const lane = w.lane<string, string[]>(
      50,
      (keys) => keys.map((k) => `${k}=${state.get(k)}`),
      async (recs) => void batches.push(recs),
    );
    lane.mark('x');
    state.set('x', 'running');
    lane.mark('y');
    lane.mark('x');
    state.set('x', 'succeeded');
    expect(lane.pending).toBe(2);
    timers.advance(49);
    await w.settled();
    expect(batches).toEqual([]);
    timers.advance(1);
    await w.settled();
    expect(batches).toEqual([['x=succeeded', 'y=pending']]);
    expect(lane.pending).toBe(0);
    // nothing dirty: no timer, no write
    expect(timers.pending).toBe(0);
    lane.mark('y');
    timers.advance(50);
    await w.settled();
    expect(batches).toEqual([['x=succeeded', 'y=pending'], ['y=pending']]);
  });

  it('keeps each lane to its own delay, and flushAll writes every lane now', async () => {
    const timers = new FakeTimers();
    const w = new RecordWriter({ timers });
    const written: string[] = [];
    const fast = w.lane<string, string[]>(
      50,
      (k) => k,
      async (k) => void written.push(`fast:${k.join()}`),
    );
    const slow = w.lane<string, string[]>(
      250,
      (k) => k,
      async (k) => void written.push(`slow:${k.join()}`),
    );
    fast.mark('a');
    slow.mark('pools');
    timers.advance(50);
    await w.settled();
    expect(written).toEqual(['fast:a']);
    fast.mark('b');
    w.flushAll();
    await w.settled();
    expect(written).toEqual(['fast:a', 'fast:b', 'slow:pools']);
    expect(timers.pending).toBe(0);
    timers.advance(1000);
    await w.settled();
    expect(written).toHaveLength(3);
  });

  it('keeps the first failure, tells every one, and goes on writing', async () => {
    const told: unknown[] = [];
    const w = new RecordWriter({ onError: (e) => told.push(e) });
    const done: string[] = [];
    w.write(() => Promise.reject(new Error('ENOSPC one')));
    w.write(async () => void done.push('after'));
    w.write(() => Promise.reject(new Error('ENOSPC two')));
    await w.settled();
    expect(done).toEqual(['after']);
    expect(w.hasFailed).toBe(true);
    expect((w.error as Error).message).toBe('ENOSPC one');
    expect(told.map((e) => (e as Error).message)).toEqual(['ENOSPC one', 'ENOSPC two']);
    w.forgetError();
    expect(w.hasFailed).toBe(false);
    w.write(async () => undefined);
    await w.settled();
    expect(w.hasFailed).toBe(false);
  });
});
