/**
 * Git worktree streams end to end: their commits (and the point's merge commit) carry the
 * identity configured in the base repository, and `coord status` names each stream's branch.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { git, Rig } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

interface StatusJson {
  streams: Array<{ id: string; state: string; branch?: string | null }>;
}

describe('worktree streams', () => {
  it("commit as the repository's configured identity; coord status shows their branches", async () => {
    const repo = join(rig.dir, 'repo');
    mkdirSync(repo);
    git(repo, 'init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'shared.txt'), 'line 1\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'base');
    git(repo, 'config', 'user.name', 'Repo Owner');
    git(repo, 'config', 'user.email', 'owner@repo.example');
    // hermetic: no global or system identity of the machine running the tests
    const globalConfig = rig.write('empty-gitconfig', '');
    const env = { GIT_CONFIG_GLOBAL: globalConfig, GIT_CONFIG_NOSYSTEM: '1' };
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'feature', type: 'barrier', streams: ['edit'] }] },
      streams: [
        { id: 'edit', isolation: 'worktree', base: './repo', command: 'echo changed > shared.txt' },
        { id: 'plain', isolation: 'isolated', command: 'true' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml'], { env });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const id = rig.runIds()[0] ?? '';
    const branch = `coord/${id}/edit`;

    expect(git(repo, 'log', '-1', '--format=%an <%ae>|%cn <%ce>|%s', branch).trim()).toBe(
      `Repo Owner <owner@repo.example>|Repo Owner <owner@repo.example>|coord: edit (run ${id})`,
    );
    expect(git(repo, 'show', `${branch}:shared.txt`)).toBe('changed\n');
    expect(git(repo, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', `coord/${id}/feature`).trim()).toBe(
      'Repo Owner <owner@repo.example>|Repo Owner <owner@repo.example>',
    );

    const json = await rig.coord(['status', id, '--json'], { env });
    expect(json.code).toBe(0);
    const streams = (JSON.parse(json.stdout) as StatusJson).streams;
    expect(streams.find((s) => s.id === 'edit')).toMatchObject({ state: 'succeeded', branch });
    expect(streams.find((s) => s.id === 'plain')?.branch ?? null).toBeNull();

    const text = await rig.coord(['status', id], { env });
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines.find((l) => l.startsWith('STREAM'))).toMatch(/\bBRANCH\b/);
    expect(lines.find((l) => l.startsWith('edit '))).toContain(branch);
    expect(lines.find((l) => l.startsWith('plain '))).not.toContain('coord/');
  });
});
