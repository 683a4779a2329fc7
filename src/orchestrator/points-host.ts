/**
 * What convergence points (convergence.ts) need of the run: a point runner per plan point,
 * each stream's contribution (its change set against its `base:`), the run's snapshot of each
 * base, approvals through the consensus board, and what a failed or timed-out point does to
 * the streams nothing needs any more.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PointRecord } from '../backend/types.js';
import type { EventInput } from '../events/types.js';
import type { PointSpec } from '../plan/types.js';
import { baseKey, loadBaseTree, snapshotBase, type BaseTree } from '../workspace/basetree.js';
import { detectChanges } from '../workspace/changes.js';
import type { MergeSource } from '../merge/merge.js';
import { loadSeed, seedFileOf } from '../workspace/seed.js';
import { PointRunner, type ApprovalVerdict } from '../convergence/point-runner.js';
import type { CheckContext, SettledPoint } from '../convergence/point-types.js';
import type { VerifyFailed } from '../core/failures.js';
import { DEFAULT_CONCURRENCY } from './options.js';
import { runEnv } from '../supervise/environment.js';
import type { Engine, PointsHostRole, StreamRt } from './engine.js';
import { pointFingerprint } from './rerun.js';
import { isTerminal } from './stream-state.js';

/** The run's side of its convergence points (see the module comment). */
export class PointsHost implements PointsHostRole {
  /** The run's snapshot of each `base:` directory, taken when a stream first needs it. */
  private readonly baseTrees = new Map<string, Promise<BaseTree>>();

  constructor(private readonly e: Engine) {}

  /** A point over registered streams. */
  converge(spec: PointSpec): void {
    const { e } = this;
    const specOf = (id: string) => e.table.get(id)?.spec;
    const onWorktrees = spec.streams.length > 0 && spec.streams.every((id) => specOf(id)?.isolation === 'worktree');
    // the published tree is the streams' base plus their changes (plan validation refuses two bases in one point)
    const bases = [
      ...new Set(
        spec.streams
          .map(specOf)
          .filter((s) => s?.base && s.isolation !== 'worktree')
          .map((s) => s?.base ?? ''),
      ),
    ];
    const base = bases.length === 1 ? bases[0] : undefined;
    const runner = new PointRunner(spec, e.runDir, this.host(spec), {
      checkpointIntervalMs: e.plan.stateManagement.checkpointIntervalMs,
      finalMerge: onWorktrees ? (target, ids) => e.worktrees.merge(spec, target, ids) : undefined,
      checkMerge: onWorktrees ? (target, ids) => e.worktrees.checkTree(spec, target, ids) : undefined,
      baseTree: base !== undefined ? () => this.baseTreeOf(base) : undefined,
      approve: spec.approve ? (review) => this.approval(spec, review) : undefined,
      runId: e.runId,
      fingerprint: pointFingerprint(spec, (id) => specOf(id)?.outputs ?? []),
      checks: spec.verify || spec.resolve ? this.checkContext(spec) : undefined,
    });
    e.table.addPoint(spec, runner);
  }

  private host(spec: PointSpec) {
    const { e } = this;
    return {
      emit: (ev: EventInput) => e.bus.emit(ev),
      save: (rec: PointRecord) => e.records.point(rec),
      sourceOf: (id: string): Promise<MergeSource> => this.changeSource(id),
      workspaceOf: (id: string): MergeSource => e.table.workspaceOf(id),
      settled: (p: SettledPoint) => this.settled(p),
      running: (ids: string[]) => ids.filter((id) => e.table.get(id)?.phase.kind === 'running' || e.table.get(id)?.phase.kind === 'stalled'),
      feedback: (id: string, because: 'verify' | 'conflict', text: string) => {
        const rt = e.table.get(id);
        if (rt?.phase.kind !== 'succeeded') return false;
        const file = join(rt.paths.logDir, `feedback-${rt.rec.attempt + 1}.md`);
        writeFileSync(file, text, { mode: 0o600 });
        e.exits.reopen(rt, spec.name, file, because);
        e.afterChange();
        return true;
      },
      excluded: (ids: readonly string[], failure: VerifyFailed) => {
        for (const id of ids) {
          const rt = e.table.get(id);
          if (rt) e.exits.exclude(rt, failure);
        }
        e.afterChange();
      },
    };
  }

  /** What the checks of a `verify:` point run with: the run's spawner and environment, the guardian's grace, `--concurrency` checks at once. */
  private checkContext(spec: PointSpec): CheckContext {
    const { e } = this;
    return {
      spawner: e.spawner,
      env: (tree, streams) => ({
        ...runEnv({ runId: e.runId, runDir: e.runDir, binDir: e.flags.binDir, base: e.baseEnv }),
        COORD_POINT: spec.name,
        COORD_MERGED: tree,
        COORD_CHECK_STREAMS: streams.join(' '),
      }),
      graceMs: e.plan.guardian.graceMs,
      parallel: Math.max(1, e.opts.concurrency ?? DEFAULT_CONCURRENCY),
    };
  }

  private settled(p: SettledPoint): void {
    const { e } = this;
    if (p.rec.state === 'failed' && p.spec.approve) e.board.close(p.spec.name, 'point-failed');
    if (p.rec.state === 'failed' && p.rec.reason !== 'point-timeout' && !p.spec.keepGoing) this.stopUnneeded(p);
    const timedOut = p.failure?.reason === 'point-timeout' ? p.failure : undefined;
    if (p.rec.state === 'failed' && timedOut) {
      // A timed-out point stops its streams that are still running.
      for (const id of p.spec.streams) {
        const rt = e.table.get(id);
        if (rt) e.exits.stopFor(rt, timedOut, { sig: 'SIGTERM' });
      }
    }
    e.afterChange();
  }

  /** The run's snapshot of `source` (a stream's `base:`): taken once, or read back on `--resume`. */
  baseTreeOf(source: string): Promise<BaseTree> {
    let tree = this.baseTrees.get(source);
    if (tree === undefined) {
      const { e } = this;
      const dir = join(e.runDir, 'bases', baseKey(source));
      tree = (async () => {
        const had = loadBaseTree(dir);
        if (had) return had;
        const taken = await snapshotBase(source, dir, { exclude: [e.home, e.plan.workspaceRoot, e.runDir] });
        if (taken.skipped.length > 0) {
          e.bus.emit({
            type: 'warning',
            message: `base ${source}: ${taken.skipped.length} path(s) could not be read and are not part of it (${taken.skipped.slice(0, 3).join(', ')})`,
          });
        }
        return taken;
      })();
      this.baseTrees.set(source, tree);
    }
    return tree;
  }

  /** Where the stat record of a workspace's seeding is kept. */
  seedFile(workspace: string): string {
    return seedFileOf(this.e.runDir, workspace);
  }

  /** What a stream contributes: its change set against its base (everything it has, without one). */
  private async changeSource(id: string): Promise<MergeSource> {
    const source = this.e.table.workspaceOf(id);
    const spec = this.e.table.get(id)?.spec;
    if (!spec?.base || spec.isolation === 'worktree') return source;
    const base = await this.baseTreeOf(spec.base);
    return { ...source, changes: await detectChanges(source, base, loadSeed(this.seedFile(source.dir))) };
  }

  /** Approval points and vote groups get their proposals when the run starts (votes may come early). */
  prepareProposals(): void {
    const { e } = this;
    for (const p of e.plan.points) {
      if (!p.approve) continue;
      const r = e.board.prepare(p.name, 'approval', p.approve.voters, p.approve.quorum, p.approve.timeoutMs);
      if (!r.ok) e.bus.emit({ type: 'warning', point: p.name, message: `approval: ${r.error.error}` });
    }
    e.voteGroups.prepare();
  }

  /** Opens a point's approval on the merge waiting in `review`; resolves with the decision. */
  private async approval(spec: PointSpec, review: string): Promise<ApprovalVerdict> {
    const rec = await this.e.board.openPrepared(spec.name, {
      point: spec.name,
      streams: this.e.table.points.get(spec.name)?.rec.merged ?? spec.streams,
      review,
    });
    const runEnded = rec.reason === 'run-ended';
    return {
      accepted: rec.state === 'accepted',
      runEnded,
      message: `approval ${rec.state}${rec.reason === 'timeout' ? ' (timed out)' : runEnded ? ' (the run ended first)' : ''}: ${rec.yes} yes, ${rec.no} no, ${rec.needed} needed of ${rec.voters.length}`,
    };
  }

  /**
   * A point failed: its streams that nothing else needs any more (no other point that can
   * still merge them, no stream depending on them) are stopped, or cancelled before they start.
   */
  private stopUnneeded(failed: SettledPoint): void {
    for (const id of failed.spec.streams) {
      const rt = this.e.table.get(id);
      if (!rt || isTerminal(rt.phase.kind) || this.neededElsewhere(rt, failed)) continue;
      // A process group already gone has ended on its own: its exit, still on its way, decides
      // its state (a stream that exited 0 before the point failed succeeded, not cancelled).
      const points = this.e.table
        .pointsOf(id)
        .filter((p) => p.rec.state === 'failed')
        .map((p) => p.spec.name);
      this.e.exits.stopFor(rt, { reason: 'point-failed', points }, { onlyIfAlive: true });
    }
  }

  /** Another point can still merge the stream, or a stream still to end waits on it (by its id, its group or a capability: the graph resolved those). */
  private neededElsewhere(rt: StreamRt, failed: SettledPoint): boolean {
    const id = rt.spec.id;
    if (this.e.table.pointsOf(id).some((p) => p !== failed && p.rec.state !== 'failed')) return true;
    return this.e.graph.waitersOn(id).some((w) => {
      const other = this.e.table.get(w);
      return other !== undefined && other !== rt && !isTerminal(other.phase.kind);
    });
  }
}
