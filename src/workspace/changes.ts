/**
 * A stream's contribution: its change set against the base it was seeded from.
 *
 *   workspace walk (walk.ts: `outputs`, no link followed, no .git)
 *        │  each entry against the base manifest (basetree.ts):
 *        ├── not in the base ─────────────────────────────────> added
 *        ├── same kind, seed record's ino/mtime/ctime match ──> unchanged (one lstat, no read)
 *        ├── same kind, size and mode, same content hash ─────> unchanged
 *        └── otherwise (content, mode, link text, kind) ─────> modified
 *   a base entry the walk did not meet (and `outputs` select) ─> deleted
 *
 * A stream without a base contributes every entry as added. What the walk skipped (a link
 * leading outside, an unreadable file) is neither contributed nor counted as deleted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { hashFile, type BaseEntry, type BaseTree } from './basetree.js';
import { outputMatcher, type OutputMatcher } from './globs.js';
import type { SeedRecord } from './seed.js';
import { Ticker } from './ticker.js';
import { collectOutputs, type FileEntry, type Skipped } from './walk.js';

/** What happened to one path. */
export type ChangeKind = 'added' | 'modified' | 'deleted';

/** One changed path of a stream. */
export interface Change {
  rel: string;
  change: ChangeKind;
  /** The kind now (added, modified), or the base's kind (deleted). */
  kind: 'file' | 'symlink' | 'dir';
  /** added / modified: the workspace entry to contribute. */
  entry?: FileEntry;
}

/** Everything a stream changed against its base (or everything it has, without one). */
export interface ChangeSet {
  stream: string;
  /** The base's snapshot directory, or undefined for a stream without a base. */
  base: string | undefined;
  /** Added and modified entries, by rel. */
  entries: FileEntry[];
  /** Base paths the stream deleted, sorted. */
  deleted: string[];
  /** Every change, sorted by rel. */
  changes: Change[];
  /** What the walk left out (see walk.ts). */
  skipped: Skipped[];
}

/** Is `rel` selected by `m` (itself or an ancestor selected, none excluded)? */
function selected(m: OutputMatcher, rel: string): boolean {
  let sel = m.all;
  let p = '';
  for (const part of rel.split('/')) {
    p = p === '' ? part : `${p}/${part}`;
    if (m.excludes(p)) return false;
    sel ||= m.selects(p);
  }
  return sel;
}

/** Is `rel` `root` or below one of `roots`? */
function under(roots: ReadonlySet<string>, rel: string): boolean {
  for (let p = rel; ; ) {
    if (roots.has(p)) return true;
    const cut = p.lastIndexOf('/');
    if (cut === -1) return false;
    p = p.slice(0, cut);
  }
}

/** Is the workspace entry `e` the base entry `b`, unchanged? (`s`: the seed record's stats of `b`, when they apply.) */
function unchanged(e: FileEntry, b: BaseEntry, s: [number, number, number] | undefined): boolean {
  if (e.kind !== b.kind) return false;
  if (e.kind === 'dir') return true;
  if (e.kind === 'symlink') {
    try {
      return fs.readlinkSync(e.abs) === b.link;
    } catch {
      return false;
    }
  }
  if (e.size !== b.size || e.mode !== b.mode) return false;
  if (s !== undefined && e.ino === s[0] && e.mtimeMs === s[1] && e.ctimeMs === s[2]) return true;
  return b.hash !== undefined && hashFile(e.abs) === b.hash;
}

/**
 * The change set of the workspace `dir` (its `outputs`) against `base`, using `seed` (the
 * record of how the workspace was seeded from that base) to skip reading unchanged files.
 */
export async function detectChanges(source: { stream: string; dir: string; outputs: string[] }, base?: BaseTree, seed?: SeedRecord): Promise<ChangeSet> {
  const { entries: walked, skipped } = await collectOutputs(source.dir, source.outputs);
  if (base === undefined) {
    return {
      stream: source.stream,
      base: undefined,
      entries: walked,
      deleted: [],
      changes: walked.map((entry) => ({ rel: entry.rel, change: 'added' as const, kind: entry.kind, entry })),
      skipped,
    };
  }
  const stats =
    seed !== undefined && path.resolve(seed.base) === path.resolve(base.dir) && seed.stats.length === base.entries.length * 3 ? seed.stats : undefined;
  const ticker = new Ticker();
  const seen = new Uint8Array(base.entries.length);
  const entries: FileEntry[] = [];
  const changes: Change[] = [];
  for (const e of walked) {
    await ticker.tick();
    const i = base.index.get(e.rel);
    if (i === undefined) {
      entries.push(e);
      changes.push({ rel: e.rel, change: 'added', kind: e.kind, entry: e });
      continue;
    }
    const b = base.entries[i]!;
    seen[i] = 1;
    const s = stats && stats[i * 3]! >= 0 ? ([stats[i * 3]!, stats[i * 3 + 1]!, stats[i * 3 + 2]!] as [number, number, number]) : undefined;
    if (unchanged(e, b, s)) continue;
    entries.push(e);
    // content, mode, link text, or another kind standing in the base entry's place
    changes.push({ rel: e.rel, change: 'modified', kind: e.kind, entry: e });
  }
  const match = outputMatcher(source.outputs);
  const unknown = new Set(skipped.map((s) => s.rel));
  const deleted: string[] = [];
  for (let i = 0; i < base.entries.length; i++) {
    if (seen[i] === 1) continue;
    const b = base.entries[i]!;
    if (!selected(match, b.rel) || under(unknown, b.rel)) continue;
    // an empty directory of the base that now has something in it is still there
    if (b.kind === 'dir' && isDir(path.join(source.dir, b.rel))) continue;
    deleted.push(b.rel);
    changes.push({ rel: b.rel, change: 'deleted', kind: b.kind });
  }
  changes.sort((a, b) => (a.rel < b.rel ? -1 : 1)); // no two changes share a rel
  return { stream: source.stream, base: base.dir, entries, deleted, changes, skipped };
}

function isDir(abs: string): boolean {
  try {
    return fs.lstatSync(abs).isDirectory();
  } catch {
    return false;
  }
}
