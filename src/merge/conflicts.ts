/**
 * The material of a failed merge, where a person (or an agent) can resolve it, and reading
 * the resolution back — git's conflicted work tree and `git merge --continue`, for a point:
 *
 *   <run>/conflicts/<point>/
 *     <path>                             to resolve: the text with conflict markers, or the
 *                                        first stream's version (a modify/delete conflict:
 *                                        the modified one); delete it to take the deletion
 *     .coord-conflict/base/<path>        the base version, when there is one
 *     .coord-conflict/streams/<id>/<path>  each side (absent where that stream deleted it)
 *     .coord-conflict/conflicts.json     what conflicted, who changed it, and how
 *
 * `coord continue` then publishes the point with whatever stands at each conflicting path.
 */
import fs from 'node:fs';
import path from 'node:path';
import { copyRegular } from '../workspace/basetree.js';
import type { ConflictDetail } from './merge.js';
import { fsErrorCode, WorkspaceError } from '../workspace/root.js';
import { collectOutputs, type FileEntry } from '../workspace/walk.js';

/** The hidden directory beside the files to resolve. */
export const MATERIAL_DIR = '.coord-conflict';

/** How two sides disagree. */
export type ConflictKindName = 'content' | 'add/add' | 'modify/delete' | 'file/directory';

/** One conflict as `.coord-conflict/conflicts.json` records it. */
export interface RecordedConflict {
  path: string;
  streams: string[];
  kind: ConflictKindName;
  /** The file to resolve holds conflict markers (three-way). */
  markers: boolean;
  versions: Array<{ stream: string; kind: string }>;
  base: boolean;
}

/** The JSON of `.coord-conflict/conflicts.json`. */
export interface ConflictIndex {
  run: string;
  point: string;
  conflicts: RecordedConflict[];
}

function kindOf(d: ConflictDetail): ConflictKindName {
  if (d.versions.some((v) => v.kind === 'deleted')) return 'modify/delete';
  if (new Set(d.versions.map((v) => v.kind)).size > 1) return 'file/directory';
  return d.base === undefined ? 'add/add' : 'content';
}

/** Copies a version (file, link or directory) from `from` to `to`, never following a link. */
function copyVersion(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(from);
  if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), to);
  else if (st.isDirectory()) fs.cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  else if (st.isFile()) copyRegular(from, to, st.mode & 0o777, false);
}

/** Is `p` a plain relative path inside its root (no `..`, not absolute)? */
function plain(p: string): boolean {
  return p !== '' && !path.isAbsolute(p) && !p.split('/').some((c) => c === '' || c === '.' || c === '..');
}

/**
 * Writes the material of `details` into `dir` (replacing what an earlier failure left there).
 * Returns the recorded index.
 */
export function writeConflicts(dir: string, run: string, point: string, details: readonly ConflictDetail[]): ConflictIndex {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, MATERIAL_DIR), { recursive: true, mode: 0o700 });
  const index: ConflictIndex = { run, point, conflicts: [] };
  for (const d of details) {
    if (!plain(d.path) || d.path === MATERIAL_DIR || d.path.startsWith(`${MATERIAL_DIR}/`)) continue;
    const rel = d.path.split('/');
    for (const v of d.versions) {
      if (v.abs !== undefined && v.kind !== 'deleted') copyVersion(v.abs, path.join(dir, MATERIAL_DIR, 'streams', v.stream, ...rel));
    }
    if (d.base !== undefined) copyVersion(d.base, path.join(dir, MATERIAL_DIR, 'base', ...rel));
    const work = path.join(dir, ...rel);
    if (d.text !== undefined) {
      fs.mkdirSync(path.dirname(work), { recursive: true, mode: 0o700 });
      fs.writeFileSync(work, d.text, { mode: 0o600 });
    } else {
      const first = d.versions.find((v) => v.kind !== 'deleted' && v.abs !== undefined);
      if (first?.abs !== undefined && !fs.existsSync(work)) copyVersion(first.abs, work);
    }
    index.conflicts.push({
      path: d.path,
      streams: d.streams,
      kind: kindOf(d),
      markers: d.text !== undefined,
      versions: d.versions.map((v) => ({ stream: v.stream, kind: v.kind })),
      base: d.base !== undefined,
    });
  }
  fs.writeFileSync(path.join(dir, MATERIAL_DIR, 'conflicts.json'), JSON.stringify(index, null, 2) + '\n', { mode: 0o600 });
  return index;
}

/** Reads the index of a point's conflicts; undefined when there is none. */
export function readConflicts(dir: string): ConflictIndex | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MATERIAL_DIR, 'conflicts.json'), 'utf8')) as ConflictIndex;
  } catch (e) {
    if (fsErrorCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

const MARKER = /^(<{7} |>{7} |={7}\r?$)/m;

/** The conflicting paths whose file still has conflict markers (where coord wrote markers). */
export function unresolved(dir: string, index: ConflictIndex): string[] {
  const out: string[] = [];
  for (const c of index.conflicts) {
    if (!c.markers) continue;
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, ...c.path.split('/')), 'latin1');
    } catch {
      continue; // deleted: resolved as a deletion
    }
    if (MARKER.test(text)) out.push(c.path);
  }
  return out;
}

/** The resolution of a point's conflicts: what now stands at each conflicting path. */
export interface Resolution {
  /** The conflicting paths (each replaces whatever the streams had there and below). */
  paths: string[];
  /** Entries to write (paths relative to the point's target). */
  entries: FileEntry[];
  /** Conflicting paths left absent: deleted. */
  deleted: string[];
}

/** Reads what stands at each conflicting path of `dir` (see the module comment). */
export async function readResolution(dir: string, index: ConflictIndex): Promise<Resolution> {
  const out: Resolution = { paths: [], entries: [], deleted: [] };
  for (const c of index.conflicts) {
    out.paths.push(c.path);
    const abs = path.join(dir, ...c.path.split('/'));
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch (e) {
      if (fsErrorCode(e) !== 'ENOENT') throw e;
      out.deleted.push(c.path);
      continue;
    }
    if (st.isDirectory()) {
      const { entries } = await collectOutputs(abs, []);
      for (const e of entries) out.entries.push({ ...e, rel: `${c.path}/${e.rel}` });
      if (entries.length === 0) out.entries.push({ rel: c.path, abs, kind: 'dir', size: 0, mode: st.mode & 0o777 });
    } else if (st.isFile()) {
      out.entries.push({ rel: c.path, abs, kind: 'file', size: st.size, mode: st.mode & 0o777, dev: st.dev, ino: st.ino });
    } else if (st.isSymbolicLink()) {
      const text = fs.readlinkSync(abs);
      out.entries.push({ rel: c.path, abs, kind: 'symlink', size: 0, mode: st.mode & 0o777, linkTarget: text });
    } else {
      throw new WorkspaceError(`${abs} is not a file, link or directory; cannot take it as the resolution`, abs);
    }
  }
  return out;
}
