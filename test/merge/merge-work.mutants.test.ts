/** What a merge on a base keeps of the base, what it reports of deletions, and each conflict's material. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import path from 'node:path';
import { snapshotBase, type BaseTree } from '../../src/workspace/basetree.js';
import { seedWorkspace } from '../../src/workspace/seed.js';
import { detectChanges } from '../../src/workspace/changes.js';
import { mergeAll, mergeOne, type MergeSource } from '../../src/merge/merge.js';
import { exists, makeSource, makeTemp, readTree, removeTemp, writeTree } from '../workspace/fsfix.js';

let tmp: string;
let target: string;
let base: BaseTree;
beforeEach(async () => {
  tmp = await makeTemp();
  target = path.join(tmp, 'converged', 'point');
  const repo = path.join(tmp, 'repo');
  await writeTree(repo, {
    'doc.txt': 'doc\n',
    li: 'li\n',
    'lib/a.js': 'a\n',
    'cfg/x.json': 'x\n',
    empty: { dir: true },
  });
  base = await snapshotBase(repo, path.join(tmp, 'run', 'bases', 'b1'));
});
afterEach(async () => {
  await removeTemp(tmp);
});

/** A workspace seeded from the base and edited, with its change set. */
async function stream(id: string, edit: (ws: string) => Promise<void>): Promise<MergeSource> {
  const ws = path.join(tmp, 'ws', id);
  await fs.mkdir(ws, { recursive: true });
  const seed = await seedWorkspace(base, ws);
  await edit(ws);
  return { stream: id, dir: ws, outputs: [], changes: await detectChanges({ stream: id, dir: ws, outputs: [] }, base, seed) };
}
const write = (ws: string, rel: string, data: string) => writeTree(ws, { [rel]: data });

describe('the base layer of a target built on a base', () => {
  it('keeps base entries whose names merely start like a changed path', async () => {
    const a = await stream('a', async (ws) => {
      await write(ws, 'li', 'LI\n');
      await write(ws, 'lib/new.js', 'n\n');
    });
    expect(await mergeAll(target, [a], 'fail', { baseTree: base })).toMatchObject({ ok: true, files: 2 });
    expect(await readTree(target)).toEqual({
      'cfg/x.json': 'x\n',
      'doc.txt': 'doc\n',
      empty: '<dir>',
      li: 'LI\n',
      'lib/a.js': 'a\n',
      'lib/new.js': 'n\n',
    });
  });

  it('drops what an added file replaces above it, or an added directory puts a file below', async () => {
    // a source without a change set: everything it has is an addition over the base
    // (an empty directory added where the base has one with content replaces nothing)
    const b = await makeSource(tmp, 'b', { cfg: 'now a file\n', 'doc.txt/inner.txt': 'i\n', 'empty/filled.txt': 'f\n', lib: { dir: true } });
    expect(await mergeAll(target, [b], 'fail', { baseTree: base })).toMatchObject({ ok: true, files: 4 });
    expect(await readTree(target)).toEqual({
      cfg: 'now a file\n',
      'doc.txt/inner.txt': 'i\n',
      'empty/filled.txt': 'f\n',
      li: 'li\n',
      'lib/a.js': 'a\n',
    });
  });
});

describe('deletions in the result', () => {
  it('a blocked merge reports no deletion and writes no target', async () => {
    const a = await stream('a', async (ws) => {
      await fs.rm(path.join(ws, 'doc.txt'));
      await write(ws, 'li', 'from a\n');
    });
    const b = await stream('b', async (ws) => write(ws, 'li', 'from b\n'));
    const r = await mergeAll(target, [a, b], 'fail', { baseTree: base });
    expect(r).toMatchObject({ ok: false, merged: [], deleted: [], conflicts: [{ path: 'li', streams: ['a', 'b'] }] });
    expect(await exists(target)).toBe(false);
  });

  it('a deletion that wins over a write drops only that entry of the writer', async () => {
    const a = await stream('a', async (ws) => fs.rm(path.join(ws, 'doc.txt')));
    const b = await stream('b', async (ws) => {
      await write(ws, 'doc.txt', 'edited\n');
      await write(ws, 'b-new.txt', 'b\n');
    });
    const r = await mergeAll(target, [a, b], 'first', { baseTree: base });
    expect(r).toMatchObject({ ok: true, merged: ['a', 'b'], deleted: ['doc.txt'], conflicts: [{ path: 'doc.txt', streams: ['a', 'b'] }] });
    const tree = await readTree(target);
    expect(tree).not.toHaveProperty('doc.txt');
    expect(tree['b-new.txt']).toBe('b\n');
  });
});

describe('conflict material', () => {
  it('a modify/delete conflict lists the writer with its file and the deleter as deleted', async () => {
    const a = await stream('a', async (ws) => {
      await write(ws, 'doc.txt', 'edited\n');
      await fs.rm(path.join(ws, 'li')); // a deletion of its own elsewhere
    });
    const b = await stream('b', async (ws) => fs.rm(path.join(ws, 'doc.txt')));
    const r = await mergeAll(target, [a, b], 'fail', { baseTree: base });
    expect(r.ok).toBe(false);
    expect(r.details).toEqual([
      {
        path: 'doc.txt',
        streams: ['a', 'b'],
        versions: [
          { stream: 'a', kind: 'file', abs: path.join(tmp, 'ws', 'a', 'doc.txt') },
          { stream: 'b', kind: 'deleted' },
        ],
        base: path.join(base.tree, 'doc.txt'),
      },
    ]);
  });

  it('on a case-insensitive target the material of a nested path is found the same way', async () => {
    const a = await stream('a', async (ws) => write(ws, 'lib/a.js', 'edited\n'));
    const b = await stream('b', async (ws) => fs.rm(path.join(ws, 'lib/a.js')));
    const r = await mergeAll(target, [a, b], 'fail', { baseTree: base, caseInsensitive: true });
    expect(r.conflicts).toEqual([{ path: 'lib/a.js', streams: ['a', 'b'] }]);
    expect(r.details.map((d) => d.versions)).toEqual([
      [
        { stream: 'a', kind: 'file', abs: path.join(tmp, 'ws', 'a', 'lib', 'a.js') },
        { stream: 'b', kind: 'deleted' },
      ],
    ]);
  });

  it('progressive: what the target holds is attributed to the earlier stream, with where it is', async () => {
    await mergeOne(target, await makeSource(tmp, 'a', { 'r.txt': 'from a' }), 'fail');
    const r = await mergeOne(target, await makeSource(tmp, 'b', { 'r.txt': 'from b' }), 'fail');
    expect(r.details).toEqual([
      {
        path: 'r.txt',
        streams: ['a', 'b'],
        versions: [
          { stream: 'a', kind: 'file', abs: path.join(target, 'r.txt') },
          { stream: 'b', kind: 'file', abs: path.join(tmp, 'ws', 'b', 'r.txt') },
        ],
      },
    ]);
  });

  it('progressive: re-creating what an earlier stream deleted lists that deletion first', async () => {
    const a = await stream('a', async (ws) => fs.rm(path.join(ws, 'doc.txt')));
    expect(await mergeOne(target, a, 'fail', { baseTree: base })).toMatchObject({ ok: true, deleted: ['doc.txt'] });
    const b = await stream('b', async (ws) => write(ws, 'doc.txt', 'back\n'));
    const r = await mergeOne(target, b, 'fail', { baseTree: base });
    expect(r.ok).toBe(false);
    expect(r.details.map((d) => ({ path: d.path, versions: d.versions }))).toEqual([
      {
        path: 'doc.txt',
        versions: [
          { stream: 'a', kind: 'deleted' },
          { stream: 'b', kind: 'file', abs: path.join(tmp, 'ws', 'b', 'doc.txt') },
        ],
      },
    ]);
  });

  it('three-way: each path merged with markers carries its own marker text, others none', async () => {
    const a = await stream('a', async (ws) => {
      await write(ws, 'li', 'li of a\n');
      await write(ws, 'doc.txt', 'from a\n');
      await fs.writeFile(path.join(ws, 'bin.dat'), Buffer.from([0, 1, 2, 3]));
    });
    const b = await stream('b', async (ws) => {
      await write(ws, 'li', 'li of b\n');
      await write(ws, 'doc.txt', 'from b\n');
      await fs.writeFile(path.join(ws, 'bin.dat'), Buffer.from([0, 9, 9, 9]));
    });
    const r = await mergeAll(target, [a, b], 'three-way', { baseTree: base });
    expect(r.ok).toBe(false);
    expect(r.markers.sort()).toEqual(['doc.txt', 'li']);
    const byPath = new Map(r.details.map((d) => [d.path, d]));
    expect([...byPath.keys()].sort()).toEqual(['bin.dat', 'doc.txt', 'li']);
    expect(byPath.get('li')?.text?.toString()).toContain('li of a');
    expect(byPath.get('li')?.text?.toString()).not.toContain('from a');
    expect(byPath.get('bin.dat')).not.toHaveProperty('text');
    expect(byPath.get('doc.txt')?.text?.toString()).toContain('from a');
    expect(byPath.get('doc.txt')?.text?.toString()).toContain('from b');
  });
});

describe('one path in conflict twice', () => {
  it('a path two streams edited differently and a third deleted is one conflict naming each stream once', async () => {
    const a = await stream('a', async (ws) => write(ws, 'doc.txt', 'from a\n'));
    const b = await stream('b', async (ws) => fs.rm(path.join(ws, 'doc.txt')));
    const c = await stream('c', async (ws) => write(ws, 'doc.txt', 'from c\n'));
    const r = await mergeAll(target, [a, b, c], 'fail', { baseTree: base });
    expect(r.ok).toBe(false);
    expect(r.conflicts.map((x) => ({ path: x.path, streams: [...x.streams].sort() }))).toEqual([{ path: 'doc.txt', streams: ['a', 'b', 'c'] }]);
    expect(r.details.map((d) => d.path)).toEqual(['doc.txt']);
    expect(r.details[0]?.versions.map((v) => `${v.stream}:${v.kind}`).sort()).toEqual(['a:file', 'b:deleted', 'c:file']);
  });
});

describe('links a change set brings', () => {
  it('a link whose text leads outside the target is not written and is reported skipped for its stream', async () => {
    // a change set is taken as it is (a resolution read back from a conflict directory is one):
    // its link text is checked only when written
    const dir = path.join(tmp, 'ws', 'r');
    await fs.mkdir(dir, { recursive: true });
    await fs.symlink('/etc', path.join(dir, 'etc'));
    await fs.symlink('../../..', path.join(dir, 'up'));
    await fs.symlink('kept.txt', path.join(dir, 'in'));
    await fs.writeFile(path.join(dir, 'kept.txt'), 'k\n');
    const link = (rel: string, linkTarget: string) => ({ rel, abs: path.join(dir, rel), kind: 'symlink' as const, size: 0, mode: 0o777, linkTarget });
    const entries = [
      link('etc', '/etc'),
      link('in', 'kept.txt'),
      { rel: 'kept.txt', abs: path.join(dir, 'kept.txt'), kind: 'file' as const, size: 2, mode: 0o644 },
      link('up', '../../..'),
    ];
    const r = await mergeAll(
      target,
      [{ stream: 'r', dir, outputs: [], changes: { stream: 'r', base: undefined, entries, deleted: [], changes: [], skipped: [] } }],
      'fail',
    );
    expect(r).toMatchObject({ ok: true, files: 2 });
    expect(r.skipped).toEqual([
      { rel: 'etc', reason: 'symlink-outside', stream: 'r' },
      { rel: 'up', reason: 'symlink-outside', stream: 'r' },
    ]);
    expect(await readTree(target)).toEqual({ in: '-> kept.txt', 'kept.txt': 'k\n' });
  });

  it("a base link leading outside is left out silently: it is no stream's", async () => {
    const repo = path.join(tmp, 'repo2');
    await writeTree(repo, { 'f.txt': 'f\n', abs: { link: '/etc' } });
    const b2 = await snapshotBase(repo, path.join(tmp, 'run', 'bases', 'b2'));
    expect(b2.entries.find((e) => e.rel === 'abs')).toMatchObject({ kind: 'symlink', link: '/etc' });
    const s = await makeSource(tmp, 's', { 'g.txt': 'g\n' });
    const r = await mergeAll(target, [s], 'fail', { baseTree: b2 });
    expect(r).toMatchObject({ ok: true, files: 1, skipped: [] });
    expect(await readTree(target)).toEqual({ 'f.txt': 'f\n', 'g.txt': 'g\n' });
  });
});
