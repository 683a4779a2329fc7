import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ConflictPolicy } from '../../src/plan/types.js';
import { mergeOne, MergeLimitError, type MergeSource } from '../../src/merge/merge.js';
import { WorkspaceError } from '../../src/workspace/root.js';
import { exists, makeSource, makeTemp, modeOf, readTree, removeTemp, type FileSpec } from '../workspace/fsfix.js';

let tmp: string;
let target: string;
beforeEach(async () => {
  tmp = await makeTemp();
  target = path.join(tmp, 'converged', 'point');
});
afterEach(async () => {
  await removeTemp(tmp);
});

/** A stream's workspace holding `files`, as a merge source. */
const source = (stream: string, files: Record<string, FileSpec>, outputs: string[] = []): Promise<MergeSource> => makeSource(tmp, stream, files, outputs);

/** Every name in the tree, including hidden ones, so leftovers of temp files show. */
async function allNames(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(root, { recursive: true })) out.push(String(e));
  return out.sort();
}

describe('mergeOne (progressive)', () => {
  it('creates the target (0700) and adds each stream as it comes', async () => {
    const a = await source('a', { 'notes/a.md': 'A', 'run.sh': { content: 'x', mode: 0o750 } });
    const b = await source('b', { 'notes/b.md': 'B', 'out/b/deep.txt': 'D', 'empty': { dir: true } });
    const ra = await mergeOne(target, a, 'fail');
    expect(ra).toEqual({ ok: true, merged: ['a'], files: 2, conflicts: [], skipped: [], renamed: [], markers: [], deleted: [], details: [] });
    expect(await modeOf(target)).toBe(0o700);
    const rb = await mergeOne(target, b, 'fail');
    expect(rb.merged).toEqual(['b']);
    expect(rb.files).toBe(3);
    expect(await readTree(target)).toEqual({
      empty: '<dir>',
      'notes/a.md': 'A',
      'notes/b.md': 'B',
      'out/b/deep.txt': 'D',
      'run.sh': 'x',
    });
    expect(await modeOf(path.join(target, 'run.sh'))).toBe(0o750);
    expect((await allNames(target)).filter((n) => n.includes('.coord-tmp-'))).toEqual([]);
  });

  it('under fail, a conflicting stream contributes nothing and earlier content stays', async () => {
    await mergeOne(target, await source('a', { 'report.txt': 'from a', 'a-only': 'a' }), 'fail');
    const b = await source('b', { 'report.txt': 'from b', 'b-only': 'b', 'new/dir/file': 'n' });
    const r = await mergeOne(target, b, 'fail');
    expect(r.ok).toBe(false);
    expect(r.merged).toEqual([]);
    expect(r.files).toBe(0);
    expect(r.conflicts).toEqual([{ path: 'report.txt', streams: ['a', 'b'] }]);
    expect(await readTree(target)).toEqual({ 'a-only': 'a', 'report.txt': 'from a' });
  });

  it('identical content already in the target is not a conflict', async () => {
    await mergeOne(target, await source('a', { 'same.txt': 'x', 'l': { link: 'same.txt' } }), 'fail');
    const r = await mergeOne(target, await source('b', { 'same.txt': 'x', 'l': { link: 'same.txt' }, 'b': 'b' }), 'fail');
    expect(r.ok).toBe(true);
    expect(r.conflicts).toEqual([]);
    expect(r.files).toBe(1);
  });

  it('first, last and keep-both against what the target holds', async () => {
    const a = await source('a', { 'a/b.txt': 'A' });
    const b = await source('b', { 'a/b.txt': 'B', 'a/c.txt': 'C' });
    const first = path.join(tmp, 'first');
    await mergeOne(first, a, 'first');
    expect((await mergeOne(first, b, 'first')).conflicts).toEqual([{ path: 'a/b.txt', streams: ['a', 'b'] }]);
    expect(await readTree(first)).toEqual({ 'a/b.txt': 'A', 'a/c.txt': 'C' });

    const last = path.join(tmp, 'last');
    await mergeOne(last, a, 'last');
    await mergeOne(last, b, 'last');
    expect(await readTree(last)).toEqual({ 'a/b.txt': 'B', 'a/c.txt': 'C' });

    const kb = path.join(tmp, 'kb');
    await mergeOne(kb, a, 'keep-both');
    const r = await mergeOne(kb, b, 'keep-both');
    expect(r.renamed).toEqual([{ path: 'a/b.txt', stream: 'b', as: 'a/b.b.txt' }]);
    expect(await readTree(kb)).toEqual({ 'a/b.txt': 'A', 'a/b.b.txt': 'B', 'a/c.txt': 'C' });
    // A third version finds a.b.txt's new sibling taken and picks the next free name.
    const b2 = await source('b2', { 'a/b.txt': 'B2' });
    await fs.writeFile(path.join(kb, 'a', 'b.b2.txt'), 'someone else');
    expect((await mergeOne(kb, b2, 'keep-both')).renamed).toEqual([{ path: 'a/b.txt', stream: 'b2', as: 'a/b.b2.2.txt' }]);
  });

  it('a file against a directory: last replaces either way, first keeps', async () => {
    const file = await source('f', { out: 'a file' });
    const dir = await source('d', { 'out/x.txt': 'x' });
    const t1 = path.join(tmp, 't1');
    await mergeOne(t1, file, 'last');
    expect((await mergeOne(t1, dir, 'last')).conflicts).toEqual([{ path: 'out', streams: ['f', 'd'] }]);
    expect(await readTree(t1)).toEqual({ 'out/x.txt': 'x' });
    await mergeOne(t1, file, 'last');
    expect(await readTree(t1)).toEqual({ out: 'a file' });

    const t2 = path.join(tmp, 't2');
    await mergeOne(t2, dir, 'first');
    await mergeOne(t2, file, 'first');
    expect(await readTree(t2)).toEqual({ 'out/x.txt': 'x' });
    expect((await mergeOne(t2, file, 'fail')).ok).toBe(false);
  });

  it('never writes through a symbolic link already in the target', async () => {
    const outside = path.join(tmp, 'outside');
    await fs.mkdir(outside);
    await fs.writeFile(path.join(outside, 'victim'), 'untouched');
    await fs.mkdir(target, { recursive: true });
    // Put there by someone else (a dependent reading $COORD_INPUTS, say).
    await fs.symlink(outside, path.join(target, 'evil'));
    await fs.symlink(path.join(outside, 'victim'), path.join(target, 'victim'));
    const s = await source('s', { 'evil/file.txt': 'payload', victim: 'payload' });

    const fail = await mergeOne(target, s, 'fail');
    expect(fail.ok).toBe(false);
    expect(fail.conflicts.map((c) => c.path)).toEqual(['evil', 'victim']);
    expect((await mergeOne(target, s, 'first')).files).toBe(0);
    expect(await fs.readdir(outside)).toEqual(['victim']);

    const last = await mergeOne(target, s, 'last');
    expect(last.ok).toBe(true);
    expect(await readTree(target)).toEqual({ 'evil/file.txt': 'payload', victim: 'payload' });
    expect(await fs.readdir(outside)).toEqual(['victim']);
    expect(await fs.readFile(path.join(outside, 'victim'), 'utf8')).toBe('untouched');
  });

  it('treats a case-only difference as a conflict on a case-insensitive target', async () => {
    await mergeOne(target, await source('a', { 'README.md': 'A', 'Docs/x': 'x' }), 'fail', { caseInsensitive: true });
    const b = await source('b', { 'readme.md': 'B', 'docs/y': 'y' });
    const r = await mergeOne(target, b, 'fail', { caseInsensitive: true });
    expect(r.conflicts).toEqual([{ path: 'README.md', streams: ['a', 'b'] }]);
    const kept = await mergeOne(target, b, 'first', { caseInsensitive: true });
    expect(kept.ok).toBe(true);
    expect(await readTree(target)).toEqual({ 'Docs/x': 'x', 'Docs/y': 'y', 'README.md': 'A' });
  });

  it('over a limit, throws and writes nothing of that stream', async () => {
    await mergeOne(target, await source('a', { keep: 'k' }), 'fail');
    const b = await source('b', { f1: '1', f2: '2', f3: '3' });
    const err = await mergeOne(target, b, 'fail', { limits: { maxFiles: 2 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MergeLimitError);
    expect((err as Error).message).toMatch(/stream "b".*3 files.*maxFiles is 2/);
    expect(await readTree(target)).toEqual({ keep: 'k' });
  });

  it('refuses a target that is a symbolic link', async () => {
    await fs.mkdir(path.join(tmp, 'real'));
    await fs.symlink(path.join(tmp, 'real'), path.join(tmp, 'link'));
    await expect(mergeOne(path.join(tmp, 'link'), await source('a', { f: 'x' }), 'fail')).rejects.toBeInstanceOf(WorkspaceError);
    expect(await fs.readdir(path.join(tmp, 'real'))).toEqual([]);
  });

  it('serializes concurrent merges into one target, so a conflict is never missed', async () => {
    const a = await source('a', { 'x.txt': 'A' });
    const b = await source('b', { 'x.txt': 'B' });
    const [ra, rb] = await Promise.all([mergeOne(target, a, 'fail'), mergeOne(target, b, 'fail')]);
    expect([ra.ok, rb.ok]).toEqual([true, false]);
    expect(await readTree(target)).toEqual({ 'x.txt': 'A' });
  });

  it('throws for an unknown policy or a base that is not a directory, creating nothing', async () => {
    const a = await source('a', { f: 'x' });
    await expect(mergeOne(target, a, 'theirs' as ConflictPolicy)).rejects.toThrow(/unknown conflict policy "theirs"/);
    const rules = { default: 'fail' as const, paths: [{ glob: '*.md', policy: 'three-way' as const }] };
    await expect(mergeOne(target, a, rules, { base: path.join(a.dir, 'f') })).rejects.toThrow(/merge base/);
    expect(await exists(target)).toBe(false);
  });
});
