import { afterEach, describe, expect, test } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { VersionedDir } from '../../src/primitives/versioned-dir.js';
import { Rig } from '../rig.js';

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
});
