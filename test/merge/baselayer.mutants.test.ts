/** A target built from a base: which base entries stay beside a stream's changes (baseLayer). */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import path from 'node:path';
import { snapshotBase } from '../../src/workspace/basetree.js';
import { seedWorkspace } from '../../src/workspace/seed.js';
import { detectChanges } from '../../src/workspace/changes.js';
import { mergeAll, type MergeSource } from '../../src/merge/merge.js';
import { makeTemp, modeOf, readTree, removeTemp, writeTree, type FileSpec } from '../workspace/fsfix.js';

let tmp: string;
beforeEach(async () => {
  tmp = await makeTemp();
});
afterEach(async () => {
  await removeTemp(tmp);
});

/** The base `files`, one stream seeded from it that runs `edit`, merged alone into a new target. */
async function mergedTree(files: Record<string, FileSpec>, edit: (ws: string) => Promise<void>, prepare?: (repo: string) => Promise<void>): Promise<string> {
  const repo = path.join(tmp, 'repo');
  await writeTree(repo, files);
  await prepare?.(repo);
  const base = await snapshotBase(repo, path.join(tmp, 'run', 'bases', 'b1'));
  const ws = path.join(tmp, 'ws', 's');
  await fs.mkdir(ws, { recursive: true });
  const seed = await seedWorkspace(base, ws);
  await edit(ws);
  const source: MergeSource = { stream: 's', dir: ws, outputs: [], changes: await detectChanges({ stream: 's', dir: ws, outputs: [] }, base, seed) };
  const target = path.join(tmp, 'converged', 'point');
  expect(await mergeAll(target, [source], 'fail', { baseTree: base })).toMatchObject({ ok: true, merged: ['s'] });
  return target;
}

describe('base entries beside a change', () => {
  it("a base file whose name is a prefix of a changed file's name stays (lib/a beside lib/a.js)", async () => {
    const target = await mergedTree({ 'lib/a': 'plain\n', 'lib/a.js': 'old\n' }, (ws) => fs.writeFile(path.join(ws, 'lib', 'a.js'), 'new\n'));
    expect(await readTree(target)).toEqual({ 'lib/a': 'plain\n', 'lib/a.js': 'new\n' });
  });

  it("a base file whose name is a prefix of a changed file's directory stays (lib/s beside lib/sub/x.txt)", async () => {
    const target = await mergedTree({ 'lib/s': 's\n', 'lib/sub/x.txt': 'old\n' }, (ws) => fs.writeFile(path.join(ws, 'lib', 'sub', 'x.txt'), 'new\n'));
    expect(await readTree(target)).toEqual({ 'lib/s': 's\n', 'lib/sub/x.txt': 'new\n' });
  });

  it('deleting lib/a keeps lib/a.js: a deletion removes the path and what is below it, not names it begins', async () => {
    const target = await mergedTree({ 'lib/a': 'plain\n', 'lib/a.js': 'js\n', 'keep.txt': 'k\n' }, (ws) => fs.rm(path.join(ws, 'lib', 'a')));
    expect(await readTree(target)).toEqual({ 'lib/a.js': 'js\n', 'keep.txt': 'k\n' });
  });

  it('an empty base directory a stream puts a file into keeps its permission bits', async () => {
    const target = await mergedTree(
      { 'keep.txt': 'k\n', empty: { dir: true } },
      async (ws) => fs.writeFile(path.join(ws, 'empty', 'new.js'), 'n\n'),
      async (repo) => fs.chmod(path.join(repo, 'empty'), 0o751),
    );
    expect(await readTree(target)).toEqual({ 'keep.txt': 'k\n', 'empty/new.js': 'n\n' });
    expect(await modeOf(path.join(target, 'empty'))).toBe(0o751);
  });
});
