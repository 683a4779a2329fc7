import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PendingReplace } from '../../src/locks/files.js';
import { WorkspaceError } from '../../src/workspace/root.js';
import { collectOutputs } from '../../src/workspace/walk.js';
import { isRoot, makeTemp, removeTemp, writeTree } from './fsfix.js';

let tmp: string;
let ws: string;
beforeEach(async () => {
  tmp = await makeTemp();
  ws = path.join(tmp, 'ws');
  await fs.mkdir(ws);
});
afterEach(async () => {
  await removeTemp(tmp);
});

const rels = (r: { entries: Array<{ rel: string }> }): string[] => r.entries.map((e) => e.rel);

describe('collectOutputs', () => {
  it('collects everything, sorted, with kinds, sizes and modes; only empty dirs are entries', async () => {
    await writeTree(ws, {
      'b.txt': 'bb',
      'a/z.sh': { content: '#!/bin/sh\n', mode: 0o755 },
      'a/secret': { content: 's', mode: 0o600 },
      '.env': 'X=1',
      'empty': { dir: true },
    });
    const r = await collectOutputs(ws, []);
    expect(rels(r)).toEqual(['.env', 'a/secret', 'a/z.sh', 'b.txt', 'empty']);
    const byRel = new Map(r.entries.map((e) => [e.rel, e]));
    expect(byRel.get('b.txt')).toMatchObject({ kind: 'file', size: 2, abs: path.join(ws, 'b.txt') });
    expect(byRel.get('a/z.sh')?.mode).toBe(0o755);
    expect(byRel.get('a/secret')?.mode).toBe(0o600);
    expect(byRel.get('empty')).toMatchObject({ kind: 'dir', size: 0 });
    expect(r.skipped).toEqual([]);
  });

  it('leaves out the temp file of a coord write in flight, so a merge or checkpoint never copies half a write', async () => {
    await writeTree(ws, { 'draft.txt': 'v1\n', 'notes/.plain.coord-tmp': 'not a coord write: no writer named' });
    // a write of draft.txt and one of notes/deep.txt begun, not yet renamed into place
    const pending = [PendingReplace.open(path.join(ws, 'draft.txt')), PendingReplace.open(path.join(ws, 'notes', 'deep.txt'))];
    try {
      pending[0]!.write(Buffer.from('v2 half'));
      expect((await fs.readdir(ws)).filter((n) => n.endsWith('.coord-tmp'))).toHaveLength(1);
      expect(rels(await collectOutputs(ws, []))).toEqual(['draft.txt', 'notes/.plain.coord-tmp']);
    } finally {
      for (const p of pending) p.discard();
    }
  });

  it('selects with outputs globs (dot files included, directory patterns take the subtree)', async () => {
    await writeTree(ws, {
      'notes/a.md': 'a',
      'notes/deep/b.md': 'b',
      'notes/.hidden': 'h',
      'src/x.ts': 'x',
      'README.md': 'r',
      'node_modules/pkg/index.js': 'i',
    });
    expect(rels(await collectOutputs(ws, ['notes/**']))).toEqual(['notes/.hidden', 'notes/a.md', 'notes/deep/b.md']);
    expect(rels(await collectOutputs(ws, ['notes']))).toEqual(['notes/.hidden', 'notes/a.md', 'notes/deep/b.md']);
    expect(rels(await collectOutputs(ws, ['./notes/']))).toEqual(['notes/.hidden', 'notes/a.md', 'notes/deep/b.md']);
    expect(rels(await collectOutputs(ws, ['*.md']))).toEqual(['README.md']);
    expect(rels(await collectOutputs(ws, ['**/*.md']))).toEqual(['README.md', 'notes/a.md', 'notes/deep/b.md']);
    expect(rels(await collectOutputs(ws, ['src/*.ts', 'README.md']))).toEqual(['README.md', 'src/x.ts']);
    expect(rels(await collectOutputs(ws, ['notes/**', '!notes/deep']))).toEqual(['notes/.hidden', 'notes/a.md']);
  });

  it('keeps a symbolic link that stays inside, as a link with relative text', async () => {
    await writeTree(ws, { 'sub/file.txt': 'f', 'link': { link: 'sub/file.txt' }, 'sub/up': { link: '../sub/./file.txt' } });
    await fs.symlink(path.join(ws, 'sub'), path.join(ws, 'abs-dir'));
    await fs.symlink('missing.txt', path.join(ws, 'dangling'));
    const r = await collectOutputs(ws, []);
    const links = Object.fromEntries(r.entries.filter((e) => e.kind === 'symlink').map((e) => [e.rel, e.linkTarget]));
    expect(links).toEqual({ 'abs-dir': 'sub', dangling: 'missing.txt', link: 'sub/file.txt', 'sub/up': 'file.txt' });
    expect(r.skipped).toEqual([]);
  });

  it('skips links that lead outside, without reading what they point to', async () => {
    await writeTree(ws, {
      'ok.txt': 'ok',
      'out': { link: '/' },
      'x': { link: '/etc/passwd' },
      'deep/up': { link: '../..' },
      'a': { link: '/etc' },
      'via': { link: 'a/passwd' },
      'via-missing': { link: 'a/no-such-file' },
    });
    const r = await collectOutputs(ws, []);
    // `deep` kept nothing, so it stays as an empty directory.
    expect(r.entries.map((e) => [e.rel, e.kind])).toEqual([
      ['deep', 'dir'],
      ['ok.txt', 'file'],
    ]);
    expect(r.skipped).toEqual([
      { rel: 'a', reason: 'symlink-outside' },
      { rel: 'deep/up', reason: 'symlink-outside' },
      { rel: 'out', reason: 'symlink-outside' },
      { rel: 'via', reason: 'symlink-outside' },
      { rel: 'via-missing', reason: 'symlink-outside' },
      { rel: 'x', reason: 'symlink-outside' },
    ]);
  });

  it('skips FIFOs and sockets as special files', async () => {
    execFileSync('mkfifo', [path.join(ws, 'pipe')]);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(ws, 'sock'), resolve));
    try {
      await writeTree(ws, { 'f.txt': 'f' });
      const r = await collectOutputs(ws, []);
      expect(rels(r)).toEqual(['f.txt']);
      expect(r.skipped).toEqual([
        { rel: 'pipe', reason: 'special-file' },
        { rel: 'sock', reason: 'special-file' },
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('reports only what outputs select among the skipped', async () => {
    execFileSync('mkfifo', [path.join(ws, 'pipe')]);
    await writeTree(ws, { 'notes/a.md': 'a', 'out': { link: '/' } });
    const r = await collectOutputs(ws, ['notes/**']);
    expect(rels(r)).toEqual(['notes/a.md']);
    expect(r.skipped).toEqual([]);
  });

  (isRoot ? it.skip : it)('skips files it cannot read', async () => {
    await writeTree(ws, { 'locked': { content: 'x', mode: 0o000 }, 'ok': 'y' });
    const r = await collectOutputs(ws, []);
    expect(rels(r)).toEqual(['ok']);
    expect(r.skipped).toEqual([{ rel: 'locked', reason: 'unreadable' }]);
  });

  it('refuses to walk a workspace that is itself a symbolic link', async () => {
    await fs.symlink('/etc', path.join(tmp, 'evil'));
    await expect(collectOutputs(path.join(tmp, 'evil'), [])).rejects.toBeInstanceOf(WorkspaceError);
  });
});
