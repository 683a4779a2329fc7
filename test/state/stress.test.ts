/**
 * The shared state under real processes: concurrent writers never lose an update, and a
 * writer SIGKILLed at any point leaves a store that reads back whole, with versions that never
 * go back and a change log without holes.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FileBackend } from '../../src/backend/file/file-backend.js';
import { StateStore } from '../../src/state/store.js';
import { FIXTURES, Rig, type Spawned } from '../rig.js';
import { runRecord } from '../backend/contract.js';

const WRITER = join(FIXTURES, 'state-writer.js');
let rig: Rig;
let home: string;
let backend: FileBackend;

beforeEach(async () => {
  rig = new Rig();
  home = join(rig.dir, '.coord');
  backend = new FileBackend(home);
  await backend.createRun(runRecord('r', new Date().toISOString()), '');
});
afterEach(async () => {
  await backend.close();
  await rig.cleanup();
});

const quiet = () => undefined;

async function lineOf(s: Spawned, text: string): Promise<void> {
  let buf = '';
  await new Promise<void>((resolve, reject) => {
    s.child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes(text)) resolve();
    });
    s.child.once('exit', () => (buf.includes(text) ? resolve() : reject(new Error(`exited before "${text}": ${buf}`))));
  });
}

describe('shared state stress', () => {
  it('4 processes x 250 incr end at exactly 1000, with 1000 versions in the log', async () => {
    const writers = [0, 1, 2, 3].map((i) => rig.spawnNode(WRITER, [home, 'r', '250', 'incr', `w${i}`]));
    for (const w of writers) expect((await w.done).code).toBe(0);
    const s = new StateStore(backend, 'r', { onEvent: quiet });
    expect(await s.read()).toEqual({ version: 1000, data: { n: 1000 } });
    const log = await s.changeLog();
    expect(log.map((e) => e.version)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(new Set(log.map((e) => e.stream))).toEqual(new Set(['w0', 'w1', 'w2', 'w3']));
    // old versions were collected down to keep_versions (100), the log stayed whole
    expect((await backend.docVersions('r', 'state')).length).toBeLessThanOrEqual(108);
  });

  it('concurrent read-modify-write update(fn) from 4 processes never loses a write', async () => {
    const writers = [0, 1, 2, 3].map((i) => rig.spawnNode(WRITER, [home, 'r', '100', 'update', `w${i}`]));
    for (const w of writers) expect((await w.done).code).toBe(0);
    const { version, data } = await new StateStore(backend, 'r', { onEvent: quiet }).read();
    expect(version).toBe(400);
    const seen = data.seen as string[];
    expect(seen).toHaveLength(400);
    expect(new Set(seen).size).toBe(400);
    // each writer's own updates stay in its order
    for (const w of ['w0', 'w1', 'w2', 'w3']) {
      const mine = seen.filter((x) => x.startsWith(`${w}:`)).map((x) => Number(x.split(':')[1]));
      expect(mine).toEqual(Array.from({ length: 100 }, (_, i) => i));
    }
  });

  it('writers SIGKILLed at random points in 200 runs: the store always reads back whole and never goes back', async () => {
    const s = new StateStore(backend, 'r', { onEvent: quiet });
    const LANES = 4;
    const RUNS = 50; // per lane: 200 kills in all
    let kills = 0;
    const lane = async (n: number): Promise<void> => {
      let last = 0;
      for (let i = 0; i < RUNS; i++) {
        const w = rig.spawnNode(WRITER, [home, 'r', '0', 'forever', `k${n}`]);
        await lineOf(w, 'ready');
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 25)));
        w.child.kill('SIGKILL');
        await w.done;
        kills++;
        const { version, data } = await s.read();
        // whole: the document of a committed version, n counting every version
        expect(data.n ?? 0).toBe(version);
        expect(version).toBeGreaterThanOrEqual(last);
        last = version;
      }
    };
    await Promise.all(Array.from({ length: LANES }, (_, n) => lane(n)));
    expect(kills).toBe(200);
    // the next writer fills the log holes the killed ones left
    const after = await s.update((cur) => ({ ...cur, n: ((cur.n as number) ?? 0) + 1 }));
    expect(after.data.n).toBe(after.version);
    const log = await s.changeLog();
    expect(log.map((e) => e.version)).toEqual(Array.from({ length: after.version }, (_, i) => i + 1));
    // temp files of killed writers are swept when old versions are collected: a collection
    // runs once keepVersions + 8 versions are listed, so that many more updates make sure of one
    for (let i = 0; i < 108; i++) await s.update((cur) => ({ ...cur, n: ((cur.n as number) ?? 0) + 1 }));
    const temps = readdirSync(join(backend.runDir('r'), 'state', 'versions')).filter((f) => f.startsWith('.tmp-'));
    expect(temps).toEqual([]);
  }, 120_000);
});
