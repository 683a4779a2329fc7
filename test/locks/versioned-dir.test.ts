import { afterEach, describe, expect, test } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { VersionedDir } from '../../src/primitives/versioned-dir.js';
import { ROOT, Rig } from '../rig.js';
import type { Version } from '../../src/primitives/versioned-dir.js';

/** The steps of an update, to replay a writer paused between them. */
interface Internals<T> {
  publish(v: Version<T>): boolean;
  confirm(v: Version<T>): boolean;
  publishAfter(cur: Version<T>, data: T, meta: unknown, listed: number[]): Version<T> | null;
}
const internals = <T>(d: VersionedDir<T>) => d as unknown as Internals<T>;

let rig: Rig;
afterEach(async () => rig?.cleanup());

describe('VersionedDir', () => {
  test('every update makes the next version; old versions are removed beyond keep', () => {
    rig = new Rig();
    const d = new VersionedDir<{ n: number }>(join(rig.dir, 'doc'), { initial: () => ({ n: 0 }), keep: 4 });
    expect(d.read().version).toBe(0);
    for (let i = 0; i < 40; i++) d.update((s) => ({ n: s.n + 1 }));
    const v = d.read();
    expect(v.version).toBe(40);
    expect(v.data.n).toBe(40);
    expect(d.update(() => undefined).changed).toBe(false);
    const files = readdirSync(join(rig.dir, 'doc'));
    expect(files.length).toBeLessThanOrEqual(4 + 8);
    expect(files.every((f) => /^\d+\.json$/.test(f))).toBe(true);
  });

  test('a chain continues from the version a writer built on', () => {
    rig = new Rig();
    const d = new VersionedDir<number>(join(rig.dir, 'doc'), { initial: () => 0 });
    d.update((n) => n + 1);
    d.update((n) => n + 1);
    const v1 = d.readVersion(1)!;
    const v2 = d.readVersion(2)!;
    expect(v2.prev).toBe(v1.nonce);
  });

  test('a writer paused between its read and its link cannot re-create a removed version', () => {
    rig = new Rig();
    const d = new VersionedDir<{ n: number }>(join(rig.dir, 'doc'), { initial: () => ({ n: 0 }), keep: 2 });
    for (let i = 0; i < 5; i++) d.update((s) => ({ n: s.n + 1 }));
    const stale = d.read(); // version 5, read by the paused writer
    for (let i = 0; i < 20; i++) d.update((s) => ({ n: s.n + 1 }));
    expect(d.readVersion(6)).toBeUndefined(); // removed as old: the name is free again
    expect(internals(d).publishAfter(stale, { n: 999 }, undefined, [])).toBeNull();
    expect(d.readVersion(6)).toBeUndefined();
    expect(d.read()).toMatchObject({ version: 25, data: { n: 25 } });
  });

  test('a writer paused between its link and its check keeps a version others built on', () => {
    rig = new Rig();
    const d = new VersionedDir<{ n: number }>(join(rig.dir, 'doc'), { initial: () => ({ n: 0 }), keep: 2 });
    for (let i = 0; i < 5; i++) d.update((s) => ({ n: s.n + 1 }));
    const cur = d.read();
    const mine: Version<{ n: number }> = {
      version: 6,
      nonce: 'abcdef012345',
      prev: cur.nonce,
      time: Date.now(),
      data: { n: 6 },
      recent: 'abcdef01' + (cur.recent ?? ''),
    };
    expect(internals(d).publish(mine)).toBe(true);
    // others build on it and remove its predecessor as old, then itself and its successor
    let made = 6;
    while (d.readVersion(5)) made = d.update((s) => ({ n: s.n + 1 })).version.version;
    expect(internals(d).confirm(mine)).toBe(true);
    while (d.readVersion(7)) made = d.update((s) => ({ n: s.n + 1 })).version.version;
    expect(d.readVersion(6)).toBeUndefined();
    expect(internals(d).confirm(mine)).toBe(true);
    expect(d.read()).toMatchObject({ version: made, data: { n: made } });
  });

  test('a writer paused between its listing and its read never builds on a name re-created meanwhile', () => {
    rig = new Rig();
    const dir = join(rig.dir, 'doc');
    const others = new VersionedDir<{ n: number }>(dir, { initial: () => ({ n: 0 }), keep: 2 });
    for (let i = 0; i < 7; i++) others.update((s) => ({ n: s.n + 1 }));
    // a writer that read version 6 and was paused before its link: its 7 is stale once linked
    const v6 = others.readVersion(6)!;
    const stale: Version<{ n: number }> = {
      version: 7,
      nonce: 'aaaaaaaaaaaa',
      prev: v6.nonce,
      time: Date.now(),
      data: { n: 7 },
      recent: 'aaaaaaaa' + (v6.recent ?? ''),
    };
    // c lists (7 is the newest) and is paused before it reads 7: meanwhile the others move on,
    // remove 7 as old, and the paused writer re-creates it
    class PausedReader extends VersionedDir<{ n: number }> {
      pause: (() => void) | undefined;
      override readVersion(version: number) {
        const p = this.pause;
        this.pause = undefined;
        p?.();
        return super.readVersion(version);
      }
    }
    const c = new PausedReader(dir, { initial: () => ({ n: 0 }), keep: 2 });
    const built: Array<Version<{ n: number }>> = [];
    const publish = internals(c).publish.bind(c);
    (c as unknown as Internals<{ n: number }>).publish = (v) => {
      built.push(v);
      return publish(v);
    };
    c.pause = () => {
      for (let i = 0; i < 15; i++) others.update((s) => ({ n: s.n + 1 }));
      expect(others.readVersion(7)).toBeUndefined();
      expect(internals(others).publish(stale)).toBe(true);
    };
    const made = c.update((s) => ({ n: s.n + 1 }));
    expect(made.version).toMatchObject({ version: 23, data: { n: 23 } });
    // c never built on the re-created 7, so nothing vouches for it
    expect(built.map((v) => v.prev)).not.toContain(stale.nonce);
    expect(internals(others).confirm(stale)).toBe(false);
    expect(others.read()).toMatchObject({ version: 23, data: { n: 23 } });
  });

  test('4 processes x 300 updates with keep 2: no update lost or applied twice', async () => {
    rig = new Rig();
    const dir = join(rig.dir, 'doc');
    const script = `
      import { VersionedDir } from ${JSON.stringify(join(ROOT, 'dist', 'primitives', 'versioned-dir.js'))};
      const d = new VersionedDir(process.argv[1], { initial: () => ({ n: 0, by: {} }), keep: 2 });
      const me = process.argv[2];
      for (let i = 0; i < 300; i++) d.update((s) => ({ n: s.n + 1, by: { ...s.by, [me]: (s.by[me] ?? 0) + 1 } }));
    `;
    const procs = ['a', 'b', 'c', 'd'].map((me) => rig.spawnNode('--input-type=module', ['-e', script, dir, me]));
    for (const p of procs) expect((await p.done).code).toBe(0);
    const d = new VersionedDir<{ n: number; by: Record<string, number> }>(dir, { initial: () => ({ n: 0, by: {} }), keep: 2 });
    expect(d.read()).toMatchObject({ version: 1200, data: { n: 1200, by: { a: 300, b: 300, c: 300, d: 300 } } });
  });
});
