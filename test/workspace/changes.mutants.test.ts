/** Change detection against a base: the seed record's shortcut, outputs, skipped paths, kind changes. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import { lstatSync } from 'node:fs';
import path from 'node:path';
import { snapshotBase, type BaseTree } from '../../src/workspace/basetree.js';
import { seedWorkspace, type SeedRecord } from '../../src/workspace/seed.js';
import { detectChanges, type ChangeSet } from '../../src/workspace/changes.js';
import { makeTemp, removeTemp, writeTree } from './fsfix.js';

let tmp: string;
let base: BaseTree;
let n = 0;
beforeEach(async () => {
  tmp = await makeTemp();
  const repo = path.join(tmp, 'repo');
  await writeTree(repo, {
    'a.txt': 'alpha\n',
    'doc.txt': 'one\ntwo\n',
    'lib/a.js': 'a = 1\n',
    'lib/sub/c.js': 'c = 1\n',
    'lib/sub/deep/d.js': 'd = 1\n',
    'empty': { dir: true },
  });
  base = await snapshotBase(repo, path.join(tmp, 'run', 'bases', 'b1'));
});
afterEach(async () => {
  await removeTemp(tmp);
});

async function seeded(edit: (ws: string) => Promise<void> = async () => undefined): Promise<{ ws: string; seed: SeedRecord }> {
  const ws = path.join(tmp, 'ws', `s${n++}`);
  await fs.mkdir(ws, { recursive: true });
  const seed = await seedWorkspace(base, ws);
  await edit(ws);
  return { ws, seed };
}
const summary = (c: ChangeSet): string[] => c.changes.map((x) => `${x.change[0]} ${x.kind} ${x.rel}`);
const detect = (ws: string, seed?: SeedRecord, outputs: string[] = []) => detectChanges({ stream: 's', dir: ws, outputs }, base, seed);

/** A seed record claiming `rel` was written with the stats it has now (ino, mtime, ctime), `tweak` applied. */
function recordNow(seed: SeedRecord, ws: string, rel: string, tweak: (s: [number, number, number]) => [number, number, number] = (s) => s): SeedRecord {
  const i = base.index.get(rel)!;
  expect(i).toBeGreaterThan(0); // an index whose i*3 and i/3 differ
  const st = lstatSync(path.join(ws, rel));
  const stats = [...seed.stats];
  const [ino, m, c] = tweak([st.ino, st.mtimeMs, st.ctimeMs]);
  stats[i * 3] = ino;
  stats[i * 3 + 1] = m;
  stats[i * 3 + 2] = c;
  return { ...seed, stats };
}
const sameSize = async (ws: string) => fs.writeFile(path.join(ws, 'doc.txt'), 'ONE\nTWO\n');

describe('the seed record shortcut', () => {
  it('a file whose ino, mtime and ctime match the record is taken as unchanged without reading it', async () => {
    const { ws, seed } = await seeded(sameSize);
    expect(summary(await detect(ws, seed))).toEqual(['m file doc.txt']);
    // the record vouches for the file as it is now: content is not compared
    expect(summary(await detect(ws, recordNow(seed, ws, 'doc.txt')))).toEqual([]);
  });

  it.each([
    ['ino', (s: [number, number, number]) => [s[0] + 1, s[1], s[2]]],
    ['mtime', (s: [number, number, number]) => [s[0], s[1] + 1, s[2]]],
    ['ctime', (s: [number, number, number]) => [s[0], s[1], s[2] + 1]],
  ] as const)('one stat that differs (%s) sends it to the content check', async (_name, tweak) => {
    const { ws, seed } = await seeded(sameSize);
    expect(summary(await detect(ws, recordNow(seed, ws, 'doc.txt', tweak as never)))).toEqual(['m file doc.txt']);
  });

  it('an entry the record marks as not written (-1) is checked by content', async () => {
    const { ws, seed } = await seeded(sameSize);
    const rec = recordNow(seed, ws, 'doc.txt', (s) => [-1, s[1], s[2]]);
    expect(summary(await detect(ws, rec))).toEqual(['m file doc.txt']);
  });

  it('a record of another base, or of another number of entries, is not trusted', async () => {
    const { ws, seed } = await seeded(sameSize);
    const rec = recordNow(seed, ws, 'doc.txt');
    expect(summary(await detect(ws, { ...rec, base: path.join(tmp, 'run', 'bases', 'other') }))).toEqual(['m file doc.txt']);
    expect(summary(await detect(ws, { ...rec, stats: [...rec.stats, 0, 0, 0] }))).toEqual(['m file doc.txt']);
    expect(summary(await detect(ws, { ...rec, base: base.dir + '/' }))).toEqual([]); // the same directory spelled otherwise
  });

  it('a mode change of the same content is a modification even when the stats match the record', async () => {
    const { ws, seed } = await seeded(async (ws) => fs.chmod(path.join(ws, 'doc.txt'), 0o600));
    expect(summary(await detect(ws, recordNow(seed, ws, 'doc.txt')))).toEqual(['m file doc.txt']);
    expect(summary(await detect(ws))).toEqual(['m file doc.txt']); // without a record: same bytes, other mode
  });
});

describe('kinds', () => {
  it('a file replaced by an empty directory of the same name is modified, as a dir', async () => {
    const { ws, seed } = await seeded(async (ws) => {
      await fs.rm(path.join(ws, 'doc.txt'));
      await fs.mkdir(path.join(ws, 'doc.txt'));
    });
    expect(summary(await detect(ws, seed))).toEqual(['m dir doc.txt']);
  });

  it('a file replaced by a directory with content is deleted, its content added', async () => {
    const { ws, seed } = await seeded(async (ws) => {
      await fs.rm(path.join(ws, 'doc.txt'));
      await writeTree(path.join(ws, 'doc.txt'), { 'x.md': 'x\n' });
    });
    const c = await detect(ws, seed);
    expect(summary(c)).toEqual(['d file doc.txt', 'a file doc.txt/x.md']);
    expect(c.deleted).toEqual(['doc.txt']);
  });

  it('an empty base directory that now holds a file is not deleted; one removed is', async () => {
    const filled = await seeded(async (ws) => fs.writeFile(path.join(ws, 'empty', 'now.txt'), 'n\n'));
    const c = await detect(filled.ws, filled.seed);
    expect(summary(c)).toEqual(['a file empty/now.txt']);
    expect(c.deleted).toEqual([]);
    const gone = await seeded(async (ws) => fs.rmdir(path.join(ws, 'empty')));
    const g = await detect(gone.ws, gone.seed);
    expect(summary(g)).toEqual(['d dir empty']);
    expect(g.deleted).toEqual(['empty']);
  });

  it('changes come sorted by path, deletions among additions', async () => {
    const { ws, seed } = await seeded(async (ws) => {
      await fs.writeFile(path.join(ws, 'z.txt'), 'z\n');
      await fs.writeFile(path.join(ws, '0.txt'), '0\n');
      await fs.rm(path.join(ws, 'doc.txt'));
      await fs.rm(path.join(ws, 'a.txt'));
      await fs.writeFile(path.join(ws, 'lib/a.js'), 'a = 22\n');
    });
    const c = await detect(ws, seed);
    expect(summary(c)).toEqual(['a file 0.txt', 'd file a.txt', 'd file doc.txt', 'm file lib/a.js', 'a file z.txt']);
    expect(c.deleted).toEqual(['a.txt', 'doc.txt']);
  });
});

describe('deletions and outputs', () => {
  const removeAll = async (ws: string) => {
    await fs.rm(path.join(ws, 'lib'), { recursive: true });
    await fs.rm(path.join(ws, 'doc.txt'));
  };

  it('a nested output directory selects the deletions below it only', async () => {
    const { ws, seed } = await seeded(removeAll);
    expect((await detect(ws, seed, ['lib/sub'])).deleted).toEqual(['lib/sub/c.js', 'lib/sub/deep/d.js']);
    expect((await detect(ws, seed, ['lib/sub/deep'])).deleted).toEqual(['lib/sub/deep/d.js']);
  });

  it('an excluded subtree deletes nothing, at any depth below the exclusion', async () => {
    const { ws, seed } = await seeded(removeAll);
    expect((await detect(ws, seed, ['lib', '!lib/sub'])).deleted).toEqual(['lib/a.js']);
    expect((await detect(ws, seed, ['!lib'])).deleted).toEqual(['doc.txt']);
  });

  it('a path the walk skipped is not deleted, nor anything below it', async () => {
    const { ws, seed } = await seeded(async (ws) => {
      await fs.rm(path.join(ws, 'lib/sub'), { recursive: true });
      await fs.symlink(tmp, path.join(ws, 'lib/sub')); // leads outside: skipped
      await fs.rm(path.join(ws, 'a.txt'));
      await fs.rm(path.join(ws, 'doc.txt'));
      await fs.symlink(path.join(tmp, 'repo', 'a.txt'), path.join(ws, 'doc.txt'));
    });
    const c = await detect(ws, seed);
    expect(c.skipped.map((s) => s.rel).sort()).toEqual(['doc.txt', 'lib/sub']);
    expect(c.deleted).toEqual(['a.txt']);
    expect(summary(c)).toEqual(['d file a.txt']);
  });
});

describe('without a base', () => {
  it('everything is added and nothing deleted', async () => {
    const { ws } = await seeded(async (ws) => fs.rm(path.join(ws, 'doc.txt')));
    const c = await detectChanges({ stream: 's', dir: ws, outputs: [] });
    expect(c.base).toBeUndefined();
    expect(c.deleted).toEqual([]);
    expect(summary(c)).toEqual(['a file a.txt', 'a dir empty', 'a file lib/a.js', 'a file lib/sub/c.js', 'a file lib/sub/deep/d.js']);
  });
});
