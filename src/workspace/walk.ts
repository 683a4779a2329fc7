/**
 * Collects what a stream contributes: the entries of its workspace selected by `outputs:`.
 *
 * Nothing is ever followed: the walk uses `lstat` and `readdir` only, and a symbolic link is
 * kept (as a link, never as the content it points to) only when it resolves inside the
 * workspace. Directories are entries only when selected and empty of anything kept, so an
 * empty directory survives a merge while every other directory is implied by the paths below
 * it. File contents are not read here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isRepositoryData } from './basetree.js';
import { isWriteTemp } from '../util/write-temp.js';
import { outputMatcher, type OutputMatcher } from './globs.js';
import { fsErrorCode, WorkspaceError } from './root.js';
import { Ticker } from './ticker.js';

/** One selected entry of a workspace. */
export interface FileEntry {
  /** Path relative to the walked directory, `/`-separated, never `.`/`..` components. */
  rel: string;
  /** Absolute path (the walked directory joined with `rel`). */
  abs: string;
  /** A `dir` is only reported when empty of kept entries (see the module comment). */
  kind: 'file' | 'symlink' | 'dir';
  /** Bytes of a file; 0 for links and directories. */
  size: number;
  /** Permission bits (`mode & 0o777`). */
  mode: number;
  /**
   * Symbolic links only: the link rewritten as a normalized relative path from the link's
   * own directory to its target inside the walked directory (`..` only as leading components).
   */
  linkTarget?: string;
  /** Device and inode seen by the walk: the merge checks the file it copied is still this one. */
  dev?: number;
  /** See {@link FileEntry.dev}. */
  ino?: number;
  /** lstat times seen by the walk (change detection compares them with the seed record). */
  mtimeMs?: number;
  /** See {@link FileEntry.mtimeMs}. */
  ctimeMs?: number;
}

/** A selected entry left out of the outputs, and why. */
export interface Skipped {
  rel: string;
  reason: 'symlink-outside' | 'special-file' | 'unreadable';
}

const byRel = (a: { rel: string }, b: { rel: string }): number => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0);

/**
 * The real path of `p`, resolving as much of it as exists: the longest existing prefix is
 * passed through `realpath` and the missing rest appended. Undefined on a link loop.
 */
function realpathOfPrefix(p: string): string | undefined {
  const tail: string[] = [];
  let head = p;
  for (;;) {
    try {
      return path.join(fs.realpathSync.native(head), ...tail);
    } catch (e) {
      const code = fsErrorCode(e);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return undefined;
      const up = path.dirname(head);
      if (up === head) return p;
      tail.unshift(path.basename(head));
      head = up;
    }
  }
}

/** `rel` of `p` below `root`, or undefined when `p` is not `root` or inside it. */
function relInside(root: string, p: string): string | undefined {
  const r = path.relative(root, p);
  if (r === '') return '';
  if (path.isAbsolute(r) || r === '..' || r.startsWith(`..${path.sep}`)) return undefined;
  return r.split(path.sep).join('/');
}

/**
 * The link text to keep for the link at `rel` (absolute `abs`) under the real root, or
 * undefined when it leads outside: resolved against the link's own directory, then through
 * `realpath` as far as the target exists, so `x -> a/etc` with `a -> /` is outside too.
 */
export function insideLinkTarget(realRoot: string, rel: string, abs: string): string | undefined {
  const text = fs.readlinkSync(abs);
  const lexical = path.resolve(path.join(realRoot, ...path.posix.dirname(rel).split('/')), text);
  const resolved = realpathOfPrefix(lexical) ?? lexical;
  const targetRel = relInside(realRoot, resolved);
  if (targetRel === undefined) return undefined;
  return path.posix.relative(path.posix.dirname(rel), targetRel) || '.';
}

const myUid = process.getuid?.();

/** True when this process cannot open the file for reading (checked only where it may fail). */
function unreadable(abs: string, st: fs.Stats): boolean {
  if (myUid === 0 || myUid === undefined) return false;
  if (st.uid === myUid && (st.mode & 0o400) !== 0) return false;
  try {
    fs.accessSync(abs, fs.constants.R_OK);
    return false;
  } catch {
    return true;
  }
}

interface WalkState {
  root: string;
  realRoot: string;
  match: OutputMatcher;
  entries: FileEntry[];
  skipped: Skipped[];
  ticker: Ticker;
}

/** Walks directory `rel`; returns how many entries were kept below it. */
async function visit(s: WalkState, rel: string, selected: boolean): Promise<number> {
  const dirAbs = rel === '' ? s.root : path.join(s.root, rel);
  let dirents: fs.Dirent[];
  try {
    dirents = fs.readdirSync(dirAbs, { withFileTypes: true });
  } catch (e) {
    const code = fsErrorCode(e);
    if (code === 'EACCES' || code === 'EPERM') {
      if (selected) s.skipped.push({ rel, reason: 'unreadable' });
      return 0;
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') return 0; // vanished while walking
    throw e;
  }
  let kept = 0;
  for (const d of dirents) {
    await s.ticker.tick();
    const r = rel === '' ? d.name : `${rel}/${d.name}`;
    // a repository's own data (.git), coord's home and a coord write in flight are never a stream's output
    if (isRepositoryData(r) || isWriteTemp(d.name) || s.match.excludes(r)) continue;
    const sel = selected || s.match.selects(r);
    if (!sel && !d.isDirectory()) continue;
    const abs = path.join(dirAbs, d.name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch (e) {
      if (fsErrorCode(e) === 'ENOENT') continue;
      if (sel) s.skipped.push({ rel: r, reason: 'unreadable' });
      continue;
    }
    const mode = st.mode & 0o777;
    if (st.isDirectory()) {
      if (!sel && !s.match.mayContain(r)) continue;
      const below = await visit(s, r, sel);
      if (below === 0 && sel) {
        s.entries.push({ rel: r, abs, kind: 'dir', size: 0, mode, dev: st.dev, ino: st.ino });
        kept++;
      } else kept += below;
    } else if (!sel) {
      // listed as a directory but no longer one, outside the selection: not kept
    } else if (st.isFile()) {
      if (unreadable(abs, st)) {
        s.skipped.push({ rel: r, reason: 'unreadable' });
        continue;
      }
      s.entries.push({ rel: r, abs, kind: 'file', size: st.size, mode, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
      kept++;
    } else if (st.isSymbolicLink()) {
      let linkTarget: string | undefined;
      try {
        linkTarget = insideLinkTarget(s.realRoot, r, abs);
      } catch {
        s.skipped.push({ rel: r, reason: 'unreadable' });
        continue;
      }
      if (linkTarget === undefined) {
        s.skipped.push({ rel: r, reason: 'symlink-outside' });
        continue;
      }
      s.entries.push({ rel: r, abs, kind: 'symlink', size: 0, mode, linkTarget, dev: st.dev, ino: st.ino, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
      kept++;
    } else {
      s.skipped.push({ rel: r, reason: 'special-file' });
    }
  }
  return kept;
}

/**
 * Walks `dir` (which must be a real directory, not a symbolic link) and returns the entries
 * selected by `outputs` (picomatch globs relative to `dir`, `dot: true`; empty = everything;
 * see globs.ts for directory and `!` patterns), both lists sorted by `rel`.
 *
 * Never walked: `.git` at any depth and a top-level `.coord` (repository data and coord's
 * home are no stream's output), nor the temp files of `coord write` (a write in flight).
 *
 * Skipped: symbolic links that lead outside `dir` (`out -> /`, `x -> /etc/passwd`,
 * `up -> ../..`; their targets are never read), FIFOs, sockets and devices, and what this
 * process cannot read.
 */
export async function collectOutputs(dir: string, outputs: string[]): Promise<{ entries: FileEntry[]; skipped: Skipped[] }> {
  const root = path.resolve(dir);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(root);
  } catch (e) {
    throw new WorkspaceError(`cannot read workspace ${root}: ${(e as Error).message}`, root);
  }
  if (st.isSymbolicLink()) throw new WorkspaceError(`workspace ${root} is a symbolic link; refusing to follow it`, root);
  if (!st.isDirectory()) throw new WorkspaceError(`workspace ${root} is not a directory`, root);
  const s: WalkState = {
    root,
    realRoot: fs.realpathSync.native(root),
    match: outputMatcher(outputs),
    entries: [],
    skipped: [],
    ticker: new Ticker(),
  };
  await visit(s, '', false);
  s.entries.sort(byRel);
  s.skipped.sort(byRel);
  return { entries: s.entries, skipped: s.skipped };
}
