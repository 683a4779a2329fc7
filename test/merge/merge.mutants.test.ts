/** The merge entry points: what they refuse as a target, the caller's record of earlier merges, deletions on a progressive target. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import path from 'node:path';
import { snapshotBase, type BaseTree } from '../../src/workspace/basetree.js';
import { seedWorkspace } from '../../src/workspace/seed.js';
import { detectChanges } from '../../src/workspace/changes.js';
import { mergeAll, mergeOne, MergedPaths, type MergeSource } from '../../src/merge/merge.js';
import { WorkspaceError } from '../../src/workspace/root.js';
import { exists, makeSource, makeTemp, readTree, removeTemp, writeTree } from '../workspace/fsfix.js';

let tmp: string;
let target: string;
beforeEach(async () => {
  tmp = await makeTemp();
  target = path.join(tmp, 'converged', 'point');
});
afterEach(async () => {
  await removeTemp(tmp);
});

describe('targets a merge refuses', () => {
  it('mergeAll: a dangling symbolic link at the target counts as existing; nothing is written through it', async () => {
    await fs.mkdir(path.dirname(target), { recursive: true });
    const where = path.join(tmp, 'elsewhere');
    await fs.symlink(where, target);
    const a = await makeSource(tmp, 'a', { 'x.txt': 'x' });
    await expect(mergeAll(target, [a], 'fail')).rejects.toThrow(WorkspaceError);
    await expect(mergeAll(target, [a], 'fail')).rejects.toThrow(/already exists/);
    expect(await exists(where)).toBe(false);
    expect(await fs.readlink(target)).toBe(where);
    expect((await fs.readdir(path.dirname(target))).sort()).toEqual(['point']); // no staging left
  });

  it('mergeOne: a regular file is not a directory, and stays as it was', async () => {
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, 'a file');
    const a = await makeSource(tmp, 'a', { 'x.txt': 'x' });
    await expect(mergeOne(target, a, 'first')).rejects.toThrow(`merge target ${target} is not a directory`);
    expect(await fs.readFile(target, 'utf8')).toBe('a file');
  });

  it('mergeOne: a symbolic link to a directory is refused as a link; nothing lands in the directory', async () => {
    const real = path.join(tmp, 'real');
    await fs.mkdir(real);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.symlink(real, target);
    const a = await makeSource(tmp, 'a', { 'x.txt': 'x' });
    await expect(mergeOne(target, a, 'first')).rejects.toThrow(`merge target ${target} is a symbolic link`);
    expect(await fs.readdir(real)).toEqual([]);
  });
});

describe("the caller's record of earlier merges (opts.prior)", () => {
  it('mergeOne records into it and judges later streams against it', async () => {
    const prior = new MergedPaths();
    const a = await makeSource(tmp, 'a', { 'r.txt': 'A' });
    expect(await mergeOne(target, a, 'fail', { prior })).toMatchObject({ ok: true, merged: ['a'] });
    expect(prior.streamsAt('r.txt')).toEqual(['a']);
    const b = await makeSource(tmp, 'b', { 'r.txt': 'B' });
    const rb = await mergeOne(target, b, 'fail', { prior });
    expect(rb.conflicts).toEqual([{ path: 'r.txt', streams: ['a', 'b'] }]);
  });

  it('mergeAll fills it with what the merge wrote', async () => {
    const prior = new MergedPaths();
    const a = await makeSource(tmp, 'a', { 'one.txt': '1' });
    const b = await makeSource(tmp, 'b', { 'two.txt': '2' });
    expect(await mergeAll(target, [a, b], 'fail', { prior })).toMatchObject({ ok: true, merged: ['a', 'b'] });
    expect(prior.streamsAt('one.txt')).toEqual(['a']);
    expect(prior.streamsAt('two.txt')).toEqual(['b']);
  });
});

describe('progressive merges on a base', () => {
  let base: BaseTree;
  beforeEach(async () => {
    const repo = path.join(tmp, 'repo');
    await writeTree(repo, { 'doc.txt': 'doc\n', 'lib/a.js': 'a\n', 'keep.txt': 'k\n' });
    base = await snapshotBase(repo, path.join(tmp, 'run', 'bases', 'b1'));
  });
  const stream = async (id: string, edit: (ws: string) => Promise<void>): Promise<MergeSource> => {
    const ws = path.join(tmp, 'ws', id);
    await fs.mkdir(ws, { recursive: true });
    const seed = await seedWorkspace(base, ws);
    await edit(ws);
    return { stream: id, dir: ws, outputs: [], changes: await detectChanges({ stream: id, dir: ws, outputs: [] }, base, seed) };
  };

  it("a later stream's deletion removes the path from the target, and an emptied directory with it", async () => {
    const a = await stream('a', async (ws) => fs.writeFile(path.join(ws, 'new.txt'), 'n\n'));
    const b = await stream('b', async (ws) => {
      await fs.rm(path.join(ws, 'doc.txt'));
      await fs.rm(path.join(ws, 'lib'), { recursive: true });
    });
    expect(await mergeOne(target, a, 'fail', { baseTree: base })).toMatchObject({ ok: true, deleted: [] });
    expect(await readTree(target)).toEqual({ 'doc.txt': 'doc\n', 'keep.txt': 'k\n', 'lib/a.js': 'a\n', 'new.txt': 'n\n' });
    expect(await mergeOne(target, b, 'fail', { baseTree: base })).toMatchObject({ ok: true, deleted: ['doc.txt', 'lib/a.js'] });
    expect(await readTree(target)).toEqual({ 'keep.txt': 'k\n', 'new.txt': 'n\n' });
  });
});

describe('a barrier target that appears while the merge is built', () => {
  it('two merges into one directory named by two paths: one is published, the other fails and leaves no staging directory', async () => {
    // `converged` and `alias` are one directory under two names, so the two merges are not
    // queued behind each other: both find no target, and the second rename meets the first's
    const real = path.dirname(target);
    await fs.mkdir(real, { recursive: true });
    const alias = path.join(tmp, 'alias');
    await fs.symlink(real, alias);
    const a = await makeSource(tmp, 'a', { 'x.txt': 'from a\n' });
    const b = await makeSource(tmp, 'b', { 'y.txt': 'from b\n' });
    const prior = new MergedPaths();
    const outcomes = await Promise.allSettled([mergeAll(target, [a], 'fail', { prior }), mergeAll(path.join(alias, 'point'), [b], 'fail')]);
    const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect(failed[0]?.reason).toBeInstanceOf(WorkspaceError);
    expect(String(failed[0]?.reason)).toMatch(/cannot move the merge into .*point: /);
    expect((await fs.readdir(real)).sort()).toEqual(['point']);
    const tree = await readTree(target);
    const winner = outcomes[0]?.status === 'fulfilled' ? 'a' : 'b';
    expect(tree).toEqual(winner === 'a' ? { 'x.txt': 'from a\n' } : { 'y.txt': 'from b\n' });
    // the loser recorded nothing in the registry it was given
    expect(prior.streamsAt(winner === 'a' ? 'x.txt' : 'y.txt')).toEqual(winner === 'a' ? ['a'] : []);
  });
});
