import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { GitError, addWorktree, commitWorktree, exportTree, isGitRepo, mergeBranches, removeWorktree } from '../../src/workspace/git.js';
import { exists, makeTemp, readTree, removeTemp } from './fsfix.js';

const env = { GIT_TERMINAL_PROMPT: '0' };
const ident = ['-c', 'user.name=t', '-c', 'user.email=t@localhost', '-c', 'commit.gpgsign=false'];
async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await execa('git', [...ident, ...args], { cwd, env })).stdout;
}

/**
 * The variables that decide which identity and repository git uses. Each test starts with
 * none of them but an empty global config (GIT_CONFIG_GLOBAL, which git.ts lets through, as
 * it does HOME) and no system config, so the developer's own ~/.gitconfig never leaks in.
 */
const GIT_VARS = [
  'GIT_AUTHOR_NAME',
  'GIT_AUTHOR_EMAIL',
  'GIT_COMMITTER_NAME',
  'GIT_COMMITTER_EMAIL',
  'GIT_CONFIG_GLOBAL',
  'GIT_CONFIG_SYSTEM',
  'GIT_CONFIG_NOSYSTEM',
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_INDEX_FILE',
] as const;
let savedEnv: Array<[string, string | undefined]> = [];

let tmp: string;
let repo: string;
let globalConfig: string;
beforeEach(async () => {
  tmp = await makeTemp('coord-git-');
  savedEnv = GIT_VARS.map((k) => [k, process.env[k]]);
  for (const k of GIT_VARS) delete process.env[k];
  globalConfig = path.join(tmp, 'gitconfig');
  await fs.writeFile(globalConfig, '');
  process.env.GIT_CONFIG_GLOBAL = globalConfig;
  process.env.GIT_CONFIG_NOSYSTEM = '1';
  repo = path.join(tmp, 'repo');
  await fs.mkdir(path.join(repo, 'sub'), { recursive: true });
  await git(repo, 'init', '--quiet', '-b', 'main');
  await fs.writeFile(path.join(repo, 'a.txt'), 'one\ntwo\nthree\n');
  await fs.writeFile(path.join(repo, 'sub', 'b.txt'), 'bee\n');
  await fs.writeFile(path.join(repo, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  await fs.symlink('a.txt', path.join(repo, 'link'));
  await git(repo, 'add', '-A');
  await git(repo, 'commit', '--quiet', '-m', 'init');
});
afterEach(async () => {
  for (const [k, v] of savedEnv) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await removeTemp(tmp);
});

const ws = (name: string): string => path.join(tmp, 'ws', name);
const worktrees = async (): Promise<string> => git(repo, 'worktree', 'list', '--porcelain');

/** A stream: a worktree on coord/r1/<name> whose edits are committed. */
async function stream(name: string, files: Record<string, string>): Promise<string> {
  await addWorktree(repo, ws(name), `coord/r1/${name}`);
  for (const [rel, text] of Object.entries(files)) await fs.writeFile(path.join(ws(name), rel), text);
  expect(await commitWorktree(ws(name), `stream ${name}`)).toBe(true);
  return `coord/r1/${name}`;
}

describe('isGitRepo', () => {
  it('is true at the top level of a repo or worktree only', async () => {
    expect(await isGitRepo(repo)).toBe(true);
    expect(await isGitRepo(path.join(repo, 'sub'))).toBe(false);
    expect(await isGitRepo(path.join(repo, '.git'))).toBe(false);
    expect(await isGitRepo(tmp)).toBe(false);
    expect(await isGitRepo(path.join(tmp, 'missing'))).toBe(false);
    await addWorktree(repo, ws('s'), 'coord/r1/s');
    expect(await isGitRepo(ws('s'))).toBe(true);
  });
});

describe('addWorktree / commitWorktree / removeWorktree', () => {
  it('adds a worktree on a new branch at HEAD and commits everything in it', async () => {
    const head = (await git(repo, 'rev-parse', 'HEAD')).trim();
    expect(await addWorktree(repo, ws('s'), 'coord/r1/s')).toEqual({ head });
    expect(await git(ws('s'), 'branch', '--show-current')).toBe('coord/r1/s');
    expect(await commitWorktree(ws('s'), 'nothing')).toBe(false);
    await fs.writeFile(path.join(ws('s'), 'new.txt'), 'untracked\n');
    await fs.rm(path.join(ws('s'), 'sub', 'b.txt'));
    expect(await commitWorktree(ws('s'), 'work')).toBe(true);
    expect(await git(ws('s'), 'status', '--porcelain')).toBe('');
    // no identity configured anywhere (empty global config, none in the repository): coord's
    expect(await git(ws('s'), 'log', '-1', '--format=%an <%ae> %s')).toBe('coord <coord@localhost> work');
    expect(await git(ws('s'), 'log', '-1', '--format=%cn <%ce>')).toBe('coord <coord@localhost>');
    expect(await git(repo, 'rev-parse', 'coord/r1/s~1')).toBe(head);
  });

  it("ignores the caller's GIT_DIR, GIT_WORK_TREE and GIT_INDEX_FILE", async () => {
    const other = path.join(tmp, 'other');
    await git(tmp, 'init', '--quiet', '-b', 'main', other);
    process.env.GIT_DIR = path.join(other, '.git');
    process.env.GIT_WORK_TREE = other;
    process.env.GIT_INDEX_FILE = path.join(tmp, 'stray-index');
    await addWorktree(repo, ws('s'), 'coord/r1/s');
    await fs.writeFile(path.join(ws('s'), 'new.txt'), 'x\n');
    expect(await commitWorktree(ws('s'), 'work')).toBe(true);
    for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE']) delete process.env[k];
    expect(await git(repo, 'log', '-1', '--format=%s', 'coord/r1/s')).toBe('work');
    expect(await git(other, 'branch', '--list')).toBe('');
    expect(await exists(path.join(tmp, 'stray-index'))).toBe(false);
  });

  it('refuses an existing branch, a worktree in use and a non-empty directory', async () => {
    await addWorktree(repo, ws('s'), 'coord/r1/s');
    const err = await addWorktree(repo, ws('t'), 'coord/r1/s').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitError);
    expect((err as GitError).message).toMatch(/branch coord\/r1\/s already exists/);
    await expect(addWorktree(repo, ws('s'), 'coord/r1/t')).rejects.toThrow(/already a worktree .*in use/);
    await fs.rm(ws('s'), { recursive: true }); // deleted but still registered: still refused
    await expect(addWorktree(repo, ws('s'), 'coord/r1/t')).rejects.toThrow(/in use/);
    await fs.mkdir(ws('full'), { recursive: true });
    await fs.writeFile(path.join(ws('full'), 'x'), 'x');
    await expect(addWorktree(repo, ws('full'), 'coord/r1/full')).rejects.toThrow(/not empty/);
    await expect(addWorktree(repo, ws('u'), '-bad')).rejects.toThrow(/invalid branch name/);
    await fs.mkdir(ws('empty'));
    await expect(addWorktree(repo, ws('empty'), 'coord/r1/empty')).resolves.toBeDefined();
  });

  it('removes a worktree, idempotently, keeping its branch', async () => {
    await addWorktree(repo, ws('s'), 'coord/r1/s');
    await fs.writeFile(path.join(ws('s'), 'dirty.txt'), 'x');
    await removeWorktree(repo, ws('s'));
    expect(await exists(ws('s'))).toBe(false);
    await removeWorktree(repo, ws('s'));
    expect(await worktrees()).not.toContain(ws('s'));
    expect(await git(repo, 'branch', '--list', 'coord/r1/s')).toContain('coord/r1/s');
    await addWorktree(repo, ws('t'), 'coord/r1/t');
    await fs.rm(ws('t'), { recursive: true }); // gone by hand: prune drops the registration
    await removeWorktree(repo, ws('t'));
    expect(await worktrees()).not.toContain(ws('t'));
    await expect(removeWorktree(repo, repo)).rejects.toBeInstanceOf(GitError);
  });

  it('adds and removes many worktrees of one repository at once (a run starting its streams together)', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `p${i}`);
    for (let round = 0; round < 3; round++) {
      await Promise.all(names.map((n) => addWorktree(repo, ws(`${n}-${round}`), `coord/r${round}/${n}`)));
      expect((await worktrees()).match(/^worktree /gm)).toHaveLength(names.length + 1);
      await Promise.all(names.map((n) => removeWorktree(repo, ws(`${n}-${round}`))));
      expect((await worktrees()).match(/^worktree /gm)).toHaveLength(1);
    }
  }, 240_000); // 72 git commands, which take seconds each on a loaded machine
});

describe('mergeBranches / exportTree', () => {
  it('merges branches editing different files and exports the result', async () => {
    const base = (await git(repo, 'rev-parse', 'HEAD')).trim();
    const s1 = await stream('s1', { 'a.txt': 'one\nTWO\nthree\n' });
    const s2 = await stream('s2', { 'sub/b.txt': 'BEE\n', 'new.txt': 'new\n' });
    const idle = 'coord/r1/idle';
    await addWorktree(repo, ws('idle'), idle); // no commit: "Already up to date" counts as merged
    const scratch = path.join(tmp, 'scratch', 'point');
    const r = await mergeBranches(repo, 'coord/r1/point', base, [s1, s2, idle], scratch);
    expect(r).toEqual({ ok: true, merged: [s1, s2, idle], conflicts: [], head: expect.any(String) });
    expect(r.head).toBe((await git(repo, 'rev-parse', 'coord/r1/point')).trim());
    expect(await exists(scratch)).toBe(false);
    expect(await worktrees()).not.toContain(scratch);

    const out = path.join(tmp, 'out', 'point');
    await exportTree(repo, 'coord/r1/point', out);
    expect(await readTree(out)).toEqual({
      'a.txt': 'one\nTWO\nthree\n',
      'sub/b.txt': 'BEE\n',
      'new.txt': 'new\n',
      'run.sh': '#!/bin/sh\necho hi\n',
      link: '-> a.txt',
    });
    expect((await fs.stat(out)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(path.join(out, 'run.sh'))).mode & 0o100).toBe(0o100);
    expect((await fs.stat(path.join(out, 'a.txt'))).mode & 0o111).toBe(0);
    await expect(exportTree(repo, 'coord/r1/point', out)).rejects.toThrow(/EEXIST/);
    await expect(exportTree(repo, 'no-such-ref', path.join(tmp, 'o2'))).rejects.toThrow(/not a valid revision/);
  });

  it('stops at a conflict, reporting path and branch, keeping the earlier merges', async () => {
    const base = (await git(repo, 'rev-parse', 'HEAD')).trim();
    const s1 = await stream('s1', { 'a.txt': 'one\nfirst\nthree\n', 'sub/b.txt': 'from s1\n' });
    const s2 = await stream('s2', { 'a.txt': 'one\nsecond\nthree\n' });
    const s3 = await stream('s3', { 'c.txt': 'c\n' });
    const scratch = path.join(tmp, 'scratch');
    const r = await mergeBranches(repo, 'coord/r1/point', base, [s1, s2, s3], scratch);
    expect(r.ok).toBe(false);
    expect(r.merged).toEqual([s1]);
    expect(r.conflicts).toEqual([{ path: 'a.txt', branch: s2 }]);
    expect(r.head).toBe((await git(repo, 'rev-parse', 'coord/r1/point')).trim());
    expect(await git(repo, 'rev-parse', 'coord/r1/point^2')).toBe(await git(repo, 'rev-parse', s1));
    expect(await git(repo, 'show', 'coord/r1/point:a.txt')).toBe('one\nfirst\nthree');
    expect(await exists(scratch)).toBe(false);
    expect(await worktrees()).not.toContain(scratch);
    // the point branch now exists: a second convergence under the same name is refused
    await expect(mergeBranches(repo, 'coord/r1/point', base, [s1], scratch)).rejects.toThrow(/already exists/);
  });

  it('throws on a branch that does not exist, still removing the scratch worktree', async () => {
    const base = (await git(repo, 'rev-parse', 'HEAD')).trim();
    const scratch = path.join(tmp, 'scratch');
    const err = await mergeBranches(repo, 'coord/r1/p', base, ['coord/r1/nope'], scratch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitError);
    expect((err as GitError).command.slice(0, 2)).toEqual(['git', 'merge']);
    expect(await exists(scratch)).toBe(false);
  });
});

describe('commit identity', () => {
  const who = (rev: string, cwd = repo): Promise<string> => git(cwd, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', rev);
  const ada = 'Ada Lovelace <ada@example.org>|Ada Lovelace <ada@example.org>';

  it("commits, merge commits included, as the identity in the repository's config", async () => {
    await git(repo, 'config', 'user.name', 'Ada Lovelace');
    await git(repo, 'config', 'user.email', 'ada@example.org');
    const base = (await git(repo, 'rev-parse', 'HEAD')).trim();
    const s1 = await stream('s1', { 'a.txt': 'one\nTWO\nthree\n' });
    const s2 = await stream('s2', { 'c.txt': 'c\n' });
    expect(await who(s1)).toBe(ada);
    expect(await who(s2)).toBe(ada);
    const r = await mergeBranches(repo, 'coord/r1/point', base, [s1, s2], path.join(tmp, 'scratch'));
    expect(r.ok).toBe(true);
    expect(await who('coord/r1/point')).toBe(ada);
    expect(await who('coord/r1/point^')).toBe(ada);
  });

  it("takes the global config (GIT_CONFIG_GLOBAL), the repository's own overriding it", async () => {
    await fs.writeFile(globalConfig, '[user]\n\tname = Grace Hopper\n\temail = grace@example.org\n');
    await stream('s1', { 'c.txt': 'c\n' });
    expect(await who('coord/r1/s1')).toBe('Grace Hopper <grace@example.org>|Grace Hopper <grace@example.org>');
    const other = path.join(tmp, 'other');
    await git(tmp, 'clone', '--quiet', repo, other);
    await git(other, 'config', 'user.email', 'grace@repo.example');
    await addWorktree(other, ws('o'), 'coord/r1/o');
    await fs.writeFile(path.join(ws('o'), 'c.txt'), 'c\n');
    expect(await commitWorktree(ws('o'), 'o')).toBe(true);
    expect(await who('coord/r1/o', other)).toBe('Grace Hopper <grace@repo.example>|Grace Hopper <grace@repo.example>');
  });

  it('lets GIT_AUTHOR_* and GIT_COMMITTER_* through; a role they leave unset falls back to coord', async () => {
    process.env.GIT_AUTHOR_NAME = 'Env Author';
    process.env.GIT_AUTHOR_EMAIL = 'author@env.example';
    await stream('s1', { 'c.txt': 'c\n' });
    expect(await who('coord/r1/s1')).toBe('Env Author <author@env.example>|coord <coord@localhost>');
    process.env.GIT_COMMITTER_NAME = 'Env Committer';
    process.env.GIT_COMMITTER_EMAIL = 'committer@env.example';
    await stream('s2', { 'c.txt': 'c\n' });
    expect(await who('coord/r1/s2')).toBe('Env Author <author@env.example>|Env Committer <committer@env.example>');
  });
});
