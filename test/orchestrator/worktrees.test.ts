/** Worktree points: who a git merge conflict is attributed to. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { Worktrees } from '../../src/orchestrator/worktrees.js';
import type { PointSpec, StreamSpec } from '../../src/plan/types.js';
import { makeTemp, removeTemp } from '../workspace/fsfix.js';

const ident = ['-c', 'user.name=t', '-c', 'user.email=t@localhost', '-c', 'commit.gpgsign=false'];
const git = async (cwd: string, ...args: string[]): Promise<string> => (await execa('git', [...ident, ...args], { cwd })).stdout;

let tmp: string;
let repo: string;
beforeEach(async () => {
  tmp = await makeTemp('coord-wt-');
  repo = path.join(tmp, 'repo');
  await fs.mkdir(repo);
  await git(repo, 'init', '--quiet', '-b', 'main');
  await fs.writeFile(path.join(repo, 'shared.txt'), 'line 1\nline 2\nline 3\n');
  await git(repo, 'add', '-A');
  await git(repo, 'commit', '--quiet', '-m', 'init');
});
afterEach(async () => {
  await removeTemp(tmp);
});

const stream = (id: string): StreamSpec => ({
  id,
  command: 'true',
  dependsOn: [],
  capabilities: [],
  resources: {},
  outputs: [],
  base: repo,
  isolation: 'worktree',
  retries: 0,
  env: {},
  priority: 0,
});

describe('Worktrees.merge', () => {
  it('names only the streams whose branches changed the conflicting path, whatever was merged before', async () => {
    const wt = new Worktrees('r1', path.join(tmp, 'ws'));
    const edits: Record<string, [string, string]> = {
      z: ['z.txt', 'z\n'],
      x: ['shared.txt', 'line 1\nfrom x\nline 3\n'],
      y: ['shared.txt', 'line 1\nfrom y\nline 3\n'],
    };
    for (const [id, [file, content]] of Object.entries(edits)) {
      const dir = path.join(tmp, 'ws', id);
      await wt.create(stream(id), dir);
      await fs.writeFile(path.join(dir, file), content);
      await wt.commit(id);
    }
    const point: PointSpec = {
      name: 'clash',
      type: 'barrier',
      streams: ['z', 'x', 'y'],
      onConflict: 'fail',
      allowConflicts: false,
      keepGoing: false,
      checkpointKeep: 10,
    };
    const r = await wt.merge(point, path.join(tmp, 'out'), ['z', 'x', 'y']);
    expect(r.ok).toBe(false);
    expect(r.conflicts).toEqual([{ path: 'shared.txt', streams: ['x', 'y'] }]);
    await wt.removeAll();
  });
});
