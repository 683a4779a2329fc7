/**
 * What a convergence point keeps of its merges besides the published tree: its merged change
 * set (`<run>/changes/<point>.json`, for `--resume` and `coord apply`), and, for `coord
 * continue`, the streams' sources less what a resolution replaces plus the resolution itself.
 */
import { readFileSync } from 'node:fs';
import { mkdirPrivate, writeFileAtomicSync } from '../util/fsx.js';
import { dirname, join } from 'node:path';
import type { Resolution } from '../merge/conflicts.js';
import { MergedPaths, type MergeSource } from '../merge/merge.js';
import type { MergedPathsJson } from '../merge/merged-paths.js';

/** `<run>/changes/<point>.json`: the point's merged change set and the base it is against (`coord apply`). */
export interface PointChanges extends MergedPathsJson {
  /** The run's snapshot of the base (`<run>/bases/<key>`), null for streams without one. */
  base: string | null;
}

/** Where a run keeps a point's merged change set. */
export function pointChangesFile(runDir: string, point: string): string {
  return join(runDir, 'changes', `${point}.json`);
}

/** Writes a point's merged change set (replaced atomically, mode 0600). */
export function saveChanges(file: string, base: string | undefined, changed: MergedPaths): void {
  mkdirPrivate(dirname(file));
  const record: PointChanges = { base: base ?? null, ...changed.toJSON() };
  writeFileAtomicSync(file, JSON.stringify(record));
}

/** Reads a point's merged change set into `into`; false when there is none. */
export function loadChanges(file: string, into: MergedPaths): boolean {
  try {
    into.replaceWith(MergedPaths.fromJSON(JSON.parse(readFileSync(file, 'utf8')) as PointChanges));
    return true;
  } catch {
    return false;
  }
}

/** The name a resolution's writes go under (never a stream id: ids start with a letter or digit). */
export const RESOLUTION = '(resolution)';

/** A stream's source less what `resolution` replaces (its paths, and everything below them). */
export function withoutResolved(source: MergeSource, resolution: Resolution | undefined): MergeSource {
  if (resolution === undefined || source.changes === undefined) return source;
  const covered = (rel: string): boolean => resolution.paths.some((p) => rel === p || rel.startsWith(`${p}/`));
  const { changes } = source;
  return {
    ...source,
    changes: {
      ...changes,
      entries: changes.entries.filter((e) => !covered(e.rel)),
      deleted: changes.deleted.filter((d) => !covered(d)),
      changes: changes.changes.filter((c) => !covered(c.rel)),
    },
  };
}

/** The resolution read from `dir` as one more source, merged last. */
export function resolutionSource(resolution: Resolution, dir: string): MergeSource {
  return {
    stream: RESOLUTION,
    dir,
    outputs: [],
    changes: { stream: RESOLUTION, base: undefined, entries: resolution.entries, deleted: resolution.deleted, changes: [], skipped: [] },
  };
}
