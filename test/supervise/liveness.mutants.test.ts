/** LivenessMonitor details: poll period, silence, last beats, watching and unwatching, heartbeat files (src/supervise/liveness.ts). */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chokidarWatcher, heartbeatSays, LivenessMonitor, signature, type LivenessOptions, type WatcherFactory } from '../../src/supervise/liveness.js';

let dir: string;
let clock: number;
let monitors: LivenessMonitor[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'coord-live-m-'));
  clock = 0;
  monitors = [];
});
afterEach(() => {
  for (const m of monitors) m.stop();
  rmSync(dir, { recursive: true, force: true });
});

function monitor(extra: Partial<LivenessOptions> = {}) {
  const stalls: Array<[string, number]> = [];
  const revived: string[] = [];
  const beats: Array<[string, boolean, Date]> = [];
  const m = new LivenessMonitor({
    timeoutMs: 1000,
    source: 'any',
    now: () => clock,
    watcher: null,
    onStall: (id, ms) => stalls.push([id, ms]),
    onRevive: (id) => revived.push(id),
    onBeat: (id, at, file) => beats.push([id, file, at]),
    ...extra,
  });
  monitors.push(m);
  return { m, stalls, revived, beats };
}
const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

describe('LivenessMonitor', () => {
  it('polls every quarter of the timeout, at least every 20 ms and at most once a second', () => {
    expect(monitor({ timeoutMs: 400 }).m.pollMs).toBe(100);
    expect(monitor({ timeoutMs: 50 }).m.pollMs).toBe(20);
    expect(monitor({ timeoutMs: 60_000 }).m.pollMs).toBe(1000);
    expect(monitor({ timeoutMs: 403 }).m.pollMs).toBe(100);
  });

  it('polls every `pollMs` when it is given, whatever the timeout', () => {
    expect(monitor({ timeoutMs: 60_000, pollMs: 250 }).m.pollMs).toBe(250);
    expect(monitor({ timeoutMs: 40, pollMs: 250 }).m.pollMs).toBe(250);
  });

  it('a stall reports how long the stream was silent, from its last beat, exactly at the timeout', () => {
    const { m, stalls } = monitor();
    clock = 100;
    m.watch('s', join(dir, 'none'));
    clock = 1099;
    m.check();
    expect(stalls).toEqual([]);
    clock = 1100.4;
    m.check();
    expect(stalls).toEqual([['s', 1000]]);
    m.check();
    expect(stalls).toHaveLength(1);
  });

  it('output counts as a beat under any and output, never under file; a beat revives a stalled stream once', () => {
    for (const source of ['any', 'output'] as const) {
      const { m, stalls, revived, beats } = monitor({ source });
      m.watch('s', join(dir, `hb-${source}`));
      clock = 2000;
      m.check();
      expect(stalls.map(([id]) => id)).toEqual(['s']);
      m.output('s');
      m.output('s');
      expect(revived).toEqual(['s']);
      expect(beats.map(([id, file]) => [id, file])).toEqual([
        ['s', false],
        ['s', false],
      ]);
      clock = 2500;
      m.check();
      expect(stalls).toHaveLength(1);
      clock = 0;
    }
    const { m, beats } = monitor({ source: 'file' });
    m.watch('s', join(dir, 'hb-file'));
    m.output('s');
    expect(beats).toEqual([]);
  });

  it('under source output a changed heartbeat file is no beat', () => {
    const hb = join(dir, 'hb');
    const { m, beats, stalls } = monitor({ source: 'output' });
    m.watch('s', hb);
    writeFileSync(hb, 'beat');
    clock = 1500;
    m.check();
    expect(beats).toEqual([]);
    expect(stalls.map(([id]) => id)).toEqual(['s']);
  });

  it('knows the wall-clock time of the last beat, none before the first, and nothing of a stream it does not watch', () => {
    const { m } = monitor();
    m.watch('s', join(dir, 'hb'));
    expect(m.lastBeat('s')).toBeNull();
    const before = Date.now();
    m.output('s');
    const at = m.lastBeat('s');
    expect(at).toBeInstanceOf(Date);
    expect(at!.getTime()).toBeGreaterThanOrEqual(before);
    expect(m.lastBeat('other')).toBeNull();
    m.output('other');
  });

  it('an unwatched stream is neither checked nor stalled; the others still are', () => {
    const { m, stalls } = monitor();
    m.watch('a', join(dir, 'a'));
    m.watch('b', join(dir, 'b'));
    m.unwatch('a');
    m.unwatch('nobody');
    clock = 5000;
    m.check();
    expect(stalls.map(([id]) => id)).toEqual(['b']);
  });

  it('polls on its own timer while it watches a stream, and stops polling when none is left', async () => {
    const { m, stalls } = monitor({ timeoutMs: 80 });
    m.watch('s', join(dir, 'hb'));
    clock = 1000;
    await tick(60);
    expect(stalls.map(([id]) => id)).toEqual(['s']);
    m.unwatch('s');
    m.watch('t', join(dir, 't'));
    clock = 2000;
    await tick(60);
    expect(stalls.map(([id]) => id)).toEqual(['s', 't']);
    m.unwatch('t');
    m.watch('u', join(dir, 'u'));
    m.stop();
    clock = 5000;
    await tick(60);
    expect(stalls.map(([id]) => id)).toEqual(['s', 't']);
  });

  it('hands a file to the watcher only after the hint delay, never under source output, and unwatches it with its stream', async () => {
    const added: string[] = [];
    const removed: string[] = [];
    let closed = 0;
    let created = 0;
    const factory: WatcherFactory = async () => {
      created++;
      return { add: (f) => added.push(f), unwatch: (f) => removed.push(f), close: () => closed++ };
    };
    const { m } = monitor({ watcher: factory, hintDelayMs: 40 });
    m.watch('s', join(dir, 's'));
    m.watch('quick', join(dir, 'quick'));
    m.unwatch('quick');
    await tick(10);
    expect(added).toEqual([]);
    await tick(60);
    expect(added).toEqual([join(dir, 's')]);
    m.watch('t', join(dir, 't'));
    await tick(70);
    expect(added).toEqual([join(dir, 's'), join(dir, 't')]);
    expect(created).toBe(1);
    m.unwatch('s');
    await tick(5);
    expect(removed).toEqual([join(dir, 's')]);
    m.stop();
    await tick(5);
    expect(closed).toBe(1);

    const out: string[] = [];
    const o = monitor({
      source: 'output',
      hintDelayMs: 0,
      watcher: async () => ({ add: (f) => out.push(f), unwatch: () => undefined, close: () => undefined }),
    });
    o.m.watch('s', join(dir, 'o'));
    await tick(20);
    expect(out).toEqual([]);
  });

  it('a watcher error is told once, closes the watcher, and no file is handed to it afterwards', async () => {
    let fail: (e: unknown) => void = () => undefined;
    const added: string[] = [];
    let closed = 0;
    const errors: unknown[] = [];
    const factory: WatcherFactory = async (_c, onError) => {
      fail = onError;
      return { add: (f) => added.push(f), unwatch: () => undefined, close: () => closed++ };
    };
    const { m } = monitor({ watcher: factory, hintDelayMs: 0, onWatchError: (e) => errors.push(e) });
    m.watch('a', join(dir, 'a'));
    await tick();
    fail(new Error('EMFILE'));
    fail(new Error('again'));
    await tick(5);
    expect(errors).toHaveLength(1);
    expect(closed).toBe(1);
    m.watch('b', join(dir, 'b'));
    await tick();
    expect(added).toEqual([join(dir, 'a')]);
  });

  it('a watcher event for a file no stream watches is ignored', async () => {
    let fire: (f: string) => void = () => undefined;
    const { m, beats } = monitor({
      hintDelayMs: 0,
      watcher: async (c) => ((fire = c), { add: () => undefined, unwatch: () => undefined, close: () => undefined }),
    });
    m.watch('s', join(dir, 's'));
    await tick();
    writeFileSync(join(dir, 'other'), 'x');
    fire(join(dir, 'other'));
    m.unwatch('s');
    writeFileSync(join(dir, 's'), 'x');
    fire(join(dir, 's'));
    expect(beats).toEqual([]);
  });
});

describe('heartbeat files', () => {
  it('a signature changes with the content and is "absent" without a file', () => {
    const f = join(dir, 'hb');
    expect(signature(f)).toBe('absent');
    writeFileSync(f, 'a');
    const one = signature(f);
    expect(one).toMatch(/^\d+:1:\d+$/);
    writeFileSync(f, 'ab');
    expect(signature(f)).not.toBe(one);
  });

  it('reads progress and message of a coord heartbeat, and nothing of other files', () => {
    expect(heartbeatSays('{"progress":0.5,"message":"half"}')).toEqual({ progress: 0.5, message: 'half' });
    expect(heartbeatSays('{"progress":"lots","message":3}')).toEqual({ progress: null, message: null });
    expect(heartbeatSays('{}')).toEqual({ progress: null, message: null });
    expect(heartbeatSays('null')).toBeUndefined();
    expect(heartbeatSays('42')).toBeUndefined();
    expect(heartbeatSays('')).toBeUndefined();
    expect(heartbeatSays('not json')).toBeUndefined();
  });
});

describe('timers and callbacks', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('one poll timer for all streams, none once the last is unwatched or the monitor stops; no hint timer without a watcher', () => {
    jest.useFakeTimers();
    const { m } = monitor({ watcher: null });
    m.watch('a', join(dir, 'a'));
    m.watch('b', join(dir, 'b'));
    expect(jest.getTimerCount()).toBe(1);
    m.unwatch('a');
    expect(jest.getTimerCount()).toBe(1);
    m.unwatch('b');
    expect(jest.getTimerCount()).toBe(0);
    m.watch('c', join(dir, 'c'));
    m.stop();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('stopping clears the hint timers of streams not handed to the watcher yet', () => {
    jest.useFakeTimers();
    let created = 0;
    const { m } = monitor({ hintDelayMs: 1000, watcher: async () => (created++, { add: () => undefined, unwatch: () => undefined, close: () => undefined }) });
    m.watch('a', join(dir, 'a'));
    expect(jest.getTimerCount()).toBe(2);
    m.stop();
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(5000);
    expect(created).toBe(0);
  });

  it('a stream unwatched before its hint is not unwatched from the watcher', async () => {
    const removed: string[] = [];
    const { m } = monitor({ hintDelayMs: 30, watcher: async () => ({ add: () => undefined, unwatch: (f) => removed.push(f), close: () => undefined }) });
    m.watch('long', join(dir, 'long'));
    await tick(60);
    m.watch('quick', join(dir, 'quick'));
    m.unwatch('quick');
    await tick(10);
    expect(removed).toEqual([]);
    m.unwatch('long');
    await tick(10);
    expect(removed).toEqual([join(dir, 'long')]);
  });

  it('works without onBeat, onRevive and onWatchError', async () => {
    let fail: (e: unknown) => void = () => undefined;
    const m = new LivenessMonitor({
      timeoutMs: 1000,
      source: 'any',
      now: () => clock,
      hintDelayMs: 0,
      onStall: () => undefined,
      watcher: async (_c, onError) => ((fail = onError), { add: () => undefined, unwatch: () => undefined, close: () => undefined }),
    });
    monitors.push(m);
    m.watch('s', join(dir, 's'));
    clock = 5000;
    m.check();
    expect(() => m.output('s')).not.toThrow();
    await tick();
    expect(() => fail(new Error('ENOSPC'))).not.toThrow();
  });

  it('without an injected clock, silence is measured on the monotonic clock', async () => {
    const stalls: string[] = [];
    const m = new LivenessMonitor({ timeoutMs: 40, source: 'any', watcher: null, onStall: (id) => stalls.push(id) });
    monitors.push(m);
    m.watch('s', join(dir, 's'));
    m.check();
    expect(stalls).toEqual([]);
    await tick(80);
    m.check();
    expect(stalls).toEqual(['s']);
  });
});

describe('chokidarWatcher', () => {
  it('reports a change of a file it was given, and closes', async () => {
    const f = join(dir, 'hb');
    writeFileSync(f, 'a');
    const changed: string[] = [];
    const errors: unknown[] = [];
    const w = await chokidarWatcher(
      (file) => changed.push(file),
      (e) => errors.push(e),
    );
    try {
      w.add(f);
      await tick(300);
      for (let i = 0; i < 40 && changed.length === 0; i++) {
        writeFileSync(f, `b${i}`);
        await tick(100);
      }
      expect(changed).toContain(f);
      w.unwatch(f);
      expect(errors).toEqual([]);
    } finally {
      w.close();
    }
  });
});
