import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import path from 'node:path';
import { mergeAll, mergeOne, type ConflictRules, type MergeSource } from '../../src/merge/merge.js';
import { exists, makeSource, makeTemp, modeOf, readTree, removeTemp, writeTree, type FileSpec } from '../workspace/fsfix.js';

let tmp: string;
let target: string;
let base: string;
beforeEach(async () => {
  tmp = await makeTemp();
  target = path.join(tmp, 'converged', 'point');
  base = path.join(tmp, 'base');
  await fs.mkdir(base);
});
afterEach(async () => {
  await removeTemp(tmp);
});

/** A stream's workspace holding `files`, as a merge source. */
const source = (stream: string, files: Record<string, FileSpec>, outputs: string[] = []): Promise<MergeSource> => makeSource(tmp, stream, files, outputs);

const lines = (...ls: string[]): string => ls.map((l) => `${l}\n`).join('');
const ORIGINAL = lines('one', 'two', 'three', 'four', 'five');

describe('three-way, barrier (mergeAll)', () => {
  it('merges two streams editing different lines of one file cleanly', async () => {
    await writeTree(base, { 'doc.txt': ORIGINAL });
    const a = await source('a', { 'doc.txt': lines('ONE', 'two', 'three', 'four', 'five'), 'a.txt': 'a' });
    const b = await source('b', { 'doc.txt': lines('one', 'two', 'three', 'four', 'FIVE'), 'b.txt': 'b' });
    const r = await mergeAll(target, [a, b], 'three-way', { base });
    expect(r).toEqual({ ok: true, merged: ['a', 'b'], files: 3, conflicts: [], skipped: [], renamed: [], markers: [], deleted: [], details: [] });
    expect(await readTree(target)).toEqual({ 'a.txt': 'a', 'b.txt': 'b', 'doc.txt': lines('ONE', 'two', 'three', 'four', 'FIVE') });
  });

  it('a real conflict with markers writes nothing, lists it, and gives the marked text and each side', async () => {
    await writeTree(base, { 'doc.txt': ORIGINAL });
    const a = await source('a', { 'doc.txt': lines('one', 'two', 'THREE by a', 'four', 'five') });
    const b = await source('b', { 'doc.txt': lines('one', 'two', 'three by b', 'four', 'five'), 'b.txt': 'b' });
    const r = await mergeAll(target, [a, b], 'three-way', { base });
    expect(r.ok).toBe(false);
    expect(r.merged).toEqual([]);
    expect(r.conflicts).toEqual([{ path: 'doc.txt', streams: ['a', 'b'] }]);
    expect(r.markers).toEqual(['doc.txt']);
    expect(r.files).toBe(0);
    expect(await exists(target)).toBe(false);
    expect(await fs.readdir(path.dirname(target))).toEqual([]);
    const [detail] = r.details;
    expect(detail?.text?.toString()).toBe(lines('one', 'two', '<<<<<<< a', 'THREE by a', '=======', 'three by b', '>>>>>>> b', 'four', 'five'));
    expect(detail?.versions.map((v) => [v.stream, v.kind, v.abs])).toEqual([
      ['a', 'file', path.join(a.dir, 'doc.txt')],
      ['b', 'file', path.join(b.dir, 'doc.txt')],
    ]);
    expect(detail?.base).toBe(path.join(base, 'doc.txt'));
  });

  it('with allowConflicts, a conflict with markers is ok', async () => {
    await writeTree(base, { 'doc.txt': ORIGINAL });
    const a = await source('a', { 'doc.txt': lines('one', 'A', 'three', 'four', 'five') });
    const b = await source('b', { 'doc.txt': lines('one', 'B', 'three', 'four', 'five') });
    const r = await mergeAll(target, [a, b], 'three-way', { base, allowConflicts: true });
    expect(r).toMatchObject({ ok: true, merged: ['a', 'b'], conflicts: [{ path: 'doc.txt', streams: ['a', 'b'] }], markers: ['doc.txt'] });
    expect(await fs.readFile(path.join(target, 'doc.txt'), 'utf8')).toContain('<<<<<<< a\nA\n=======\nB\n>>>>>>> b\n');
  });

  it('folds three streams left in completion order', async () => {
    await writeTree(base, { 'doc.txt': ORIGINAL });
    const a = await source('a', { 'doc.txt': lines('1', 'two', 'three', 'four', 'five') });
    const b = await source('b', { 'doc.txt': lines('one', 'two', '3', 'four', 'five') });
    const c = await source('c', { 'doc.txt': lines('one', 'two', 'three', 'four', '5') });
    const r = await mergeAll(target, [a, b, c], 'three-way', { base });
    expect(r.ok).toBe(true);
    expect(await fs.readFile(path.join(target, 'doc.txt'), 'utf8')).toBe(lines('1', 'two', '3', 'four', '5'));
    // A third version conflicting with the merge so far is labelled with the streams merged.
    const d = await source('d', { 'doc.txt': lines('one', 'two', 'three', 'four', 'cinq') });
    const r2 = await mergeAll(path.join(tmp, 'second'), [a, c, d], 'three-way', { base, allowConflicts: true });
    expect(r2.markers).toEqual(['doc.txt']);
    expect(await fs.readFile(path.join(tmp, 'second', 'doc.txt'), 'utf8')).toBe(
      lines('1', 'two', 'three', 'four', '<<<<<<< a+c', '5', '=======', 'cinq', '>>>>>>> d'),
    );
  });

  it('a file both streams added (absent from the base) merges against an empty base', async () => {
    const a = await source('a', { 'new.txt': lines('head', 'from a', 'tail') });
    const b = await source('b', { 'new.txt': lines('head', 'from b', 'tail') });
    const r = await mergeAll(target, [a, b], 'three-way', { base, allowConflicts: true });
    expect(r.markers).toEqual(['new.txt']);
    expect(await fs.readFile(path.join(target, 'new.txt'), 'utf8')).toBe(lines('head', '<<<<<<< a', 'from a', '=======', 'from b', '>>>>>>> b', 'tail'));
  });

  it('without a base, only identical regions merge cleanly', async () => {
    await writeTree(base, { 'doc.txt': ORIGINAL });
    const a = await source('a', { 'doc.txt': lines('ONE', 'two', 'three', 'four', 'five') });
    const b = await source('b', { 'doc.txt': lines('one', 'two', 'three', 'four', 'FIVE') });
    const withBase = await mergeAll(target, [a, b], 'three-way', { base });
    expect(withBase.markers).toEqual([]);
    const without = await mergeAll(path.join(tmp, 'nobase'), [a, b], 'three-way');
    expect(without.ok).toBe(false);
    expect(without.markers).toEqual(['doc.txt']);
    expect(await exists(path.join(tmp, 'nobase'))).toBe(false);
    expect(without.details[0]?.text?.toString()).toBe(
      lines('<<<<<<< a', 'ONE', 'two', 'three', 'four', 'five', '=======', 'one', 'two', 'three', 'four', 'FIVE', '>>>>>>> b'),
    );
  });

  it('a binary conflict is a plain conflict: nothing written, or the earlier version kept', async () => {
    await writeTree(base, { 'img.bin': 'base\0' });
    const a = await source('a', { 'img.bin': 'aaaa\0', 'doc.txt': 'a' });
    const b = await source('b', { 'img.bin': 'bbbb\0', 'b.txt': 'b' });
    const r = await mergeAll(target, [a, b], 'three-way', { base });
    expect(r).toMatchObject({ ok: false, merged: [], files: 0, markers: [], conflicts: [{ path: 'img.bin', streams: ['a', 'b'] }] });
    expect(await exists(target)).toBe(false);
    expect(await fs.readdir(path.dirname(target))).toEqual([]);

    const kept = await mergeAll(target, [a, b], 'three-way', { base, allowConflicts: true });
    expect(kept).toMatchObject({ ok: true, merged: ['a', 'b'], markers: [], conflicts: [{ path: 'img.bin', streams: ['a', 'b'] }] });
    expect(await readTree(target)).toEqual({ 'b.txt': 'b', 'doc.txt': 'a', 'img.bin': 'aaaa\0' });
  });

  it('a path whose text versions merge cleanly stays a conflict when a binary version also claimed it', async () => {
    await writeTree(base, { 'doc.txt': ORIGINAL });
    const a = await source('a', { 'doc.txt': lines('ONE', 'two', 'three', 'four', 'five') });
    const c = await source('c', { 'doc.txt': 'not\0text', 'c.txt': 'c' });
    const b = await source('b', { 'doc.txt': lines('one', 'two', 'three', 'four', 'FIVE') });
    const r = await mergeAll(target, [a, c, b], 'three-way', { base });
    expect(r).toMatchObject({ ok: false, files: 0, markers: [] });
    expect(r.conflicts).toEqual([{ path: 'doc.txt', streams: ['a', 'c', 'b'] }]);
    expect(await exists(target)).toBe(false);

    const kept = await mergeAll(target, [a, c, b], 'three-way', { base, allowConflicts: true });
    expect(kept).toMatchObject({ ok: true, merged: ['a', 'c', 'b'], markers: [] });
    expect(kept.conflicts).toEqual([{ path: 'doc.txt', streams: ['a', 'c', 'b'] }]);
    expect(await readTree(target)).toEqual({ 'c.txt': 'c', 'doc.txt': lines('ONE', 'two', 'three', 'four', 'FIVE') });
  });

  it('a NUL only after the first 8 KiB still counts as text; a binary base makes it unmergeable', async () => {
    const tail = `${'x'.repeat(9000)}\0\n`;
    const a = await source('a', { 'late.txt': `A\n${tail}`, 'b.txt': lines('A') });
    const b = await source('b', { 'late.txt': `B\n${tail}`, 'b.txt': lines('B') });
    await writeTree(base, { 'b.txt': 'bin\0ary' });
    const blocked = await mergeAll(target, [a, b], 'three-way', { base });
    expect(blocked).toMatchObject({ ok: false, files: 0, markers: ['late.txt'] });
    expect(blocked.conflicts.map((c) => c.path)).toEqual(['b.txt', 'late.txt']);
    expect(await exists(target)).toBe(false);

    const r = await mergeAll(target, [a, b], 'three-way', { base, allowConflicts: true });
    expect(r.markers).toEqual(['late.txt']);
    expect(await readTree(target)).toEqual({
      'b.txt': lines('A'),
      'late.txt': `<<<<<<< a\nA\n=======\nB\n>>>>>>> b\n${tail}`,
    });
  });

  it('a file against a directory or a link is a plain conflict', async () => {
    const a = await source('a', { out: 'a file', link: 'x', x: 'x' });
    const b = await source('b', { 'out/inner.txt': 'i', link: { link: 'x' }, x: 'x' });
    const r = await mergeAll(target, [a, b], 'three-way', { base });
    expect(r.ok).toBe(false);
    expect(r.conflicts.map((c) => c.path)).toEqual(['link', 'out']);
    expect(await exists(target)).toBe(false);
    await mergeAll(target, [a, b], 'three-way', { base, allowConflicts: true });
    expect(await readTree(target)).toEqual({ link: 'x', out: 'a file', x: 'x' });
  });

  it("keeps bytes that are not UTF-8, CRLF endings, and the first version's mode", async () => {
    const latin = (s: string): Buffer => Buffer.from(s, 'latin1');
    await fs.writeFile(path.join(base, 'l.txt'), latin('caf\xe9\r\nna\xefve\r\nend\r\n'));
    const a = await source('a', { 'l.txt': { content: '', mode: 0o640 } });
    const b = await source('b', { 'l.txt': '' });
    await fs.writeFile(path.join(a.dir, 'l.txt'), latin('CAF\xc9\r\nna\xefve\r\nend\r\n'));
    await fs.writeFile(path.join(b.dir, 'l.txt'), latin('caf\xe9\r\nna\xefve\r\nEND\xff\r\n'));
    const r = await mergeAll(target, [a, b], 'three-way', { base });
    expect(r.ok).toBe(true);
    expect(await fs.readFile(path.join(target, 'l.txt'))).toEqual(latin('CAF\xc9\r\nna\xefve\r\nEND\xff\r\n'));
    expect(await modeOf(path.join(target, 'l.txt'))).toBe(0o640);
  });

  it('never reads a base file through a link that leads outside the base', async () => {
    await fs.writeFile(path.join(tmp, 'secret.txt'), ORIGINAL);
    await fs.symlink(path.join(tmp, 'secret.txt'), path.join(base, 'doc.txt'));
    await writeTree(base, { 'inner.txt': ORIGINAL, 'via.txt': { link: 'inner.txt' } });
    const a = await source('a', { 'doc.txt': lines('ONE', 'two', 'three', 'four', 'five'), 'via.txt': lines('ONE', 'two', 'three', 'four', 'five') });
    const b = await source('b', { 'doc.txt': lines('one', 'two', 'three', 'four', 'FIVE'), 'via.txt': lines('one', 'two', 'three', 'four', 'FIVE') });
    const r = await mergeAll(target, [a, b], 'three-way', { base, allowConflicts: true });
    expect(r.markers).toEqual(['doc.txt']); // its base counted as absent
    expect(await fs.readFile(path.join(target, 'via.txt'), 'utf8')).toBe(lines('ONE', 'two', 'three', 'four', 'FIVE'));
  });
});

describe('three-way, progressive (mergeOne)', () => {
  it('merges a stream with what the target holds', async () => {
    await writeTree(base, { 'doc.txt': ORIGINAL });
    await mergeOne(target, await source('a', { 'doc.txt': lines('ONE', 'two', 'three', 'four', 'five') }), 'three-way', { base });
    const b = await source('b', { 'doc.txt': lines('one', 'two', 'three', 'four', 'FIVE'), 'b.txt': 'b' });
    const r = await mergeOne(target, b, 'three-way', { base });
    expect(r).toEqual({ ok: true, merged: ['b'], files: 2, conflicts: [], skipped: [], renamed: [], markers: [], deleted: [], details: [] });
    expect(await readTree(target)).toEqual({ 'b.txt': 'b', 'doc.txt': lines('ONE', 'two', 'three', 'four', 'FIVE') });
  });

  it('markers against the target, labelled by who wrote it (or "merged"), leave it as it was', async () => {
    await writeTree(base, { 'doc.txt': ORIGINAL, 'x.txt': lines('x') });
    await mergeOne(target, await source('a', { 'doc.txt': lines('one', 'A', 'three', 'four', 'five') }), 'three-way', { base });
    await fs.writeFile(path.join(target, 'x.txt'), lines('put there'));
    const b = await source('b', { 'doc.txt': lines('one', 'B', 'three', 'four', 'five'), 'x.txt': lines('from b') });
    const r = await mergeOne(target, b, 'three-way', { base });
    expect(r).toMatchObject({ ok: false, merged: [], files: 0, markers: ['doc.txt', 'x.txt'] });
    expect(r.conflicts).toEqual([
      { path: 'doc.txt', streams: ['a', 'b'] },
      { path: 'x.txt', streams: ['b'] },
    ]);
    expect(r.details.map((d) => d.text?.toString())).toEqual([
      lines('one', '<<<<<<< a', 'A', '=======', 'B', '>>>>>>> b', 'three', 'four', 'five'),
      lines('<<<<<<< merged', 'put there', '=======', 'from b', '>>>>>>> b'),
    ]);
    expect(await readTree(target)).toEqual({ 'doc.txt': lines('one', 'A', 'three', 'four', 'five'), 'x.txt': lines('put there') });
    const allowed = await mergeOne(target, b, 'three-way', { base, allowConflicts: true });
    expect(allowed.ok).toBe(true);
    expect(await readTree(target)).toEqual({
      'doc.txt': lines('one', '<<<<<<< a', 'A', '=======', 'B', '>>>>>>> b', 'three', 'four', 'five'),
      'x.txt': lines('<<<<<<< merged', 'put there', '=======', 'from b', '>>>>>>> b'),
    });
  });

  it('an unmergeable conflict leaves the target as it was, unless conflicts are allowed', async () => {
    await mergeOne(target, await source('a', { 'img.bin': 'a\0' }), 'three-way', { base });
    const b = await source('b', { 'img.bin': 'b\0', 'b.txt': 'b' });
    const r = await mergeOne(target, b, 'three-way', { base });
    expect(r).toMatchObject({ ok: false, files: 0, conflicts: [{ path: 'img.bin', streams: ['a', 'b'] }] });
    expect(await readTree(target)).toEqual({ 'img.bin': 'a\0' });
    const kept = await mergeOne(target, b, 'three-way', { base, allowConflicts: true });
    expect(kept).toMatchObject({ ok: true, merged: ['b'], files: 1 });
    expect(await readTree(target)).toEqual({ 'b.txt': 'b', 'img.bin': 'a\0' });
  });
});

describe('per-path conflict rules', () => {
  const rules: ConflictRules = { default: 'fail', paths: [{ glob: '*.md', policy: 'keep-both' }] };

  it('barrier: a .md conflict is kept both, a .json conflict fails the whole merge', async () => {
    const a = await source('a', { 'notes.md': 'A', 'cfg.json': '{"a":1}', 'a.txt': 'a' });
    const b = await source('b', { 'notes.md': 'B', 'cfg.json': '{"b":2}' });
    const failed = await mergeAll(target, [a, b], rules);
    expect(failed.ok).toBe(false);
    expect(failed.conflicts.map((c) => c.path)).toEqual(['cfg.json', 'notes.md']);
    expect(await exists(target)).toBe(false);

    const c = await source('c', { 'notes.md': 'C', 'cfg.json': '{"a":1}' });
    const r = await mergeAll(target, [a, c], rules);
    expect(r).toMatchObject({ ok: true, merged: ['a', 'c'], renamed: [{ path: 'notes.md', stream: 'c', as: 'notes.c.md' }] });
    expect(await readTree(target)).toEqual({ 'a.txt': 'a', 'cfg.json': '{"a":1}', 'notes.c.md': 'C', 'notes.md': 'A' });
  });

  it('progressive: a stream with a failing conflict contributes nothing; one with only .md conflicts merges', async () => {
    await mergeOne(target, await source('a', { 'notes.md': 'A', 'cfg.json': '{"a":1}' }), rules);
    const b = await source('b', { 'notes.md': 'B', 'cfg.json': '{"b":2}', 'b.txt': 'b' });
    const r = await mergeOne(target, b, rules);
    expect(r).toMatchObject({ ok: false, files: 0, renamed: [] });
    expect(await readTree(target)).toEqual({ 'cfg.json': '{"a":1}', 'notes.md': 'A' });
    const c = await source('c', { 'notes.md': 'C', 'c.txt': 'c' });
    expect((await mergeOne(target, c, rules)).ok).toBe(true);
    expect(await readTree(target)).toEqual({ 'c.txt': 'c', 'cfg.json': '{"a":1}', 'notes.c.md': 'C', 'notes.md': 'A' });
  });

  it('the first matching rule wins; * matches dot files; ** reaches any depth', async () => {
    const mixed: ConflictRules = {
      default: 'first',
      paths: [
        { glob: 'docs/**/*.txt', policy: 'three-way' },
        { glob: '**/*.txt', policy: 'last' },
        { glob: 'cfg/*', policy: 'fail' },
      ],
    };
    await writeTree(base, { 'docs/deep/d.txt': ORIGINAL });
    const a = await source('a', { 'docs/deep/d.txt': lines('ONE', 'two', 'three', 'four', 'five'), 'top.txt': 'A', 'x.json': 'A' });
    const b = await source('b', { 'docs/deep/d.txt': lines('one', 'two', 'three', 'four', 'FIVE'), 'top.txt': 'B', 'x.json': 'B' });
    const r = await mergeAll(target, [a, b], mixed, { base });
    expect(r.ok).toBe(true);
    expect(r.conflicts.map((c) => c.path)).toEqual(['top.txt', 'x.json']);
    expect(await readTree(target)).toEqual({ 'docs/deep/d.txt': lines('ONE', 'two', 'three', 'four', 'FIVE'), 'top.txt': 'B', 'x.json': 'A' });
    const c = await source('c', { 'cfg/.env': 'C', 'sub/n.txt': 'C' });
    const d = await source('d', { 'cfg/.env': 'D', 'sub/n.txt': 'D' });
    const dot = await mergeAll(path.join(tmp, 'dot'), [c, d], mixed);
    expect(dot).toMatchObject({
      ok: false,
      conflicts: [
        { path: 'cfg/.env', streams: ['c', 'd'] },
        { path: 'sub/n.txt', streams: ['c', 'd'] },
      ],
    });
    expect(await exists(path.join(tmp, 'dot'))).toBe(false);
  });

  it('three-way markers and a failing path together: nothing is written', async () => {
    const tw: ConflictRules = { default: 'three-way', paths: [{ glob: '*.lock', policy: 'fail' }] };
    await writeTree(base, { 'doc.txt': ORIGINAL });
    const a = await source('a', { 'doc.txt': lines('one', 'A', 'three', 'four', 'five'), 'x.lock': 'a' });
    const b = await source('b', { 'doc.txt': lines('one', 'B', 'three', 'four', 'five'), 'x.lock': 'b' });
    const r = await mergeAll(target, [a, b], tw, { base, allowConflicts: true });
    expect(r).toMatchObject({ ok: false, files: 0, markers: ['doc.txt'] });
    expect(r.conflicts.map((c) => c.path)).toEqual(['doc.txt', 'x.lock']);
    expect(await exists(target)).toBe(false);
  });

  it('rejects an unknown policy in a rule', async () => {
    const bad = { default: 'fail', paths: [{ glob: '*.md', policy: 'ours' }] } as unknown as ConflictRules;
    await expect(mergeAll(target, [await source('a', { f: 'x' })], bad)).rejects.toThrow(/unknown conflict policy "ours" for "\*\.md"/);
  });
});
