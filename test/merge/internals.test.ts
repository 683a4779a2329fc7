import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import path from 'node:path';
import { applyWrites } from '../../src/merge/apply.js';
import { probeCaseInsensitive } from '../../src/workspace/content.js';
import { outputMatcher } from '../../src/workspace/globs.js';
import { taggedName } from '../../src/merge/resolve.js';
import { WorkspaceError } from '../../src/workspace/root.js';
import { collectOutputs } from '../../src/workspace/walk.js';
import { exists, makeTemp, removeTemp, writeTree } from '../workspace/fsfix.js';

let tmp: string;
beforeEach(async () => {
  tmp = await makeTemp();
});
afterEach(async () => {
  await removeTemp(tmp);
});

describe('taggedName', () => {
  it('puts the stream before the extension, or at the end', () => {
    expect(taggedName('b.txt', 's2', false)).toBe('b.s2.txt');
    expect(taggedName('archive.tar.gz', 's2', false)).toBe('archive.tar.s2.gz');
    expect(taggedName('Makefile', 's2', false)).toBe('Makefile.s2');
    expect(taggedName('.env', 's2', false)).toBe('.env.s2');
    expect(taggedName('v1.2', 's2', true)).toBe('v1.2.s2');
  });
});

describe('outputMatcher', () => {
  it('prunes directories no pattern can reach', () => {
    const m = outputMatcher(['notes/**/*.md', 'src/main.ts']);
    expect(m.mayContain('notes')).toBe(true);
    expect(m.mayContain('notes/deep')).toBe(true);
    expect(m.mayContain('src')).toBe(true);
    expect(m.mayContain('node_modules')).toBe(false);
    expect(outputMatcher(['**/*.md']).mayContain('node_modules')).toBe(true);
    expect(outputMatcher([]).all).toBe(true);
  });
});

describe('probeCaseInsensitive', () => {
  it('answers false on this Linux file system and leaves nothing behind', async () => {
    expect(probeCaseInsensitive(tmp)).toBe(false);
    expect(await fs.readdir(tmp)).toEqual([]);
  });
});

describe('applyWrites', () => {
  it('refuses to copy a file that was swapped for a link after the walk', async () => {
    const ws = path.join(tmp, 'ws');
    await writeTree(ws, { 'data.txt': 'mine', 'sub/inner.txt': 'inner' });
    const { entries } = await collectOutputs(ws, []);
    await fs.rm(path.join(ws, 'data.txt'));
    await fs.symlink('/etc/passwd', path.join(ws, 'data.txt'));
    const out = path.join(tmp, 'out');
    await fs.mkdir(out);
    const ops = entries.map((entry) => ({ entry, outRel: entry.rel, src: 0 }));
    await expect(applyWrites(out, ops, { atomic: true })).rejects.toBeInstanceOf(WorkspaceError);
    expect(await exists(path.join(out, 'data.txt'))).toBe(false);
  });

  it('refuses to copy through a parent directory swapped for a link after the walk', async () => {
    const ws = path.join(tmp, 'ws');
    await writeTree(ws, { 'etc/passwd': 'mine' });
    const { entries } = await collectOutputs(ws, []);
    await fs.rm(path.join(ws, 'etc'), { recursive: true });
    await fs.symlink('/etc', path.join(ws, 'etc'));
    const out = path.join(tmp, 'out');
    await fs.mkdir(out);
    const ops = entries.map((entry) => ({ entry, outRel: entry.rel, src: 0 }));
    await expect(applyWrites(out, ops, { atomic: false })).rejects.toThrow(/changed while it was being merged/);
  });

  it('refuses paths that are not plain relative paths', async () => {
    const ws = path.join(tmp, 'ws');
    await writeTree(ws, { f: 'x' });
    const [entry] = (await collectOutputs(ws, [])).entries;
    if (entry === undefined) throw new Error('no entry');
    const out = path.join(tmp, 'out');
    await fs.mkdir(out);
    for (const outRel of ['../escape', 'a/../../escape', '/abs', '']) {
      await expect(applyWrites(out, [{ entry, outRel, src: 0 }], { atomic: false })).rejects.toBeInstanceOf(WorkspaceError);
    }
    expect(await exists(path.join(tmp, 'escape'))).toBe(false);
  });

  it('does not re-create a link whose text would leave the root', async () => {
    const ws = path.join(tmp, 'ws');
    await writeTree(ws, { 'a/l': { link: '../f' }, f: 'x' });
    const link = (await collectOutputs(ws, [])).entries.find((e) => e.rel === 'a/l');
    if (link === undefined) throw new Error('no link');
    const out = path.join(tmp, 'out');
    await fs.mkdir(out);
    // Placed at the top instead of under a/, `../f` would point outside.
    const r = await applyWrites(out, [{ entry: link, outRel: 'l', src: 0 }], { atomic: true });
    expect(r.written).toEqual([]);
    expect(r.outside.map((o) => o.outRel)).toEqual(['l']);
    expect(await fs.readdir(out)).toEqual([]);
  });
});
