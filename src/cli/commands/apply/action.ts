/**
 * `coord apply POINT [RUN] [--to DIR] [--dry-run] [--json]`: takes a point's merged change
 * set home — writes what the point's streams added and modified, and deletes what they
 * deleted, onto DIR (by default the base directory they were seeded from: the user's
 * checkout). Refuses, writing nothing (exit 1), when DIR changed one of those paths since the
 * run seeded from it; a path DIR already holds as merged is left as it is. Each file appears
 * atomically (temp name + rename), nothing is written through a symbolic link, nothing
 * outside DIR.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openBackend, resolveRun } from '../../../context/backend.js';
import { EXIT, UsageError } from '../../errors.js';
import { pointChangesFile, type PointChanges } from '../../../convergence/point-changes.js';
import { applyWrites, removeAndPrune } from '../../../merge/apply.js';
import { hashFile, loadBaseTree, type BaseEntry } from '../../../workspace/basetree.js';
import type { PlannedWrite } from '../../../merge/resolve.js';
import { fsErrorCode } from '../../../workspace/root.js';

export interface ApplyFlags {
  to?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** What stands at a path: nothing, a file (its hash), a link (its text), a directory. */
type Version =
  | { kind: 'none' }
  | { kind: 'file'; hash: string | undefined; size: number; mode: number }
  | { kind: 'symlink'; link: string }
  | { kind: 'dir' }
  | { kind: 'other' };

/** What stands at `rel` under `root`; a parent that is not a real directory counts as `other`. */
function versionAt(root: string, rel: string): Version {
  const parts = rel.split('/');
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part);
    try {
      const st = fs.lstatSync(dir);
      if (!st.isDirectory()) return st.isSymbolicLink() ? { kind: 'other' } : { kind: 'none' };
    } catch (e) {
      if (fsErrorCode(e) === 'ENOENT' || fsErrorCode(e) === 'ENOTDIR') return { kind: 'none' };
      throw e;
    }
  }
  const abs = path.join(root, ...parts);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch (e) {
    if (fsErrorCode(e) === 'ENOENT' || fsErrorCode(e) === 'ENOTDIR') return { kind: 'none' };
    throw e;
  }
  if (st.isFile()) return { kind: 'file', hash: hashFile(abs), size: st.size, mode: st.mode & 0o777 };
  if (st.isSymbolicLink()) return { kind: 'symlink', link: fs.readlinkSync(abs) };
  if (st.isDirectory()) return { kind: 'dir' };
  return { kind: 'other' };
}

function fromBase(e: BaseEntry | undefined): Version {
  if (e === undefined) return { kind: 'none' };
  if (e.kind === 'file') return { kind: 'file', hash: e.hash, size: e.size, mode: e.mode };
  if (e.kind === 'symlink') return { kind: 'symlink', link: e.link ?? '' };
  return { kind: 'dir' };
}

function same(a: Version, b: Version): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'file' && b.kind === 'file') return a.size === b.size && a.mode === b.mode && a.hash !== undefined && a.hash === b.hash;
  if (a.kind === 'symlink' && b.kind === 'symlink') return a.link === b.link;
  return a.kind !== 'other';
}

export async function applyCommand(point: string, runId: string | undefined, flags: ApplyFlags): Promise<void> {
  const backend = await openBackend();
  const run = await resolveRun(backend, runId);
  const runDir = backend.runDir(run.id);
  const points = await backend.listPoints(run.id);
  const rec = points.find((p) => p.name === point);
  if (!rec) throw new UsageError(`no convergence point "${point}" in run ${run.id} (points: ${points.map((p) => p.name).join(', ') || 'none'})`);
  if (rec.state !== 'done') {
    const next =
      rec.reason === 'conflict'
        ? `; resolve its conflicts in ${rec.conflictDir ?? path.join(runDir, 'conflicts', point)} and run \`coord continue ${run.id}\` first`
        : '';
    process.stderr.write(
      `coord apply: point "${point}" of run ${run.id} is ${rec.state}${rec.reason ? ` (${rec.reason})` : ''}: nothing was published to apply${next}\n`,
    );
    process.exitCode = EXIT.failed;
    return;
  }
  let changes: PointChanges;
  try {
    changes = JSON.parse(fs.readFileSync(pointChangesFile(runDir, point), 'utf8')) as PointChanges;
  } catch {
    throw new UsageError(
      `point "${point}" of run ${run.id} has no recorded change set (a point over git worktrees merges branches: take its branch coord/${run.id}/${point} home with git merge)`,
    );
  }
  const base = changes.base ? loadBaseTree(changes.base) : undefined;
  if (changes.base && !base) throw new UsageError(`the base snapshot of run ${run.id} (${changes.base}) is gone`);
  const dir = flags.to ? path.resolve(flags.to) : base?.source;
  if (dir === undefined) throw new UsageError(`point "${point}" merged streams without a base: say where to apply it with --to DIR`);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a directory`);

  const merged = rec.target;
  const ops: Array<{ rel: string; op: 'added' | 'modified' | 'deleted' }> = [
    ...changes.written.map(([, rel]) => ({ rel, op: base?.index.has(rel) ? ('modified' as const) : ('added' as const) })),
    ...changes.deleted.map(([, rel]) => ({ rel, op: 'deleted' as const })),
  ].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const refused: string[] = [];
  const todo: Array<(typeof ops)[number] & { now: Version['kind'] }> = [];
  for (const o of ops) {
    const now = versionAt(dir, o.rel);
    const seeded = fromBase(base?.entries[base.index.get(o.rel) ?? -1]);
    const wanted = o.op === 'deleted' ? ({ kind: 'none' } as Version) : versionAt(merged, o.rel);
    if (same(now, wanted)) continue; // already as merged
    if (!same(now, seeded)) refused.push(o.rel);
    else todo.push({ ...o, now: now.kind });
  }
  const letter = { added: 'A', modified: 'M', deleted: 'D' } as const;
  if (flags.json) {
    process.stdout.write(
      JSON.stringify({ run: run.id, point, to: dir, dryRun: flags.dryRun === true, changes: todo.map((o) => ({ path: o.rel, change: o.op })), refused }) + '\n',
    );
  }
  if (refused.length > 0) {
    process.stderr.write(
      `coord apply: refusing to apply point "${point}" to ${dir}: it changed ${refused.length} path(s) the merge changes too, since run ${run.id} was seeded from it:\n` +
        refused.map((r) => `  ${r}\n`).join('') +
        'Nothing was written. Commit or move those changes aside (or apply elsewhere with --to DIR) and run coord apply again.\n',
    );
    process.exitCode = EXIT.failed;
    return;
  }
  if (!flags.json) for (const o of todo) process.stdout.write(`${letter[o.op]} ${o.rel}\n`);
  const count = (op: string): number => todo.filter((o) => o.op === op).length;
  const summary = `${count('added')} added, ${count('modified')} modified, ${count('deleted')} deleted`;
  if (flags.dryRun) {
    if (!flags.json) process.stdout.write(`would apply point "${point}" of run ${run.id} to ${dir}: ${summary} (dry run: nothing written)\n`);
    return;
  }
  const writes: PlannedWrite[] = [];
  for (const o of todo) {
    if (o.op === 'deleted') continue;
    const abs = path.join(merged, ...o.rel.split('/'));
    const st = fs.lstatSync(abs);
    const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file';
    writes.push({
      entry: {
        rel: o.rel,
        abs,
        kind,
        size: st.size,
        mode: st.mode & 0o777,
        dev: st.dev,
        ino: st.ino,
        ...(kind === 'symlink' ? { linkTarget: fs.readlinkSync(abs) } : {}),
      },
      outRel: o.rel,
      src: 0,
    });
  }
  // a path whose kind changes (a file becoming a directory or back) is removed first
  const kinds = new Map(writes.map((w) => [w.outRel, w.entry.kind]));
  const replaced = todo.filter((o) => o.op !== 'deleted' && o.now !== 'none' && o.now !== kinds.get(o.rel)).map((o) => o.rel);
  removeAndPrune(dir, [...todo.filter((o) => o.op === 'deleted').map((o) => o.rel), ...replaced]);
  const outcome = await applyWrites(dir, writes, { atomic: true });
  for (const o of outcome.outside) process.stderr.write(`coord apply: not applied: ${o.outRel} (a symbolic link leading outside ${dir})\n`);
  if (!flags.json) process.stdout.write(`applied point "${point}" of run ${run.id} to ${dir}: ${summary}\n`);
}
