/** LivenessMonitor with an injected monotonic clock and file watcher. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LivenessMonitor, type HintWatcher, type LivenessOptions, type WatcherFactory } from '../../src/supervise/liveness.js';

let dir: string;
let clock: number;
let monitors: LivenessMonitor[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'coord-live-'));
  clock = 0;
  monitors = [];
});
afterEach(() => {
  for (const m of monitors) m.stop();
  rmSync(dir, { recursive: true, force: true });
});

function monitor(extra: Partial<LivenessOptions> = {}) {
  const stalls: string[] = [];
  const revived: string[] = [];
  const beats: Array<[string, boolean]> = [];
  const m = new LivenessMonitor({
    timeoutMs: 1000,
    source: 'any',
    now: () => clock,
    watcher: null,
    onStall: (id) => stalls.push(id),
    onRevive: (id) => revived.push(id),
    onBeat: (id, _at, file) => beats.push([id, file]),
    ...extra,
  });
  monitors.push(m);
  return { m, stalls, revived, beats };
}

/** Resolves once `cond` holds, checked after each turn of the event loop (no wall-clock guess). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

describe('LivenessMonitor', () => {
  it('finds a stall once the timeout passes on the monotonic clock, once, and revives on a beat', () => {
    const { m, stalls, revived } = monitor();
    m.watch('s', join(dir, 'hb'));
    clock = 999;
    m.check();
    expect(stalls).toEqual([]);
    clock = 1000;
    m.check();
    m.check();
    expect(stalls).toEqual(['s']);
    m.output('s');
    expect(revived).toEqual(['s']);
    clock = 1999;
    m.check();
    expect(stalls).toEqual(['s']);
    clock = 2000;
    m.check();
    expect(stalls).toEqual(['s', 's']);
  });

  it('counts a write, a touch and a rename-replace of the heartbeat file as beats', () => {
    const hb = join(dir, 'hb');
    const { m, beats } = monitor();
    m.watch('s', hb);
    writeFileSync(hb, '1');
    m.check();
    writeFileSync(join(dir, 'tmp'), '2');
    renameSync(join(dir, 'tmp'), hb);
    m.check();
    expect(beats).toEqual([
      ['s', true],
      ['s', true],
    ]);
  });

  it('honours source: output ignores the file, file ignores output', () => {
    const hb = join(dir, 'hb');
    const out = monitor({ source: 'output' });
    out.m.watch('a', hb);
    writeFileSync(hb, 'x');
    out.m.check();
    expect(out.beats).toEqual([]);
    out.m.output('a');
    expect(out.beats).toEqual([['a', false]]);
    const file = monitor({ source: 'file' });
    file.m.watch('b', join(dir, 'hb2'));
    file.m.output('b');
    expect(file.beats).toEqual([]);
  });

  it('under source: output, a stream that only writes its file is stalled at the timeout, and output revives it', () => {
    const hb = join(dir, 'hb');
    const { m, stalls, revived, beats } = monitor({ source: 'output' });
    m.watch('quiet', hb);
    m.watch('talker', join(dir, 'hb2'));
    clock = 600;
    writeFileSync(hb, 'busy'); // the file changes, but only output counts
    m.output('talker');
    m.check();
    clock = 999;
    m.check();
    expect(stalls).toEqual([]);
    clock = 1000;
    m.check();
    expect(stalls).toEqual(['quiet']);
    m.check();
    expect(stalls).toEqual(['quiet']);
    m.output('quiet');
    expect(revived).toEqual(['quiet']);
    clock = 1600;
    m.check();
    expect(stalls).toEqual(['quiet', 'talker']);
    expect(beats).toEqual([
      ['talker', false],
      ['quiet', false],
    ]);
  });

  it('takes watcher events as hints: the stat decides, a spurious event is no beat', async () => {
    const hb = join(dir, 'hb');
    let fire: (f: string) => void = () => undefined;
    const added: string[] = [];
    const factory: WatcherFactory = async (onChange) => {
      fire = onChange;
      return { add: (f) => added.push(f), unwatch: () => undefined, close: () => undefined } satisfies HintWatcher;
    };
    const { m, beats } = monitor({ watcher: factory, hintDelayMs: 0 });
    m.watch('s', hb);
    await until(() => added.length > 0);
    expect(added).toEqual([hb]);
    fire(hb); // nothing changed: no beat
    expect(beats).toEqual([]);
    writeFileSync(hb, 'beat');
    fire(hb); // seen at once, without waiting for the poll
    expect(beats).toEqual([['s', true]]);
  });

  it('falls back to polling when the watcher fails (e.g. ENOSPC), without throwing', async () => {
    const hb = join(dir, 'hb');
    const errors: unknown[] = [];
    const failing: WatcherFactory = async (_onChange, onError) => {
      const e = Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' });
      setTimeout(() => onError(e), 0);
      return { add: () => undefined, unwatch: () => undefined, close: () => undefined };
    };
    const { m, beats, stalls } = monitor({ watcher: failing, hintDelayMs: 0, onWatchError: (e) => errors.push(e) });
    m.watch('s', hb);
    await until(() => errors.length > 0);
    expect(errors).toHaveLength(1);
    writeFileSync(hb, 'beat');
    m.check();
    expect(beats).toEqual([['s', true]]);
    clock = 5000;
    m.check();
    expect(stalls).toEqual(['s']);
    const rejecting: WatcherFactory = () => Promise.reject(new Error('no watcher'));
    const r = monitor({ watcher: rejecting, hintDelayMs: 0, onWatchError: (e) => errors.push(e) });
    r.m.watch('t', join(dir, 'hb3'));
    await until(() => errors.length > 1);
    expect(errors).toHaveLength(2);
  });
});
