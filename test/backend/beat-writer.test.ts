/**
 * BeatWriter: the first beat is written at once, a burst of beats costs one write per gap
 * (its last beat included), writes never overlap, and the end comes after every write.
 */
import { describe, expect, it } from '@jest/globals';
import { BeatWriter } from '../../src/backend/beat-writer.js';
import type { StreamBeat } from '../../src/backend/types.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A sink whose writes take `delayMs`, recording what it got and whether two overlapped. */
function recordingSink(delayMs: number) {
  const log: Array<{ op: 'put'; beat: StreamBeat } | { op: 'end'; attempt: number }> = [];
  let inFlight = 0;
  let overlapped = false;
  const slow = async <T>(f: () => T): Promise<T> => {
    inFlight++;
    if (inFlight > 1) overlapped = true;
    await sleep(delayMs);
    inFlight--;
    return f();
  };
  return {
    log,
    overlapped: () => overlapped,
    sink: {
      put: (beat: StreamBeat) => slow(() => log.push({ op: 'put', beat })),
      end: (attempt: number) => slow(() => log.push({ op: 'end', attempt })),
    },
  };
}

const first: StreamBeat = { attempt: 2, startedAt: '2026-01-01T00:00:00.000Z', time: null, progress: null, message: null, host: 'h', worker: null };

describe('BeatWriter', () => {
  it('writes the start at once, then at most one beat per gap, the last of a burst included', async () => {
    const r = recordingSink(5);
    const w = new BeatWriter(r.sink, first, 200);
    for (let i = 1; i <= 20; i++) {
      w.update(new Date(Date.UTC(2026, 0, 1, 0, 0, i)), { progress: i * 5, message: `m${i}` });
      await sleep(10);
    }
    // 20 beats in ~200 ms: the start, then the newest beat once the gap is over
    await sleep(350);
    const puts = r.log.filter((e) => e.op === 'put');
    expect(puts.length).toBeGreaterThanOrEqual(2);
    expect(puts.length).toBeLessThanOrEqual(3);
    expect(puts[0]).toMatchObject({ beat: { time: null, attempt: 2 } });
    expect(puts.at(-1)).toMatchObject({ beat: { time: '2026-01-01T00:00:20.000Z', progress: 100, message: 'm20' } });
    await w.finish();
    expect(r.log.at(-1)).toEqual({ op: 'end', attempt: 2 });
    expect(r.overlapped()).toBe(false);
  });

  it('a slow server costs one pending write, not one per beat; the end waits for it', async () => {
    const r = recordingSink(150);
    const w = new BeatWriter(r.sink, first, 0);
    for (let i = 1; i <= 50; i++) w.update(new Date(Date.UTC(2026, 0, 1, 0, 0, i)));
    const ended = w.finish();
    w.update(new Date()); // after the end: ignored
    await ended;
    expect(r.log.map((e) => e.op)).toEqual(['put', 'end']);
    expect(r.overlapped()).toBe(false);
  });

  it('keeps going after a failed write', async () => {
    let calls = 0;
    const got: StreamBeat[] = [];
    const w = new BeatWriter(
      {
        put: async (b) => {
          if (calls++ === 0) throw new Error('server away');
          got.push(b);
        },
        end: async () => undefined,
      },
      first,
      0,
    );
    await sleep(5);
    w.update(new Date(Date.UTC(2026, 0, 1)));
    await sleep(5);
    await w.finish();
    expect(got.map((b) => b.time)).toEqual(['2026-01-01T00:00:00.000Z']);
  });
});
