/**
 * `resolve:` on a point: the command that resolves a merge's conflicts, as a person would with
 * the material `coord continue` takes (merge/conflicts.ts). It runs once per merge that conflicts:
 *
 *   conflicts written to <run>/conflicts/<point>/ ──> a scratch tree of the whole merge, each
 *   conflicting path as written there (three-way: the text with markers; otherwise the first
 *   stream's version) ──> the resolver, in that tree, with COORD_CONFLICTS: a JSON file listing
 *   each conflict with its base and each side's file ──> no markers left: what stands at each
 *   conflicting path is the resolution, copied to the conflict material, and the point merges
 *   again with it (then its check, `verify:`, runs); markers left, or a failed resolver: the
 *   point fails on its conflicts as without one.
 *
 * Its output goes to `<run>/verify/<point>/resolve.log` (`coord logs <point>:resolve`).
 */
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventInput } from '../events/types.js';
import type { ConflictPolicy, PointSpec } from '../plan/types.js';
import { MATERIAL_DIR, readConflicts, readResolution, unresolved, type ConflictIndex, type Resolution } from '../merge/conflicts.js';
import type { ConflictRules, MergeResult, MergeSource } from '../merge/merge.js';
import type { BaseTree } from '../workspace/basetree.js';
import { buildCheckTree } from '../verify/scratch.js';
import { commandText, logTail, runCheck, runPool } from './point-check.js';
import { conflictMessage, recordMerge, type MergingPoint } from './point-merge.js';
import type { CheckContext, PointSide } from './point-types.js';

/** What the resolver needs of its point. */
export interface ResolveHost {
  ctx: CheckContext;
  emit(e: EventInput): void;
  /** The point's record changed. */
  saved(): void;
  policy: ConflictPolicy | ConflictRules;
  baseTree: () => Promise<BaseTree | undefined>;
  /** The merge sources of `streams` with `resolution` in place of what they had at its paths. */
  sources(streams: readonly string[], resolution: Resolution): Promise<MergeSource[]>;
  /** Calls the resolver off (the point settled otherwise). */
  signal: AbortSignal;
}

export class PointResolver {
  private ran = false;
  private readonly dir: string;

  constructor(
    private readonly spec: PointSpec & { resolve: NonNullable<PointSpec['resolve']> },
    private readonly point: PointSide & MergingPoint,
    private readonly runDir: string,
    private readonly host: ResolveHost,
  ) {
    this.dir = join(runDir, 'verify', spec.name);
  }

  /**
   * A merge of `streams` that conflicted (`result`): its conflicts are recorded and written out;
   * the resolver runs on them, once. Its resolution when it resolved every one, else undefined
   * (and the point failed on its conflicts).
   */
  async resolve(result: MergeResult, streams: readonly string[]): Promise<Resolution | undefined> {
    const { point } = this;
    const conflict = recordMerge(point, result);
    if (conflict === undefined) return undefined;
    const giveUp = (why: string): undefined => {
      if (point.rec.resolver) point.rec.resolver.state = 'failed';
      point.fail(conflict, `${conflictMessage(conflict)}; ${why}`);
      return undefined;
    };
    if (this.ran) return giveUp('the resolver had run already');
    this.ran = true;
    const index = readConflicts(point.conflictDir);
    if (!index) return giveUp('no conflict material was written');
    const paths = index.conflicts.map((c) => c.path);
    const log = join(this.dir, 'resolve.log');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    point.rec.resolver = { state: 'running', paths, log };
    this.host.emit({ type: 'point-resolving', point: this.spec.name, paths, log });
    this.host.saved();

    const base = await this.host.baseTree();
    const draft = await readResolution(point.conflictDir, index);
    const tree = await buildCheckTree(join(this.dir, 'resolve-tree'), await this.host.sources(streams, draft), this.host.policy, {
      ...(base ? { pool: runPool(this.runDir, base) } : {}),
    });
    if (!tree.result.ok) return giveUp('the merge with the conflicting paths as written still conflicts');
    const listing = join(this.dir, 'conflicts.json');
    writeFileSync(listing, `${JSON.stringify(this.listing(index, tree.dir), null, 2)}\n`, { mode: 0o600 });
    const t0 = performance.now();
    const run = await runCheck(this.host.ctx.spawner, {
      command: this.spec.resolve.command,
      tree: tree.dir,
      env: { ...this.host.ctx.env(tree.dir, streams), COORD_CONFLICTS: listing, COORD_CONFLICT_DIR: point.conflictDir },
      log,
      timeoutMs: this.spec.resolve.timeoutMs,
      retries: 0,
      graceMs: this.host.ctx.graceMs,
      signal: this.host.signal,
    });
    const left = run.outcome === 'passed' ? unresolved(tree.dir, index) : [];
    const resolved = run.outcome === 'passed' && left.length === 0;
    this.host.emit({
      type: 'point-resolved',
      point: this.spec.name,
      outcome: resolved ? 'resolved' : 'failed',
      paths,
      unresolved: left,
      exitCode: run.exitCode,
      durationMs: Math.round(performance.now() - t0),
    });
    tree.tamperCheck();
    if (!resolved) {
      void rm(tree.dir, { recursive: true, force: true }).catch(() => undefined);
      const tail = logTail(log, 3).trim();
      if (left.length > 0) return giveUp(`the resolver left conflict markers in ${left.join(', ')}`);
      return giveUp(
        `the resolver \`${commandText(this.spec.resolve.command)}\` ${run.outcome === 'timed-out' ? 'timed out' : `failed (exit ${run.exitCode})`}${tail ? `: ${tail}` : ''}`,
      );
    }
    // what stands at each conflicting path goes to the material, as `coord continue` would read it
    for (const rel of paths) {
      const from = join(tree.dir, ...rel.split('/'));
      const to = join(point.conflictDir, ...rel.split('/'));
      rmSync(to, { recursive: true, force: true });
      if (existsSync(from)) cpSync(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    }
    void rm(tree.dir, { recursive: true, force: true }).catch(() => undefined);
    const resolution = await readResolution(point.conflictDir, index);
    point.rec.resolver.state = 'resolved';
    point.rec.conflicts = [];
    point.rec.conflictStreams = [];
    point.rec.conflictDir = null;
    this.host.saved();
    return resolution;
  }

  /** COORD_CONFLICTS: each conflict, the file to resolve in the tree, its base and each side's version. */
  private listing(index: ConflictIndex, tree: string): unknown {
    const material = join(this.point.conflictDir, MATERIAL_DIR);
    const at = (root: string, rel: string): string | null => {
      const p = join(root, ...rel.split('/'));
      return existsSync(p) ? p : null;
    };
    return {
      point: this.spec.name,
      tree,
      conflicts: index.conflicts.map((c) => ({
        path: c.path,
        file: join(tree, ...c.path.split('/')),
        kind: c.kind,
        markers: c.markers,
        streams: c.streams,
        base: c.base ? at(join(material, 'base'), c.path) : null,
        versions: c.versions.map((v) => ({ stream: v.stream, kind: v.kind, file: at(join(material, 'streams', v.stream), c.path) })),
      })),
    };
  }
}
