/** Check trees: the published merge built with the base linked from a pool, and the tamper check after a check. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import { lstatSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { snapshotBase, type BaseTree } from '../../src/workspace/basetree.js';
import { seedWorkspace } from '../../src/workspace/seed.js';
import { detectChanges } from '../../src/workspace/changes.js';
import { mergeAll, type MergeSource } from '../../src/merge/merge.js';
import { buildCheckTree, CheckPool, checkPool } from '../../src/verify/scratch.js';
import { exists, makeSource, makeTemp, readTree, removeTemp, writeTree, type FileSpec } from '../workspace/fsfix.js';

let tmp: string;
beforeEach(async () => {
  tmp = await makeTemp('coord-verify-');
});
afterEach(async () => {
  await removeTemp(tmp);
});

const BASE: Record<string, FileSpec> = {
  'a.txt': 'alpha\n',
  'lib/b.js': 'old b\n',
  'lib/run.sh': { content: '#!/bin/sh\n', mode: 0o755 },
  'lib/private.txt': { content: 'p\n', mode: 0o600 },
  'link-a': { link: 'a.txt' },
  'lib/up': { link: '../a.txt' },
  empty: { dir: true },
  'del.txt': 'to delete\n',
  'sub/del2.txt': 'to delete too\n',
  'sub/keep.txt': 'kept\n',
};

/** The base `BASE` and streams seeded from it, each running its `edit`, as merge sources in that order. */
async function setup(edits: Record<string, (ws: string) => Promise<void>>): Promise<{ base: BaseTree; sources: MergeSource[] }> {
  const repo = path.join(tmp, 'repo');
  await writeTree(repo, BASE);
  const base = await snapshotBase(repo, path.join(tmp, 'run', 'bases', 'b1'));
  const sources: MergeSource[] = [];
  for (const [stream, edit] of Object.entries(edits)) {
    const ws = path.join(tmp, 'ws', stream);
    await fs.mkdir(ws, { recursive: true });
    const seed = await seedWorkspace(base, ws);
    await edit(ws);
    sources.push({ stream, dir: ws, outputs: [], changes: await detectChanges({ stream, dir: ws, outputs: [] }, base, seed) });
  }
  return { base, sources };
}

const twoStreams = {
  s1: async (ws: string) => {
    await fs.writeFile(path.join(ws, 'lib', 'b.js'), 'new b\n');
    await fs.writeFile(path.join(ws, 'new1.txt'), 'one\n');
    await fs.rm(path.join(ws, 'del.txt'));
  },
  s2: async (ws: string) => {
    await fs.writeFile(path.join(ws, 'sub', 'new2.txt'), 'two\n');
    await fs.rm(path.join(ws, 'sub', 'del2.txt'));
    await fs.chmod(path.join(ws, 'sub', 'keep.txt'), 0o640);
  },
};

/** Every entry of a tree with its kind and permission bits (links: their text), never following links. */
async function shapes(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (rel: string): Promise<void> => {
    for (const name of (await fs.readdir(path.join(root, rel))).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await fs.lstat(path.join(root, r));
      const mode = (st.mode & 0o777).toString(8);
      if (st.isSymbolicLink()) out[r] = `link ${await fs.readlink(path.join(root, r))}`;
      else if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        await visit(r);
      } else out[r] = `file ${mode}`;
    }
  };
  await visit('');
  return out;
}

const ino = (p: string): number => lstatSync(p).ino;

describe('a check tree', () => {
  it('holds what mergeAll publishes: paths, content, modes, links, deletions', async () => {
    const { base, sources } = await setup(twoStreams);
    const published = path.join(tmp, 'converged', 'p');
    expect(await mergeAll(published, sources, 'fail', { baseTree: base })).toMatchObject({ ok: true });
    const pool = checkPool(base, path.join(tmp, 'run', 'verify', 'pool', 'b1'));
    const tree = await buildCheckTree(path.join(tmp, 'run', 'verify', 't1'), sources, 'fail', { pool });
    expect(tree.result).toMatchObject({ ok: true, merged: ['s1', 's2'], deleted: ['del.txt', 'sub/del2.txt'] });
    expect(await readTree(tree.dir)).toEqual(await readTree(published));
    expect(await shapes(tree.dir)).toEqual(await shapes(published));
    expect(await exists(path.join(tree.dir, 'del.txt'))).toBe(false);
    expect([...tree.linked].sort()).toEqual(['a.txt', 'lib/private.txt', 'lib/run.sh']);
  });

  it('links unchanged base files from the pool and copies what a stream changed', async () => {
    const { base, sources } = await setup(twoStreams);
    const pool = checkPool(base, path.join(tmp, 'pool'));
    const tree = await buildCheckTree(path.join(tmp, 't'), sources, 'fail', { pool });
    expect(ino(path.join(tree.dir, 'a.txt'))).toBe(ino(path.join(pool.tree, 'a.txt')));
    // the pool is a copy: the snapshot is never linked
    expect(ino(path.join(pool.tree, 'a.txt'))).not.toBe(ino(path.join(base.tree, 'a.txt')));
    for (const [rel, ws] of [
      ['lib/b.js', 's1'],
      ['sub/keep.txt', 's2'],
    ] as const) {
      const inTree = ino(path.join(tree.dir, rel));
      expect(inTree).not.toBe(ino(path.join(pool.tree, rel)));
      expect(inTree).not.toBe(ino(path.join(tmp, 'ws', ws, rel)));
    }
    // directories and links are the tree's own
    expect(ino(path.join(tree.dir, 'lib'))).not.toBe(ino(path.join(pool.tree, 'lib')));
    expect(lstatSync(path.join(tree.dir, 'link-a')).isSymbolicLink()).toBe(true);
  });

  it('the pool holds every entry the base lists, modes and links kept', async () => {
    const { base } = await setup({});
    const pool = checkPool(base, path.join(tmp, 'pool'));
    await pool.open();
    expect(await readTree(pool.tree)).toEqual(await readTree(base.tree));
    const files = (s: Record<string, string>) => Object.fromEntries(Object.entries(s).filter(([, v]) => !v.startsWith('dir')));
    expect(files(await shapes(pool.tree))).toEqual(files(await shapes(base.tree)));
  });

  it('is not written when the merge conflicts', async () => {
    const { base, sources } = await setup({
      s1: (ws) => fs.writeFile(path.join(ws, 'a.txt'), 'one\n'),
      s2: (ws) => fs.writeFile(path.join(ws, 'a.txt'), 'two\n'),
    });
    const tree = await buildCheckTree(path.join(tmp, 't'), sources, 'fail', { pool: checkPool(base, path.join(tmp, 'pool')) });
    expect(tree.result.ok).toBe(false);
    expect(await exists(tree.dir)).toBe(false);
    expect(tree.tamperCheck()).toEqual([]);
  });

  it('without a base is the plain merge, all copies', async () => {
    const a = await makeSource(tmp, 'a', { 'x.txt': 'x\n', 'd/y.txt': 'y\n' });
    const b = await makeSource(tmp, 'b', { 'z.txt': 'z\n' });
    const published = path.join(tmp, 'published');
    await mergeAll(published, [a, b], 'fail');
    const tree = await buildCheckTree(path.join(tmp, 't'), [a, b], 'fail');
    expect(await readTree(tree.dir)).toEqual(await readTree(published));
    expect(tree.linked).toEqual([]);
    expect(ino(path.join(tree.dir, 'x.txt'))).not.toBe(ino(path.join(a.dir, 'x.txt')));
    expect(tree.tamperCheck()).toEqual([]);
  });

  const shm = (() => {
    try {
      return statfsSync('/dev/shm').type === 0x01021994 ? '/dev/shm' : undefined;
    } catch {
      return undefined;
    }
  })();
  (shm !== undefined ? it : it.skip)('copies the base when the pool is on another file system', async () => {
    const { base, sources } = await setup(twoStreams);
    const other = await fs.mkdtemp(path.join(shm ?? '', 'coord-verify-pool-'));
    try {
      if (lstatSync(other).dev === lstatSync(tmp).dev) return;
      const published = path.join(tmp, 'published');
      await mergeAll(published, sources, 'fail', { baseTree: base });
      const tree = await buildCheckTree(path.join(tmp, 't'), sources, 'fail', { pool: checkPool(base, path.join(other, 'pool')) });
      expect(tree.linked).toEqual([]);
      expect(await readTree(tree.dir)).toEqual(await readTree(published));
      expect(await shapes(tree.dir)).toEqual(await shapes(published));
    } finally {
      await fs.rm(other, { recursive: true, force: true });
    }
  });
});

/** Writes `text` over the start of the file, in place (the same inode). */
async function writeInPlace(file: string, text: string): Promise<void> {
  const fh = await fs.open(file, 'r+');
  try {
    await fh.write(text, 0);
  } finally {
    await fh.close();
  }
}

describe('the tamper check', () => {
  it('reports a linked file the check wrote in place and restores the pool; the snapshot and later merges never see it', async () => {
    const { base, sources } = await setup(twoStreams);
    const pool = checkPool(base, path.join(tmp, 'pool'));
    const tree = await buildCheckTree(path.join(tmp, 't1'), sources, 'fail', { pool });
    await writeInPlace(path.join(tree.dir, 'a.txt'), 'ALPHA'); // same size: only the mtime shows it
    expect(await fs.readFile(path.join(pool.tree, 'a.txt'), 'utf8')).toBe('ALPHA\n');
    expect(await fs.readFile(path.join(base.tree, 'a.txt'), 'utf8')).toBe('alpha\n');

    expect(tree.tamperCheck()).toEqual(['a.txt']);
    expect(await fs.readFile(path.join(pool.tree, 'a.txt'), 'utf8')).toBe('alpha\n');
    expect(await shapes(pool.tree)).toEqual(await shapes(await poolOf(base, 'pool2')));
    expect(tree.tamperCheck()).toEqual(['a.txt']); // still this tree's finding; nothing more to restore

    const published = path.join(tmp, 'published');
    await mergeAll(published, sources, 'fail', { baseTree: base });
    expect(await fs.readFile(path.join(published, 'a.txt'), 'utf8')).toBe('alpha\n');
    const later = await buildCheckTree(path.join(tmp, 't2'), sources, 'fail', { pool });
    expect(await readTree(later.dir)).toEqual(await readTree(published));
    expect(later.tamperCheck()).toEqual([]);
  });

  it('reports a changed mode and a file grown by appending', async () => {
    const { base, sources } = await setup(twoStreams);
    const pool = checkPool(base, path.join(tmp, 'pool'));
    const tree = await buildCheckTree(path.join(tmp, 't1'), sources, 'fail', { pool });
    await fs.chmod(path.join(tree.dir, 'lib', 'run.sh'), 0o700);
    await fs.appendFile(path.join(tree.dir, 'lib', 'private.txt'), 'more\n');
    expect(tree.tamperCheck()).toEqual(['lib/private.txt', 'lib/run.sh']);
    expect((await fs.lstat(path.join(pool.tree, 'lib', 'run.sh'))).mode & 0o777).toBe(0o755);
    expect(await fs.readFile(path.join(pool.tree, 'lib', 'private.txt'), 'utf8')).toBe('p\n');
  });

  it('deleting, renaming or replacing linked files in the tree is no tamper, and new files stay in the tree', async () => {
    const { base, sources } = await setup(twoStreams);
    const pool = checkPool(base, path.join(tmp, 'pool'));
    const tree = await buildCheckTree(path.join(tmp, 't1'), sources, 'fail', { pool });
    await fs.rm(path.join(tree.dir, 'a.txt'));
    await fs.rename(path.join(tree.dir, 'lib', 'run.sh'), path.join(tree.dir, 'moved.sh'));
    await fs.writeFile(path.join(tree.dir, 'lib', '.tmp'), 'replaced\n');
    await fs.rename(path.join(tree.dir, 'lib', '.tmp'), path.join(tree.dir, 'lib', 'private.txt'));
    await fs.writeFile(path.join(tree.dir, 'made-by-check.txt'), 'out\n');
    expect(tree.tamperCheck()).toEqual([]);
    expect(await readTree(pool.tree)).toEqual(await readTree(base.tree));
    expect(await exists(path.join(pool.tree, 'made-by-check.txt'))).toBe(false);
    expect(await fs.readFile(path.join(tree.dir, 'made-by-check.txt'), 'utf8')).toBe('out\n');
  });

  it('every tree that linked a file written in place reports it', async () => {
    const { base, sources } = await setup(twoStreams);
    const pool = checkPool(base, path.join(tmp, 'pool'));
    const t1 = await buildCheckTree(path.join(tmp, 't1'), sources, 'fail', { pool });
    const t2 = await buildCheckTree(path.join(tmp, 't2'), sources.slice(0, 1), 'fail', { pool });
    await writeInPlace(path.join(t1.dir, 'a.txt'), 'X');
    expect(t2.tamperCheck()).toEqual(['a.txt']);
    expect(t1.tamperCheck()).toEqual(['a.txt']);
    const t3 = await buildCheckTree(path.join(tmp, 't3'), sources, 'fail', { pool });
    expect(await fs.readFile(path.join(t3.dir, 'a.txt'), 'utf8')).toBe('alpha\n');
    expect(t3.tamperCheck()).toEqual([]);
  });

  it('a pool found already made (a resumed run) is checked against the base and restored', async () => {
    const { base, sources } = await setup(twoStreams);
    const dir = path.join(tmp, 'pool');
    const first = new CheckPool(base, dir);
    await first.open();
    await writeInPlace(path.join(dir, 'a.txt'), 'X');
    await fs.rm(path.join(dir, 'link-a'));
    await fs.rm(path.join(dir, 'lib', 'run.sh'));
    const again = new CheckPool(base, dir);
    const tree = await buildCheckTree(path.join(tmp, 't'), sources, 'fail', { pool: again });
    expect(await readTree(dir)).toEqual(await readTree(base.tree));
    expect((await fs.lstat(path.join(dir, 'lib', 'run.sh'))).mode & 0o777).toBe(0o755);
    expect(tree.tamperCheck()).toEqual([]);
  });
});

/** A fresh pool of `base` (its shapes are what an untouched pool looks like). */
async function poolOf(base: BaseTree, name: string): Promise<string> {
  return new CheckPool(base, path.join(tmp, name)).open();
}
