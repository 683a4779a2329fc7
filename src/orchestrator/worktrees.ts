/**
 * Worktree workspaces (`isolation: worktree`): each stream works in its own git worktree of
 * the plan's `base` repository, on branch `coord/<run>/<stream>`; its work is committed when
 * it succeeds, and a convergence point merges the branches with git's three-way merge into
 * `coord/<run>/<point>`, whose tree becomes the point's merged output. git is loaded only
 * for plans that use worktrees.
 */
import { join } from 'node:path';
import type { Plan, PointSpec, StreamSpec } from '../plan/types.js';
import type { MergeResult } from '../merge/merge.js';
import { CoordError } from '../core/errors.js';

type Git = typeof import('../workspace/git.js');

export class Worktrees {
  private git: Git | undefined;
  private readonly heads = new Map<string, { repo: string; head: string; dir: string }>();
  private readonly runId: string;
  private readonly workspaceDir: string;

  constructor(runId: string, workspaceDir: string) {
    this.runId = runId;
    this.workspaceDir = workspaceDir;
  }

  /** Checks before anything starts: every worktree stream has a git `base`, points are not mixed. */
  async check(plan: Plan): Promise<void> {
    const wt = plan.streams.filter((s) => s.isolation === 'worktree');
    if (wt.length === 0) return;
    const git = await this.load();
    for (const s of wt) {
      if (!s.base || !(await git.isGitRepo(s.base))) {
        throw new CoordError('invalid', `stream "${s.id}": isolation worktree needs base: the top of a git repository${s.base ? ` (${s.base} is not)` : ''}`);
      }
    }
    const byId = new Map(plan.streams.map((s) => [s.id, s]));
    for (const p of plan.points) {
      const modes = new Set(p.streams.map((id) => byId.get(id)?.isolation === 'worktree'));
      if (modes.size > 1)
        throw new CoordError('invalid', `convergence point "${p.name}" mixes worktree streams with others; git merges branches, not directories`);
      if (modes.has(true) && p.type === 'checkpoint')
        throw new CoordError('invalid', `convergence point "${p.name}": checkpoint points take directory workspaces, not worktrees`);
      const bases = new Set(p.streams.map((id) => byId.get(id)?.base));
      if (modes.has(true) && bases.size > 1) throw new CoordError('invalid', `convergence point "${p.name}": its worktree streams have different bases`);
    }
  }

  branchOf(stream: string): string {
    return `coord/${this.runId}/${stream}`;
  }

  /** Creates the stream's worktree on its own branch (never reusing one in use). */
  async create(spec: StreamSpec, dir: string): Promise<void> {
    const git = await this.load();
    const { head } = await git.addWorktree(spec.base ?? '', dir, this.branchOf(spec.id));
    this.heads.set(spec.id, { repo: spec.base ?? '', head, dir });
  }

  /** Commits what the stream left in its worktree. */
  async commit(stream: string): Promise<void> {
    const wt = this.heads.get(stream);
    if (wt) await (await this.load()).commitWorktree(wt.dir, `coord: ${stream} (run ${this.runId})`);
  }

  /** Merges the streams' branches into the point's branch and writes its tree to `target`. */
  async merge(point: PointSpec, target: string, streams: string[]): Promise<MergeResult> {
    return this.mergeOn(this.branchOf(point.name), point, target, streams);
  }

  /**
   * The tree of a check of `point` (`verify:`): `streams` merged as `merge` would on a branch of
   * their own (`coord/<run>/<point>--check`), the merge commit's tree exported into `target`,
   * the branch deleted. One at a time per point.
   */
  async checkTree(point: PointSpec, target: string, streams: string[]): Promise<MergeResult> {
    const branch = `${this.branchOf(point.name)}--check`;
    const first = this.heads.get(streams[0] ?? '');
    try {
      return await this.mergeOn(branch, point, target, streams);
    } finally {
      if (first) await (await this.load()).deleteBranch(first.repo, branch);
    }
  }

  private async mergeOn(pointBranch: string, point: PointSpec, target: string, streams: string[]): Promise<MergeResult> {
    const git = await this.load();
    const first = this.heads.get(streams[0] ?? '');
    if (!first) throw new Error(`convergence point "${point.name}": no worktree to merge`);
    const byBranch = new Map(streams.map((s) => [this.branchOf(s), s]));
    const r = await git.mergeBranches(first.repo, pointBranch, first.head, [...byBranch.keys()], join(this.workspaceDir, `.point-${point.name}`));
    if (r.ok) await git.exportTree(first.repo, pointBranch, target);
    const merged = r.merged.map((b) => byBranch.get(b) ?? b);
    // A conflict names the streams that changed the path: the one whose merge hit it, and
    // those merged before it whose branch changed that path too.
    const changed = new Map<string, Set<string>>();
    for (const b of r.ok ? [] : r.merged) changed.set(b, await git.changedPaths(first.repo, first.head, b));
    const result: MergeResult = {
      ok: r.ok,
      merged: r.ok ? merged : [],
      files: 0,
      conflicts: r.conflicts.map((c) => ({
        path: c.path,
        streams: [...r.merged.filter((b) => changed.get(b)?.has(c.path)).map((b) => byBranch.get(b) ?? b), byBranch.get(c.branch) ?? c.branch],
      })),
      skipped: [],
      renamed: [],
      markers: [],
      deleted: [],
      details: [],
    };
    return result;
  }

  /** Removes every worktree of the run (their branches stay). */
  async removeAll(): Promise<void> {
    if (!this.git) return;
    for (const { repo, dir } of this.heads.values()) await this.git.removeWorktree(repo, dir).catch(() => undefined);
  }

  private async load(): Promise<Git> {
    this.git ??= await import('../workspace/git.js');
    return this.git;
  }
}
