/**
 * Git-backed workspaces (`isolation.workspace: worktree`): one worktree and branch per stream,
 * and a convergence point that merges the stream branches with git's three-way merge.
 * git always runs with an argument array, no shell, no prompts, no hooks, and with the caller's
 * GIT_* variables that would point it at another repository or index (GIT_DIR, GIT_INDEX_FILE,
 * ...) stripped. Commits carry the user's own git identity when one is configured, and
 * `coord <coord@localhost>` otherwise, so a machine without any git identity needs none.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { CoordError } from '../core/errors.js';

/**
 * A git command failed, or a worktree operation was refused; carries the command, its stderr
 * and git's own exit code (data about git, not the exit code of coord). Code `failed`.
 */
export class GitError extends CoordError {
  override name = 'GitError';
  constructor(
    message: string,
    readonly command: string[],
    readonly stderr = '',
    readonly exitCode?: number,
  ) {
    super('failed', message);
  }
}

/** Settings for every git call: no signing, no hooks, no rerere auto-resolution. */
const CONFIG = ['-c', 'commit.gpgsign=false', '-c', 'core.hooksPath=/dev/null', '-c', 'rerere.enabled=false', '-c', 'advice.detachedHead=false'];

/**
 * The GIT_* variables that reach git. Every other one is stripped: a coord started from a git
 * hook or an IDE inherits GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY, ...,
 * which would make git act on another repository or index than the one named. These only
 * say who the user is (git applies them above any config) or where the user's own config
 * lives, as HOME and XDG_CONFIG_HOME do, which pass too: users and tests rely on them.
 */
const PASSED_GIT_VARS = new Set([
  'GIT_AUTHOR_NAME',
  'GIT_AUTHOR_EMAIL',
  'GIT_COMMITTER_NAME',
  'GIT_COMMITTER_EMAIL',
  'GIT_CONFIG_GLOBAL',
  'GIT_CONFIG_SYSTEM',
  'GIT_CONFIG_NOSYSTEM',
]);

function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && (!k.startsWith('GIT_') || PASSED_GIT_VARS.has(k))) env[k] = v;
  return { ...env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', ...extra };
}

interface Run {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Extra settings of one git call: variables to set, and `-c` settings (not shown in errors). */
interface GitOptions {
  env?: Record<string, string>;
  config?: readonly string[];
}

/** Runs git in `cwd`; throws a GitError unless the exit code is in `ok`. */
async function git(cwd: string, args: string[], ok: number[] = [0], opts: GitOptions = {}): Promise<Run> {
  const command = ['git', ...args];
  const argv = [...CONFIG, ...(opts.config ?? []), ...args];
  const r = await execa('git', argv, { cwd, env: gitEnv(opts.env), extendEnv: false, reject: false, stdin: 'ignore' });
  const exitCode = r.exitCode ?? -1;
  const stderr = String(r.stderr ?? '');
  if (!ok.includes(exitCode)) {
    const why = stderr.trim().split('\n')[0] || r.shortMessage || `exit code ${exitCode}`;
    throw new GitError(`${command.join(' ')}: ${why}`, command, stderr, exitCode);
  }
  return { stdout: String(r.stdout ?? ''), stderr, exitCode };
}

/** The identity coord commits as where the user's git config names none. */
const FALLBACK_IDENTITY = { name: 'coord', email: 'coord@localhost' } as const;

/** The `-c` settings that give commits an identity, per repository (canonical path); see {@link identityOf}. */
const identities = new Map<string, Promise<string[]>>();

/** The repository of each worktree this process added (canonical paths): its commits take that repository's identity. */
const worktreeRepos = new Map<string, string>();

/**
 * The `-c` settings commits in `dir` need for an identity: none for what the user configured
 * (`user.name`, `user.email` in the repository's, global, XDG or system config), coord's for
 * the rest, so git never falls back to guessing one from the host (or refusing to commit).
 * GIT_AUTHOR_* / GIT_COMMITTER_* in the environment, and author.* / committer.* config, rank
 * above user.* in git itself and so win over the fallback too. Looked up once per repository
 * (a worktree added here counts as its repository): a run commits in many worktrees of one.
 */
async function identityOf(dir: string): Promise<string[]> {
  const key = await canonical(dir);
  const repo = worktreeRepos.get(key) ?? key;
  const cached = identities.get(repo);
  if (cached) return cached;
  const found = configuredIdentity(repo);
  identities.set(repo, found);
  found.catch(() => {
    if (identities.get(repo) === found) identities.delete(repo); // a failed lookup is tried again next time
  });
  return found;
}

async function configuredIdentity(repo: string): Promise<string[]> {
  // -z: "key\nvalue" records separated by NUL; exit code 1 when neither is set
  const { stdout } = await git(repo, ['config', '-z', '--get-regexp', '^user\\.(name|email)$'], [0, 1]);
  const values = new Map<string, string>();
  for (const entry of stdout.split('\0')) {
    const nl = entry.indexOf('\n');
    // the last value wins, as in git; a key without a value (nl < 0) names nobody
    if (nl > 0) values.set(entry.slice(0, nl), entry.slice(nl + 1));
  }
  const flags: string[] = [];
  if (!values.get('user.name')?.trim()) flags.push('-c', `user.name=${FALLBACK_IDENTITY.name}`);
  if (!values.get('user.email')?.trim()) flags.push('-c', `user.email=${FALLBACK_IDENTITY.email}`);
  return flags;
}

/** realpath of what exists, plus the missing tail as given (for paths not created yet). */
async function canonical(p: string): Promise<string> {
  const abs = path.resolve(p);
  try {
    return await fs.realpath(abs);
  } catch {
    const parent = path.dirname(abs);
    return parent === abs ? abs : path.join(await canonical(parent), path.basename(abs));
  }
}

/** Refuses names git would reject and names that could be read as options. */
async function checkBranch(repo: string, branch: string): Promise<void> {
  const bad = branch.startsWith('-') || (await git(repo, ['check-ref-format', `refs/heads/${branch}`], [0, 1])).exitCode !== 0;
  if (bad) throw new GitError(`invalid branch name: ${JSON.stringify(branch)}`, ['git', 'check-ref-format', `refs/heads/${branch}`]);
}

async function branchExists(repo: string, branch: string): Promise<boolean> {
  return (await git(repo, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`], [0, 1])).exitCode === 0;
}

/** The canonical paths of the repository's registered worktrees (the main one included). */
async function worktreePaths(repo: string): Promise<string[]> {
  const { stdout } = await git(repo, ['worktree', 'list', '--porcelain', '-z']);
  const dirs = stdout
    .split('\0')
    .filter((f) => f.startsWith('worktree '))
    .map((f) => f.slice('worktree '.length));
  return Promise.all(dirs.map(canonical));
}

/** Resolves `rev` (`^{commit}`, `^{tree}`, ...) to a full sha, or throws a GitError naming it. */
async function resolve(repo: string, rev: string): Promise<string> {
  const r = await git(repo, ['rev-parse', '--verify', '--quiet', '--end-of-options', rev], [0, 1, 128]);
  if (r.exitCode !== 0) throw new GitError(`not a valid revision in ${repo}: ${rev}`, ['git', 'rev-parse', '--verify', rev], r.stderr, r.exitCode);
  return r.stdout.trim();
}

/** The tail of each repository's chain of worktree changes (see `serially`). */
const worktreeChanges = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` after every earlier worktree change of `repo` made by this process. `git worktree
 * add` reads the administrative directories of the other worktrees, and one being created at
 * the same moment makes it fail ("failed to read .git/worktrees/<name>/commondir"), so the
 * streams of a run, whose worktrees are added together, add them one at a time.
 */
async function serially<T>(repo: string, fn: () => Promise<T>): Promise<T> {
  const key = await fs.realpath(repo).catch(() => path.resolve(repo));
  const before = worktreeChanges.get(key) ?? Promise.resolve();
  const run = before.catch(() => undefined).then(fn);
  const tail = run.catch(() => undefined);
  worktreeChanges.set(key, tail);
  void tail.then(() => {
    if (worktreeChanges.get(key) === tail) worktreeChanges.delete(key);
  });
  return run;
}

/** Creates worktree `dir` on the new branch `branch` at `start` (a sha), after the refusals. */
function createWorktree(repo: string, dir: string, branch: string, start: string): Promise<void> {
  return serially(repo, () => addChecked(repo, dir, branch, start));
}

async function addChecked(repo: string, dir: string, branch: string, start: string): Promise<void> {
  const cmd = ['git', 'worktree', 'add', '-b', branch, dir, start];
  await checkBranch(repo, branch);
  if (await branchExists(repo, branch)) throw new GitError(`branch ${branch} already exists in ${repo}; refusing to reuse it`, cmd);
  const target = await canonical(dir);
  if ((await worktreePaths(repo)).includes(target)) throw new GitError(`${dir} is already a worktree of ${repo} (in use); refusing to reuse it`, cmd);
  const entries = await fs.readdir(target).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
  if (entries.length > 0) throw new GitError(`${dir} exists and is not empty; refusing to use it as a worktree`, cmd);
  // the identity also signs the new branch's reflog entry; looked up here, in the repository itself, first
  await git(repo, ['worktree', 'add', '--quiet', '-b', branch, target, start], [0], { config: await identityOf(repo) });
  worktreeRepos.set(target, await canonical(repo));
}

/** True when `dir` is the top level of a git work tree (a main one or a linked worktree); never throws. */
export async function isGitRepo(dir: string): Promise<boolean> {
  try {
    const real = await fs.realpath(dir);
    const { stdout } = await git(real, ['rev-parse', '--show-toplevel']);
    return (await fs.realpath(stdout.trim())) === real;
  } catch {
    return false;
  }
}

/**
 * Adds the worktree `dir` of `repo` on a new branch `branch` starting at the repo's HEAD.
 * Refuses (GitError) an existing branch, a `dir` already registered as a worktree (even if its
 * directory was deleted) and a non-empty `dir`: a worktree in use is never reused.
 * Returns the base commit's sha.
 */
export async function addWorktree(repo: string, dir: string, branch: string): Promise<{ head: string }> {
  const head = await resolve(repo, 'HEAD^{commit}');
  await createWorktree(repo, dir, branch, head);
  return { head };
}

/**
 * Stages everything in the worktree `dir` (`git add -A`: changes, deletions and untracked files,
 * but not ignored ones) and commits it with `message`, as the user's configured git identity,
 * else as coord (see {@link identityOf}). Returns whether it committed.
 */
export async function commitWorktree(dir: string, message: string): Promise<boolean> {
  await git(dir, ['add', '-A']);
  if ((await git(dir, ['diff', '--cached', '--quiet'], [0, 1])).exitCode === 0) return false;
  await git(dir, ['commit', '--quiet', '--no-verify', '--allow-empty-message', '-m', message], [0], { config: await identityOf(dir) });
  return true;
}

/** What {@link mergeBranches} did. */
export interface BranchMergeResult {
  /** Every branch merged cleanly. */
  ok: boolean;
  /** The branches merged cleanly, in order. */
  merged: string[];
  /** The conflicted paths, with the branch whose merge produced them. */
  conflicts: Array<{ path: string; branch: string }>;
  /** The sha of the point branch's tip (after the merges that succeeded). */
  head: string | null;
}

/**
 * Creates `pointBranch` at `baseCommit` in a temporary worktree at `scratchDir` and merges each
 * of `branches` into it in order (`git merge --no-ff --no-edit`, git's three-way merge). At the
 * first conflict the merge is aborted, its conflicted paths are recorded with that branch and
 * merging stops; the point branch keeps the merges done so far. A branch with nothing new
 * ("Already up to date") counts as merged. The scratch worktree is removed in every case.
 */
export async function mergeBranches(repo: string, pointBranch: string, baseCommit: string, branches: string[], scratchDir: string): Promise<BranchMergeResult> {
  const base = await resolve(repo, `${baseCommit}^{commit}`);
  for (const b of branches) await checkBranch(repo, b);
  const identity = await identityOf(repo);
  await createWorktree(repo, scratchDir, pointBranch, base);
  const result: BranchMergeResult = { ok: true, merged: [], conflicts: [], head: null };
  let failed = false;
  try {
    for (const branch of branches) {
      const m = await git(scratchDir, ['merge', '--no-ff', '--no-edit', '--quiet', branch], [0, 1, 128], { config: identity });
      if (m.exitCode === 0) {
        result.merged.push(branch);
        continue;
      }
      const { stdout } = await git(scratchDir, ['diff', '--name-only', '-z', '--diff-filter=U']);
      const paths = [...new Set(stdout.split('\0').filter(Boolean))];
      await git(scratchDir, ['merge', '--abort'], [0, 128]);
      if (paths.length === 0) {
        const cmd = ['git', 'merge', '--no-ff', '--no-edit', branch];
        throw new GitError(`merging ${branch} into ${pointBranch} failed: ${m.stderr.trim() || m.stdout.trim()}`, cmd, m.stderr, m.exitCode);
      }
      result.ok = false;
      result.conflicts = paths.map((p) => ({ path: p, branch }));
      break;
    }
    result.head = (await git(scratchDir, ['rev-parse', 'HEAD'])).stdout.trim();
    return result;
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    await removeWorktree(repo, scratchDir).catch((e: unknown) => {
      if (!failed) throw e;
    });
  }
}

/**
 * Writes the files of `ref`'s tree into `targetDir` (created 0700; it must not exist), without
 * a .git: a checkout through a throw-away index, so file modes and symbolic links are written
 * as git stores them and nothing is written through a symbolic link. On failure it is removed.
 */
export async function exportTree(repo: string, ref: string, targetDir: string): Promise<void> {
  const tree = await resolve(repo, `${ref}^{tree}`);
  const gitDir = (await git(repo, ['rev-parse', '--absolute-git-dir'])).stdout.trim();
  const target = path.resolve(targetDir);
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.mkdir(target, { mode: 0o700 }); // EEXIST when it exists
  await fs.chmod(target, 0o700);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'coord-index-'));
  try {
    const env = { GIT_INDEX_FILE: path.join(tmp, 'index') };
    const where = [`--git-dir=${gitDir}`, `--work-tree=${target}`];
    await git(target, [...where, 'read-tree', tree], [0], { env });
    await git(target, [...where, 'checkout-index', '--all', '--force'], [0], { env });
  } catch (e) {
    await fs.rm(target, { recursive: true, force: true }); // ours, created above: leave no half export
    throw e;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/**
 * Removes the worktree `dir` of `repo` (`git worktree remove --force`, local changes discarded)
 * then prunes stale registrations. No error when it is already gone. Its branch is kept.
 */
export function removeWorktree(repo: string, dir: string): Promise<void> {
  return serially(repo, () => removeNow(repo, dir));
}

async function removeNow(repo: string, dir: string): Promise<void> {
  const target = await canonical(dir);
  worktreeRepos.delete(target);
  try {
    await git(repo, ['worktree', 'remove', '--force', target]);
  } catch (e) {
    await git(repo, ['worktree', 'prune']);
    if ((await worktreePaths(repo)).includes(target)) throw e;
    return;
  }
  await git(repo, ['worktree', 'prune']);
}

/** The paths that differ between commits `from` and `to` of `repo` (renames as a deletion and an addition). */
export async function changedPaths(repo: string, from: string, to: string): Promise<Set<string>> {
  const { stdout } = await git(repo, ['diff', '--name-only', '-z', '--no-renames', from, to, '--']);
  return new Set(stdout.split('\0').filter(Boolean));
}

/** Deletes `branch` of `repo` (`git branch -D`); no error when it does not exist. */
export async function deleteBranch(repo: string, branch: string): Promise<void> {
  await git(repo, ['branch', '-D', '--quiet', branch], [0, 1]);
}
