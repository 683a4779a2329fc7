import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ConflictPolicy } from '../../src/plan/types.js';
import { mergeAll, MergeLimitError, type MergeSource } from '../../src/merge/merge.js';
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

/** Nothing but `expected` names next to the target (no staging directory left behind). */
async function siblings(): Promise<string[]> {
  return (await exists(path.dirname(target))) ? (await fs.readdir(path.dirname(target))).sort() : [];
}

describe('mergeAll (barrier)', () => {
  it('merges every stream into a new target, keeping modes and inside links', async () => {
    const a = await source('a', { 'bin/run.sh': { content: '#!/bin/sh\n', mode: 0o755 }, 'notes/a.md': 'A' });
    const b = await source('b', {
      'notes/b.md': 'B',
      'private.key': { content: 'k', mode: 0o600 },
      'latest': { link: 'notes/b.md' },
      'empty': { dir: true },
    });
    const r = await mergeAll(target, [a, b], 'fail');
    expect(r).toEqual({ ok: true, merged: ['a', 'b'], files: 6, conflicts: [], skipped: [], renamed: [], markers: [], deleted: [], details: [] });
    expect(await readTree(target)).toEqual({
      'bin/run.sh': '#!/bin/sh\n',
      empty: '<dir>',
      latest: '-> notes/b.md',
      'notes/a.md': 'A',
      'notes/b.md': 'B',
      'private.key': 'k',
    });
    expect(await modeOf(path.join(target, 'bin/run.sh'))).toBe(0o755);
    expect(await modeOf(path.join(target, 'private.key'))).toBe(0o600);
    expect(await modeOf(target)).toBe(0o700);
    expect(await siblings()).toEqual(['point']);
  });

  it('copies large files whole and drops set-id bits', async () => {
    const big = 'y'.repeat(1024 * 1024 + 17);
    const a = await source('a', { 'big.bin': { content: big, mode: 0o640 }, 'tool': { content: 't', mode: 0o755 } });
    await fs.chmod(path.join(a.dir, 'tool'), 0o4755);
    await mergeAll(target, [a], 'fail');
    expect(await fs.readFile(path.join(target, 'big.bin'), 'utf8')).toBe(big);
    expect(await modeOf(path.join(target, 'big.bin'))).toBe(0o640);
    expect((await fs.lstat(path.join(target, 'tool'))).mode & 0o7777).toBe(0o755);
  });

  it('under fail, a conflict writes nothing at all and names the streams', async () => {
    const a = await source('a', { 'same.txt': 'x', 'out.txt': 'from a', 'only-a': '1' });
    const b = await source('b', { 'same.txt': 'x', 'out.txt': 'from b', 'only-b': '2' });
    const r = await mergeAll(target, [a, b], 'fail');
    expect(r.ok).toBe(false);
    expect(r.merged).toEqual([]);
    expect(r.files).toBe(0);
    expect(r.conflicts).toEqual([{ path: 'out.txt', streams: ['a', 'b'] }]);
    expect(await exists(target)).toBe(false);
    expect(await siblings()).toEqual([]);
  });

  it('identical content is never a conflict', async () => {
    const big = 'x'.repeat(3 * 1024 * 1024);
    const a = await source('a', { 'big.bin': big, 'link': { link: 'big.bin' }, 'd/e': 'e' });
    const b = await source('b', { 'big.bin': big, 'link': { link: 'big.bin' }, 'd/e': 'e' });
    const r = await mergeAll(target, [a, b], 'fail');
    expect(r.ok).toBe(true);
    expect(r.conflicts).toEqual([]);
    expect(r.files).toBe(3);
    expect((await fs.stat(path.join(target, 'big.bin'))).size).toBe(big.length);
  });

  it('same size, different bytes is a conflict', async () => {
    const a = await source('a', { 'f': 'x'.repeat(5000) + 'a' });
    const b = await source('b', { 'f': 'x'.repeat(5000) + 'b' });
    const r = await mergeAll(target, [a, b], 'fail');
    expect(r.conflicts).toEqual([{ path: 'f', streams: ['a', 'b'] }]);
  });

  it('first keeps the earlier version, last the later one', async () => {
    const a = await source('a', { 'a/b.txt': 'A', 'keep': 'k' });
    const b = await source('b', { 'a/b.txt': 'B' });
    const c = await source('c', { 'a/b.txt': 'C' });
    const first = await mergeAll(target, [a, b, c], 'first');
    expect(first.ok).toBe(true);
    expect(first.conflicts).toEqual([{ path: 'a/b.txt', streams: ['a', 'b', 'c'] }]);
    expect(await readTree(target)).toEqual({ 'a/b.txt': 'A', keep: 'k' });
    const last = await mergeAll(path.join(tmp, 'last'), [a, b, c], 'last');
    expect(last.ok).toBe(true);
    expect(await readTree(path.join(tmp, 'last'))).toEqual({ 'a/b.txt': 'C', keep: 'k' });
  });

  it('keep-both renames each later differing version name.<stream>.ext', async () => {
    const a = await source('a', { 'a/b.txt': 'A', 'Makefile': 'ma', '.env': 'ea' });
    const b = await source('b', { 'a/b.txt': 'B', 'Makefile': 'mb', '.env': 'ea' });
    const c = await source('s3', { 'a/b.txt': 'C' });
    const r = await mergeAll(target, [a, b, c], 'keep-both');
    expect(r.ok).toBe(true);
    expect(r.renamed).toEqual([
      { path: 'Makefile', stream: 'b', as: 'Makefile.b' },
      { path: 'a/b.txt', stream: 'b', as: 'a/b.b.txt' },
      { path: 'a/b.txt', stream: 's3', as: 'a/b.s3.txt' },
    ]);
    expect(await readTree(target)).toEqual({
      '.env': 'ea',
      Makefile: 'ma',
      'Makefile.b': 'mb',
      'a/b.txt': 'A',
      'a/b.b.txt': 'B',
      'a/b.s3.txt': 'C',
    });
  });

  it('keep-both does not overwrite a name that is already taken', async () => {
    const a = await source('a', { 'r.txt': 'A', 'r.b.txt': 'mine' });
    const b = await source('b', { 'r.txt': 'B' });
    const r = await mergeAll(target, [a, b], 'keep-both');
    expect(r.renamed).toEqual([{ path: 'r.txt', stream: 'b', as: 'r.b.2.txt' }]);
    expect(await readTree(target)).toEqual({ 'r.txt': 'A', 'r.b.txt': 'mine', 'r.b.2.txt': 'B' });
  });

  it('a file where another stream has a directory is a conflict', async () => {
    const a = await source('a', { 'out': 'a file' });
    const b = await source('b', { 'out/report.txt': 'r', 'out/x/y': 'y' });
    const fail = await mergeAll(target, [a, b], 'fail');
    expect(fail.conflicts).toEqual([{ path: 'out', streams: ['a', 'b'] }]);
    expect(await exists(target)).toBe(false);

    await mergeAll(path.join(tmp, 'first'), [a, b], 'first');
    expect(await readTree(path.join(tmp, 'first'))).toEqual({ out: 'a file' });
    await mergeAll(path.join(tmp, 'last'), [a, b], 'last');
    expect(await readTree(path.join(tmp, 'last'))).toEqual({ 'out/report.txt': 'r', 'out/x/y': 'y' });
    const kb = await mergeAll(path.join(tmp, 'kb'), [b, a], 'keep-both');
    expect(await readTree(path.join(tmp, 'kb'))).toEqual({ 'out/report.txt': 'r', 'out/x/y': 'y', 'out.a': 'a file' });
    expect(kb.renamed).toEqual([{ path: 'out', stream: 'a', as: 'out.a' }]);
  });

  it('a file versus a symbolic link is a conflict of kind', async () => {
    const a = await source('a', { 'f': 'x', 'g': 'g' });
    const b = await source('b', { 'f': { link: 'g' }, 'g': 'g' });
    const r = await mergeAll(target, [a, b], 'fail');
    expect(r.conflicts).toEqual([{ path: 'f', streams: ['a', 'b'] }]);
  });

  it('never brings links that lead outside, nor what they point to, into the target', async () => {
    const a = await source('a', {
      'ok.txt': 'fine',
      'out': { link: '/' },
      'x': { link: '/etc/passwd' },
      'deep/up': { link: '../..' },
      'etc': { link: '/etc' },
    });
    const r = await mergeAll(target, [a], 'fail');
    expect(r.ok).toBe(true);
    expect(r.skipped.map((s) => [s.rel, s.reason, s.stream])).toEqual([
      ['deep/up', 'symlink-outside', 'a'],
      ['etc', 'symlink-outside', 'a'],
      ['out', 'symlink-outside', 'a'],
      ['x', 'symlink-outside', 'a'],
    ]);
    const tree = await readTree(target);
    expect(tree).toEqual({ deep: '<dir>', 'ok.txt': 'fine' });
    expect(Object.values(tree).join('\n')).not.toMatch(/root:/);
  });

  it('merges only what outputs select', async () => {
    const a = await source('a', { 'notes/a.md': 'a', 'scratch/tmp': 't' }, ['notes/**']);
    const b = await source('b', { 'notes/b.md': 'b', 'build/x': 'x' }, ['notes']);
    await mergeAll(target, [a, b], 'fail');
    expect(await readTree(target)).toEqual({ 'notes/a.md': 'a', 'notes/b.md': 'b' });
  });

  it('treats names differing only by case as one path on a case-insensitive target', async () => {
    const a = await source('a', { 'README.md': 'A', 'Docs/x': 'x' });
    const b = await source('b', { 'readme.md': 'B', 'docs/y': 'y' });
    const ci = await mergeAll(target, [a, b], 'fail', { caseInsensitive: true });
    expect(ci.conflicts).toEqual([{ path: 'README.md', streams: ['a', 'b'] }]);
    expect(await exists(target)).toBe(false);

    const kept = await mergeAll(target, [a, b], 'first', { caseInsensitive: true });
    expect(kept.ok).toBe(true);
    expect(await readTree(target)).toEqual({ 'Docs/x': 'x', 'Docs/y': 'y', 'README.md': 'A' });

    const cs = await mergeAll(path.join(tmp, 'cs'), [a, b], 'fail', { caseInsensitive: false });
    expect(cs.conflicts).toEqual([]);
    expect(Object.keys(await readTree(path.join(tmp, 'cs')))).toEqual(['Docs/x', 'README.md', 'docs/y', 'readme.md']);
  });

  it('throws when the target already exists, for an unknown policy and for a missing base', async () => {
    const a = await source('a', { f: 'x' });
    await fs.mkdir(target, { recursive: true });
    await expect(mergeAll(target, [a], 'fail')).rejects.toThrow(/already exists/);
    const other = path.join(tmp, 'other', 'point');
    await expect(mergeAll(other, [a], 'merge' as ConflictPolicy)).rejects.toThrow(/unknown conflict policy "merge"/);
    await expect(mergeAll(other, [a], 'three-way', { base: path.join(tmp, 'nope') })).rejects.toThrow(/merge base/);
    expect(await exists(path.join(tmp, 'other'))).toBe(false);
  });

  it('over a limit, throws MergeLimitError naming the stream and writes nothing', async () => {
    const a = await source('a', { f1: '1', f2: '2' });
    const b = await source('b', { g1: '1', g2: '2' });
    const files = await mergeAll(target, [a, b], 'fail', { limits: { maxFiles: 3 } }).catch((e: unknown) => e);
    expect(files).toBeInstanceOf(MergeLimitError);
    expect((files as MergeLimitError).message).toMatch(/stream "b".*4 files.*maxFiles is 3/);
    expect(await exists(target)).toBe(false);
    expect(await siblings()).toEqual([]);

    const big = await source('big', { blob: 'x'.repeat(2048) });
    const bytes = await mergeAll(target, [a, big], 'fail', { limits: { maxBytes: 1024 } }).catch((e: unknown) => e);
    expect(bytes).toBeInstanceOf(MergeLimitError);
    expect((bytes as MergeLimitError).message).toMatch(/stream "big".*2050 bytes.*maxBytes is 1024/);
    expect(await exists(target)).toBe(false);
  });
});
