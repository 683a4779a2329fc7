/**
 * What a convergence point (convergence.ts) makes of one merge result: the paths merged and
 * skipped, conflicts recorded and their material written out, each told as an event; and
 * what a failed point leaves behind.
 */
import { existsSync, mkdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { PointRecord } from '../backend/types.js';
import type { EventInput } from '../events/types.js';
import type { PointSpec } from '../plan/types.js';
import { writeConflicts } from '../merge/conflicts.js';
import type { MergeResult } from '../merge/merge.js';
import { RESOLUTION } from './point-changes.js';
import type { Checkpoints } from './checkpoints.js';
import type { PointHost } from './point-types.js';
import type { Conflict } from '../core/failures.js';

/** The point a merge result is recorded for. */
export interface MergingPoint {
  spec: PointSpec;
  rec: PointRecord;
  runId: string;
  conflictDir: string;
  emit(e: EventInput): void;
}

/**
 * Records a merge result in the point's record and tells it; on conflicts that fail the
 * merge, writes their material out and returns the point's failure.
 */
export function recordMerge(p: MergingPoint, result: MergeResult, stream?: string): Conflict | undefined {
  for (const s of result.skipped) {
    p.emit({ type: 'warning', point: p.spec.name, stream: s.stream, message: `not merged: ${s.rel} (${s.reason})` });
  }
  if (result.markers.length > 0 && result.ok) {
    p.emit({ type: 'warning', point: p.spec.name, message: `three-way conflicts left with markers in: ${result.markers.join(', ')}` });
  }
  if (result.conflicts.length > 0) {
    p.rec.conflicts.push(...result.conflicts.map((c) => c.path));
    p.rec.conflictStreams = [...(p.rec.conflictStreams ?? []), ...result.conflicts.map((c) => ({ path: c.path, streams: [...c.streams] }))];
    let material: string | undefined;
    if (!result.ok) {
      writeConflicts(p.conflictDir, p.runId, p.spec.name, result.details);
      material = p.conflictDir;
      p.rec.conflictDir = material;
    }
    p.emit({
      type: 'point-conflict',
      point: p.spec.name,
      ...(stream ? { stream } : {}),
      conflicts: result.conflicts,
      ...(material ? { material } : {}),
    });
  }
  if (!result.ok) return { reason: 'conflict', conflicts: result.conflicts.map((c) => ({ path: c.path, streams: [...c.streams] })) };
  for (const id of result.merged) {
    if (id === RESOLUTION) continue;
    p.rec.merged.push(id);
    p.emit({ type: 'point-merged', point: p.spec.name, stream: id, files: result.files, skipped: result.skipped.length });
  }
  return undefined;
}

/** A conflict in words: each conflicting path and the streams that changed it. */
export function conflictMessage(failure: Conflict): string {
  return `conflicting outputs: ${failure.conflicts.map((c) => `${c.path} (${c.streams.join(', ')})`).join('; ')}`;
}

/** What to do after a conflict: resolve the material and `coord continue`, or, on git worktrees, merge the branches with git. */
export function afterConflict(runId: string, point: string, conflictDir: string, onBranches: boolean): string {
  if (onBranches) {
    return `its branch coord/${runId}/${point} holds the merges that succeeded: merge the streams' branches (coord/${runId}/<stream>) into it with git to resolve`;
  }
  return `resolve the files in ${conflictDir} and run \`coord continue ${runId}\``;
}

/** keep_going: why the point fails after publishing everything. */
export function keptMessage(failed: readonly string[], target: string): string {
  return `stream${failed.length > 1 ? 's' : ''} ${failed.map((s) => `"${s}"`).join(', ')} failed (keep_going: every stream's outputs were merged into ${target})`;
}

/** A failed progressive point publishes nothing: its partial merge in `target` moves to `partial`. */
export function withdrawPartial(target: string, partial: string): void {
  if (!existsSync(target)) return;
  mkdirSync(dirname(partial), { recursive: true, mode: 0o700 });
  rmSync(partial, { recursive: true, force: true });
  renameSync(target, partial);
}

/** A checkpoint of a checkpoint point: the running streams' workspaces copied (see checkpoints.ts). */
export async function takeCheckpoint(point: string, streams: string[], checkpoints: Checkpoints, host: PointHost): Promise<void> {
  const running = host.running(streams);
  if (running.length === 0) return;
  const taken = await checkpoints.take(running.map((id) => host.workspaceOf(id)));
  if (taken === undefined) return;
  for (const f of taken.failed) host.emit({ type: 'warning', point, stream: f.stream, message: `checkpoint: ${f.error}; tried again at the next one` });
  if (taken.copied.length > 0)
    host.emit({ type: 'point-checkpoint', point, checkpoint: taken.n, streams: taken.copied, unchanged: taken.unchanged, removed: taken.removed });
}

/** A checkpoint point's final merge, staged beside its target: the checkpoints move into the stage, and the stage takes the target's place. */
export function swapInCheckpoints(staged: string, checkpointsDir: string, target: string): void {
  renameSync(checkpointsDir, join(staged, 'checkpoints'));
  rmdirSync(target);
  renameSync(staged, target);
}
