/** Bases, seeding and change sets: what a stream changed against the base it was seeded from. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadBaseTree, snapshotBase, type BaseTree } from '../../src/workspace/basetree.js';
import { seedWorkspace, type SeedRecord } from '../../src/workspace/seed.js';
import { detectChanges, type ChangeSet } from '../../src/workspace/changes.js';
import { mergeAll, mergeOne, type MergeSource } from '../../src/merge/merge.js';
import type { ConflictPolicy } from '../../src/plan/types.js';
import { exists, makeTemp, readTree, removeTemp, writeTree } from './fsfix.js';

let tmp: string;
let baseDir: string;
let base: BaseTree;
beforeEach(async () => {
  tmp = await makeTemp();
  baseDir = path.join(tmp, 'repo');
  await writeTree(baseDir, {
    'doc.txt': 'one\ntwo\nthree\n',
    'lib/a.js': 'a = 1\n',
    'lib/b.js': 'b = 1\n',
    'lib/sub/c.js': 'c = 1\n',
    'bin/run': { content: '#!/bin/sh\n', mode: 0o755 },
    'link': { link: 'doc.txt' },
    'empty': { dir: true },
    '.git/HEAD': 'ref: refs/heads/main\n',
    '.git/index': 'index',
    '.coord/runs/x/events.jsonl': '{}',
    'vendor/dep/.git': 'gitdir: ../../.git/modules/dep',
    'vendor/dep/index.js': 'dep\n',
  });
  base = await snapshotBase(baseDir, path.join(tmp, 'run', 'bases', 'b1'));
});
afterEach(async () => {
  await removeTemp(tmp);
});

/** A workspace seeded from the base, then changed by `edit`. */
async function stream(id: string, edit: (ws: string) => Promise<void> = async () => undefined): Promise<{ ws: string; seed: SeedRecord }> {
  const ws = path.join(tmp, 'ws', id);
  await fs.mkdir(ws, { recursive: true });
  const seed = await seedWorkspace(base, ws);
  await edit(ws);
  return { ws, seed };
}

const summary = (c: ChangeSet): string[] => c.changes.map((x) => `${x.change[0]} ${x.rel}`);

async function source(id: string, edit?: (ws: string) => Promise<void>, outputs: string[] = []): Promise<MergeSource> {
  const { ws, seed } = await stream(id, edit);
  const changes = await detectChanges({ stream: id, dir: ws, outputs }, base, seed);
  return { stream: id, dir: ws, outputs, changes };
}

describe('the base snapshot', () => {
  it("holds everything but repository data and coord's home, with content hashes", async () => {
    expect(base.entries.map((e) => `${e.kind} ${e.rel}`)).toEqual([
      'file bin/run',
      'file doc.txt',
      'dir empty',
      'file lib/a.js',
      'file lib/b.js',
      'file lib/sub/c.js',
      'symlink link',
      'file vendor/dep/index.js',
    ]);
    expect(base.gitDirs.sort()).toEqual(['.git', 'vendor/dep/.git']);
    expect(base.entries.find((e) => e.rel === 'doc.txt')?.hash).toMatch(/^[0-9a-f]{40}$/);
    expect(await readTree(base.tree)).not.toHaveProperty('.git/HEAD');
    const again = loadBaseTree(base.dir);
    expect(again?.entries).toEqual(base.entries);
    expect(again?.source).toBe(await fs.realpath(baseDir));
  });

  it("is the base as it was: later edits of the user's directory do not reach it", async () => {
    await fs.writeFile(path.join(baseDir, 'doc.txt'), 'changed by the user\n');
    expect(await fs.readFile(path.join(base.tree, 'doc.txt'), 'utf8')).toBe('one\ntwo\nthree\n');
  });

  it('leaves out directories it is told to (a run home inside the base)', async () => {
    const inner = await snapshotBase(baseDir, path.join(tmp, 'run', 'bases', 'b2'), { exclude: [path.join(baseDir, 'lib')] });
    expect(inner.entries.map((e) => e.rel).filter((r) => r.startsWith('lib'))).toEqual([]);
  });
});

describe('seeding and change detection', () => {
  it('seeds the base plus its repository data; an untouched workspace has no changes', async () => {
    const { ws, seed } = await stream('s');
    const tree = await readTree(ws);
    expect(tree['.git/HEAD']).toBe('ref: refs/heads/main\n');
    expect(tree['vendor/dep/.git']).toBe('gitdir: ../../.git/modules/dep');
    expect(tree['lib/a.js']).toBe('a = 1\n');
    expect(tree).not.toHaveProperty('.coord/runs/x/events.jsonl');
    const c = await detectChanges({ stream: 's', dir: ws, outputs: [] }, base, seed);
    expect(c.changes).toEqual([]);
  });

  it('finds edits (same size in place too), modes, links, additions, deletions and kind changes', async () => {
    const { ws, seed } = await stream('s', async (ws) => {
      await fs.writeFile(path.join(ws, 'lib/a.js'), 'a = 2\n'); // same size, in place
      await fs.appendFile(path.join(ws, 'doc.txt'), 'four\n');
      await fs.chmod(path.join(ws, 'bin/run'), 0o700);
      await fs.rm(path.join(ws, 'link'));
      await fs.symlink('lib/a.js', path.join(ws, 'link'));
      await fs.rm(path.join(ws, 'lib/b.js'));
      await fs.writeFile(path.join(ws, 'new.txt'), 'new\n');
      await fs.rm(path.join(ws, 'lib/sub'), { recursive: true });
      await fs.writeFile(path.join(ws, 'lib/sub'), 'now a file\n');
      await fs.writeFile(path.join(ws, '.git/index'), 'touched by git diff');
      await fs.mkdir(path.join(ws, '.coord'));
    });
    const c = await detectChanges({ stream: 's', dir: ws, outputs: [] }, base, seed);
    expect(summary(c)).toEqual(['m bin/run', 'm doc.txt', 'm lib/a.js', 'd lib/b.js', 'a lib/sub', 'd lib/sub/c.js', 'm link', 'a new.txt']);
    expect(c.deleted).toEqual(['lib/b.js', 'lib/sub/c.js']);
  });

  it('a file touched or rewritten with the same content is unchanged; without the seed record content decides', async () => {
    const { ws, seed } = await stream('s', async (ws) => {
      const now = new Date(Date.now() + 5000);
      await fs.utimes(path.join(ws, 'doc.txt'), now, now);
      const tmpName = path.join(ws, 'lib', '.a.js.tmp');
      await fs.writeFile(tmpName, 'a = 1\n');
      await fs.rename(tmpName, path.join(ws, 'lib/a.js')); // an editor's save by rename
      await fs.writeFile(path.join(ws, 'lib/b.js'), 'B = 1\n');
    });
    expect(summary(await detectChanges({ stream: 's', dir: ws, outputs: [] }, base, seed))).toEqual(['m lib/b.js']);
    expect(summary(await detectChanges({ stream: 's', dir: ws, outputs: [] }, base))).toEqual(['m lib/b.js']);
  });

  it('a change made the moment seeding ends is still seen (the clock moved past the seeding)', async () => {
    for (let i = 0; i < 5; i++) {
      const { ws, seed } = await stream(`fast-${i}`, async (ws) => writeFileSync(path.join(ws, 'lib/a.js'), 'a = 9\n'));
      expect(summary(await detectChanges({ stream: 's', dir: ws, outputs: [] }, base, seed))).toEqual(['m lib/a.js']);
    }
  });

  it('outputs filter what is contributed, deletions included', async () => {
    const { ws, seed } = await stream('s', async (ws) => {
      await fs.rm(path.join(ws, 'doc.txt'));
      await fs.rm(path.join(ws, 'lib/a.js'));
      await fs.writeFile(path.join(ws, 'lib/new.js'), 'n\n');
    });
    const c = await detectChanges({ stream: 's', dir: ws, outputs: ['lib/**'] }, base, seed);
    expect(summary(c)).toEqual(['d lib/a.js', 'a lib/new.js']);
  });

  it('without a base, everything is an addition (as before change sets)', async () => {
    const ws = path.join(tmp, 'plain');
    await writeTree(ws, { 'a.txt': 'a', '.git/HEAD': 'x' });
    const c = await detectChanges({ stream: 'p', dir: ws, outputs: [] });
    expect(summary(c)).toEqual(['a a.txt']);
  });
});

describe('merging change sets against a base', () => {
  const policies: ConflictPolicy[] = ['fail', 'first', 'last', 'keep-both', 'three-way'];

  it.each(policies)('disjoint edits lose nothing under %s, and the target is the whole base plus the changes', async (policy) => {
    const a = await source('a', async (ws) => fs.writeFile(path.join(ws, 'doc.txt'), 'ONE\ntwo\nthree\n'));
    const b = await source('b', async (ws) => fs.writeFile(path.join(ws, 'b.txt'), 'b\n'));
    const target = path.join(tmp, 'converged', policy);
    const r = await mergeAll(target, [a, b], policy, { baseTree: base });
    expect(r).toMatchObject({ ok: true, conflicts: [], merged: ['a', 'b'], files: 2 });
    const tree = await readTree(target);
    expect(tree['doc.txt']).toBe('ONE\ntwo\nthree\n');
    expect(tree['b.txt']).toBe('b\n');
    expect(tree['lib/sub/c.js']).toBe('c = 1\n');
    expect(tree.empty).toBe('<dir>');
    expect(tree.link).toBe('-> doc.txt');
    expect(Object.keys(tree).filter((k) => k.includes('.git') || k.startsWith('.coord'))).toEqual([]);
    expect(Object.keys(tree).filter((k) => /\.(a|b)\./.test(k))).toEqual([]); // keep-both copied nothing
    expect((await fs.lstat(path.join(target, 'bin/run'))).mode & 0o777).toBe(0o755);
  });

  it('deletions propagate, and a directory emptied by them goes too', async () => {
    const a = await source('a', async (ws) => fs.rm(path.join(ws, 'lib/sub'), { recursive: true }));
    const b = await source('b', async (ws) => fs.rm(path.join(ws, 'doc.txt')));
    const target = path.join(tmp, 'converged', 'p');
    const r = await mergeAll(target, [a, b], 'fail', { baseTree: base });
    expect(r).toMatchObject({ ok: true, deleted: ['doc.txt', 'lib/sub/c.js'] });
    expect(await exists(path.join(target, 'doc.txt'))).toBe(false);
    expect(await exists(path.join(target, 'lib/sub'))).toBe(false);
    expect(await exists(path.join(target, 'lib/a.js'))).toBe(true);
  });

  it('identical changes are no conflict; a conflict names only the streams that changed the path', async () => {
    const a = await source('a', async (ws) => fs.writeFile(path.join(ws, 'lib/a.js'), 'a = 2\n'));
    const b = await source('b', async (ws) => fs.writeFile(path.join(ws, 'lib/a.js'), 'a = 2\n'));
    const c = await source('c', async (ws) => fs.writeFile(path.join(ws, 'doc.txt'), 'c\n'));
    const d = await source('d', async (ws) => fs.writeFile(path.join(ws, 'doc.txt'), 'd\n'));
    const same = await mergeAll(path.join(tmp, 'same'), [a, b, c], 'fail', { baseTree: base });
    expect(same).toMatchObject({ ok: true, conflicts: [] });
    const r = await mergeAll(path.join(tmp, 'conflict'), [a, b, c, d], 'fail', { baseTree: base });
    expect(r.ok).toBe(false);
    expect(r.conflicts).toEqual([{ path: 'doc.txt', streams: ['c', 'd'] }]);
    expect(await exists(path.join(tmp, 'conflict'))).toBe(false);
  });

  it('modify/delete is a conflict: fail blocks, first/last follow completion order, keep-both keeps the content', async () => {
    const mod = await source('mod', async (ws) => fs.writeFile(path.join(ws, 'lib/b.js'), 'b = 2\n'));
    const del = await source('del', async (ws) => fs.rm(path.join(ws, 'lib/b.js')));
    const other = await source('other', async (ws) => fs.writeFile(path.join(ws, 'x.txt'), 'x\n'));
    const fail = await mergeAll(path.join(tmp, 'fail'), [mod, del, other], 'fail', { baseTree: base });
    expect(fail.ok).toBe(false);
    expect(fail.conflicts).toEqual([{ path: 'lib/b.js', streams: ['mod', 'del'] }]);
    expect(fail.details[0]?.versions.map((v) => `${v.stream}:${v.kind}`)).toEqual(['mod:file', 'del:deleted']);
    expect(fail.details[0]?.base).toBe(path.join(base.tree, 'lib/b.js'));

    const first = await mergeAll(path.join(tmp, 'first'), [mod, del, other], 'first', { baseTree: base });
    expect(await fs.readFile(path.join(tmp, 'first/lib/b.js'), 'utf8')).toBe('b = 2\n');
    expect(first.deleted).toEqual([]);
    await mergeAll(path.join(tmp, 'last'), [mod, del, other], 'last', { baseTree: base });
    expect(await exists(path.join(tmp, 'last/lib/b.js'))).toBe(false);
    await mergeAll(path.join(tmp, 'kb'), [del, mod], 'keep-both', { baseTree: base });
    expect(await fs.readFile(path.join(tmp, 'kb/lib/b.js'), 'utf8')).toBe('b = 2\n');
    const tw = await mergeAll(path.join(tmp, 'tw'), [mod, del], 'three-way', { baseTree: base });
    expect(tw.ok).toBe(false);
  });

  it('three-way merges edits of one file against the snapshot, labelled by the streams that made them', async () => {
    const a = await source('a', async (ws) => fs.writeFile(path.join(ws, 'doc.txt'), 'ONE\ntwo\nthree\n'));
    const b = await source('b', async (ws) => fs.writeFile(path.join(ws, 'doc.txt'), 'one\ntwo\nTHREE\n'));
    const c = await source('c', async (ws) => fs.writeFile(path.join(ws, 'other.txt'), 'c\n'));
    await fs.writeFile(path.join(baseDir, 'doc.txt'), 'the user changed the base meanwhile\n');
    const r = await mergeAll(path.join(tmp, 'tw'), [a, c, b], 'three-way', { baseTree: base });
    expect(r).toMatchObject({ ok: true, conflicts: [] });
    expect(await fs.readFile(path.join(tmp, 'tw/doc.txt'), 'utf8')).toBe('ONE\ntwo\nTHREE\n');
    const d = await source('d', async (ws) => fs.writeFile(path.join(ws, 'doc.txt'), 'uno\ntwo\nthree\n'));
    const bad = await mergeAll(path.join(tmp, 'tw2'), [a, c, d], 'three-way', { baseTree: base });
    expect(bad.ok).toBe(false);
    expect(bad.details[0]?.text?.toString()).toBe('<<<<<<< a\nONE\n=======\nuno\n>>>>>>> d\ntwo\nthree\n');
  });

  it("progressive: each stream's changes go onto the base, judged against earlier changes only", async () => {
    const target = path.join(tmp, 'converged', 'prog');
    const a = await source('a', async (ws) => {
      await fs.writeFile(path.join(ws, 'doc.txt'), 'ONE\ntwo\nthree\n');
      await fs.rm(path.join(ws, 'lib/b.js'));
    });
    const b = await source('b', async (ws) => fs.writeFile(path.join(ws, 'lib/a.js'), 'a = 2\n'));
    const c = await source('c', async (ws) => fs.writeFile(path.join(ws, 'lib/b.js'), 'b = 3\n'));
    const d = await source('d', async (ws) => fs.writeFile(path.join(ws, 'doc.txt'), 'D\n'));
    expect(await mergeOne(target, a, 'fail', { baseTree: base })).toMatchObject({ ok: true, deleted: ['lib/b.js'] });
    expect((await readTree(target))['lib/sub/c.js']).toBe('c = 1\n');
    expect(await mergeOne(target, b, 'fail', { baseTree: base })).toMatchObject({ ok: true, conflicts: [] });
    const rc = await mergeOne(target, c, 'fail', { baseTree: base });
    expect(rc.conflicts).toEqual([{ path: 'lib/b.js', streams: ['a', 'c'] }]);
    const rd = await mergeOne(target, d, 'fail', { baseTree: base });
    expect(rd.conflicts).toEqual([{ path: 'doc.txt', streams: ['a', 'd'] }]);
    const tree = await readTree(target);
    expect(tree['doc.txt']).toBe('ONE\ntwo\nthree\n');
    expect(tree['lib/a.js']).toBe('a = 2\n');
    expect(tree).not.toHaveProperty('lib/b.js');
  });
});
