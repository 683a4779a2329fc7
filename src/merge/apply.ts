/**
 * The writer: carries out a {@link MergePlan}'s writes under a root (the barrier's staging
 * directory, or a progressive target), never outside it.
 *
 * - Every parent directory is created by us or checked with `lstat` to be a real directory:
 *   nothing is ever written through a symbolic link, even one already in the root.
 * - New files are created with O_EXCL (`COPYFILE_EXCL`), which does not follow a link at the
 *   final component either. In `atomic` mode (progressive targets that readers may be
 *   looking at) each file or link is written to a temporary name in its own directory and
 *   `rename`d into place, so a reader sees the old file or the new one, never half of one
 *   (rename(2) replaces atomically within one file system); a directory new to the target
 *   is built whole under a temporary name and renamed into place the same way.
 * - Symbolic links are re-created only when their text resolves inside the root.
 * - A write that carries `data` (a three-way merged file) writes those bytes instead of
 *   copying its entry, the same way (O_EXCL, atomic rename in `atomic` mode).
 * - A write marked `link` (a check tree's base file, from a pool) is a hard link to its
 *   entry; it is copied when the link cannot be made.
 * - Permission bits (`mode & 0o777`) are kept; set-id and sticky bits are dropped. Empty
 *   directories keep theirs plus the owner's rwx.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { openVerified } from '../workspace/content.js';
import type { PlannedWrite } from './resolve.js';
import { fsErrorCode, WorkspaceError } from '../workspace/root.js';
import { Ticker } from '../workspace/ticker.js';
import type { FileEntry } from '../workspace/walk.js';
import { unreachable } from '../core/unreachable.js';
import { diskFullAt } from '../util/disk-full.js';

const { COPYFILE_EXCL, COPYFILE_FICLONE, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
/** Linux: large files are copied from the descriptor we opened and verified, by its /proc name. */
const PROC_FD = fs.existsSync('/proc/self/fd') ? '/proc/self/fd/' : undefined;

/** How the writes are carried out. */
export interface ApplyOptions {
  /** Write to a temporary name and rename into place (for targets readers may be watching). */
  atomic: boolean;
}

/** What the writer did. */
export interface ApplyOutcome {
  /** Entries written (files, links, empty directories). */
  written: PlannedWrite[];
  /** Links whose text would have led outside the root (not written). */
  outside: PlannedWrite[];
  /** The `link` writes carried out as hard links (their `outRel`). */
  linked: string[];
}

/** Is `p` `root` itself or below it (lexically)? */
function inside(root: string, p: string): boolean {
  const r = path.relative(root, p);
  return r === '' || (!path.isAbsolute(r) && r !== '..' && !r.startsWith(`..${path.sep}`));
}

let tmpCounter = 0;
const tmpSuffix = randomBytes(4).toString('hex');
/** A temporary name in the same directory as `dst` (same file system, so rename is atomic). */
const tmpNameFor = (dst: string): string => path.join(path.dirname(dst), `.coord-tmp-${tmpSuffix}-${++tmpCounter}`);

/** Files up to this size are copied through one reused buffer; larger ones with copyFile. */
const SMALL_FILE = 256 * 1024;
let sharedBuffer: Buffer | undefined;

/**
 * Copies the regular file of `entry` to `dst` (which must not exist), keeping its permission
 * bits. The source is opened and checked first ({@link openVerified}); small files (most of
 * a merge) are then read and written through one buffer, which measured ~25% faster than
 * copyFile here; large ones go through copyFile (copy_file_range, reflinks where the file
 * system has them) from the verified descriptor's /proc name.
 */
function copyFileTo(entry: FileEntry, dst: string, umask: number): void {
  const { fd, stat } = openVerified(entry.abs, entry);
  try {
    const mode = stat.mode & 0o777;
    if (stat.size > SMALL_FILE && PROC_FD !== undefined) {
      fs.copyFileSync(`${PROC_FD}${fd}`, dst, COPYFILE_EXCL | COPYFILE_FICLONE);
      // copyFile gives the copy the source's whole mode; keep only the permission bits.
      if ((stat.mode & 0o7000) !== 0) fs.chmodSync(dst, mode);
      return;
    }
    const out = fs.openSync(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    try {
      const buf = (sharedBuffer ??= Buffer.allocUnsafe(SMALL_FILE));
      for (let n: number; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) {
        for (let off = 0; off < n; ) off += fs.writeSync(out, buf, off, n - off);
      }
      if ((mode & umask) !== 0) fs.fchmodSync(out, mode);
    } finally {
      fs.closeSync(out);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Why a hard link could not be made where a copy still can: another file system, too many links, not permitted. */
const LINK_REFUSED = new Set(['EXDEV', 'EMLINK', 'EPERM']);

/**
 * Hard-links `entry.abs` at `dst` (which must not exist); false when the link cannot be made
 * (then nothing is at `dst`). The file is not opened nor checked: link writes come from a
 * directory coord made for them (MergeOptions.linkBaseFrom), whose owner looks at its files
 * again after each use.
 */
function linkFileTo(entry: FileEntry, dst: string): boolean {
  try {
    fs.linkSync(entry.abs, dst);
    return true;
  } catch (e) {
    if (LINK_REFUSED.has(fsErrorCode(e) ?? '')) return false;
    throw e;
  }
}

/** Writes `data` to `dst` (which must not exist) with permission bits `mode`. */
function writeDataTo(data: Buffer, mode: number, dst: string, umask: number): void {
  const out = fs.openSync(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    for (let off = 0; off < data.length; ) off += fs.writeSync(out, data, off, data.length - off);
    if ((mode & umask) !== 0) fs.fchmodSync(out, mode);
  } finally {
    fs.closeSync(out);
  }
}

/** A directory of the result: where it physically is now, and whether writes into it can be direct. */
interface DirState {
  abs: string;
  /** true: nobody can see into it yet (staging, or a new directory built under a temp name). */
  staged: boolean;
}

/** A relative path made only of real names (no empty, `.` or `..` components). */
const plainRel = (rel: string): boolean => rel !== '' && !rel.split('/').some((p) => p === '' || p === '.' || p === '..');

/** Creates directory `abs`, or checks that what is there is a real directory. */
function mkdirChecked(abs: string): void {
  try {
    fs.mkdirSync(abs);
  } catch (e) {
    if (fsErrorCode(e) !== 'EEXIST') throw e;
    refuseUnlessDir(abs, fs.lstatSync(abs));
  }
}

function refuseUnlessDir(abs: string, st: fs.Stats): void {
  if (st.isDirectory()) return;
  const what = st.isSymbolicLink() ? 'a symbolic link' : 'not a directory';
  throw new WorkspaceError(`refusing to write through ${abs}: it is ${what}`, abs);
}

/**
 * Writes `ops` under `root` (see the module comment). In `atomic` mode a directory that does
 * not exist yet is built whole under a temporary name and renamed into place at the end, so
 * a new subtree appears at once (and costs one rename instead of one per file).
 */
export async function applyWrites(root: string, ops: readonly PlannedWrite[], opts: ApplyOptions): Promise<ApplyOutcome> {
  const ticker = new Ticker();
  const umask = process.umask();
  const outcome: ApplyOutcome = { written: [], outside: [], linked: [] };
  const dirs = new Map<string, DirState>([['', { abs: root, staged: !opts.atomic }]]);
  const newDirs: Array<{ tmp: string; abs: string }> = [];

  const dirAt = (rel: string): DirState => {
    const known = dirs.get(rel);
    if (known !== undefined) return known;
    const cut = rel.lastIndexOf('/');
    const parent = dirAt(cut < 0 ? '' : rel.slice(0, cut));
    const abs = path.join(parent.abs, rel.slice(cut + 1));
    let state: DirState = { abs, staged: true };
    if (parent.staged) mkdirChecked(abs);
    else {
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(abs);
      } catch (e) {
        if (fsErrorCode(e) !== 'ENOENT') throw e;
      }
      if (st !== undefined) {
        refuseUnlessDir(abs, st);
        state = { abs, staged: false };
      } else {
        const tmp = tmpNameFor(abs);
        fs.mkdirSync(tmp);
        newDirs.push({ tmp, abs });
        state = { abs: tmp, staged: true };
      }
    }
    dirs.set(rel, state);
    return state;
  };

  const place = (dir: DirState, name: string, make: (to: string) => void): void => {
    const dst = `${dir.abs}${path.sep}${name}`;
    if (dir.staged) return make(dst);
    const tmp = tmpNameFor(dst);
    try {
      make(tmp);
      fs.renameSync(tmp, dst);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  };

  const emptyDirs: Array<{ rel: string; mode: number }> = [];
  const sorted = [...ops].sort((a, b) => (a.outRel < b.outRel ? -1 : a.outRel > b.outRel ? 1 : 0));
  try {
    for (const op of sorted) {
      await ticker.tick();
      const { entry, outRel } = op;
      if (!plainRel(outRel)) throw new WorkspaceError(`refusing to write ${outRel}: not a plain path inside ${root}`, root);
      const cut = outRel.lastIndexOf('/');
      const parent = dirAt(cut < 0 ? '' : outRel.slice(0, cut));
      const name = outRel.slice(cut + 1);
      switch (entry.kind) {
        case 'dir':
          dirAt(outRel);
          emptyDirs.push({ rel: outRel, mode: entry.mode });
          break;
        case 'file': {
          const { data } = op;
          try {
            if (data !== undefined) place(parent, name, (to) => writeDataTo(data, op.mode ?? entry.mode, to, umask));
            else if (op.link === true)
              place(parent, name, (to) => {
                if (linkFileTo(entry, to)) outcome.linked.push(outRel);
                else copyFileTo(entry, to, umask);
              });
            else place(parent, name, (to) => copyFileTo(entry, to, umask));
          } catch (e) {
            // a full disk names the path being written (Node's error names a /proc/self/fd source, or nothing)
            throw diskFullAt(e, path.join(root, outRel));
          }
          break;
        }
        case 'symlink': {
          const text = entry.linkTarget;
          const final = path.join(root, outRel);
          if (text === undefined || path.isAbsolute(text) || !inside(root, path.resolve(path.dirname(final), text))) {
            outcome.outside.push(op);
            continue;
          }
          place(parent, name, (to) => fs.symlinkSync(text, to));
          break;
        }
        default:
          return unreachable(entry.kind);
      }
      outcome.written.push(op);
    }
    for (const d of newDirs) {
      try {
        fs.renameSync(d.tmp, d.abs);
      } catch (e) {
        throw new WorkspaceError(`cannot move the new directory ${d.abs} into place: ${(e as Error).message}`, d.abs);
      }
    }
  } catch (e) {
    for (const d of newDirs) fs.rmSync(d.tmp, { recursive: true, force: true });
    throw e;
  }
  // Last, and keeping the owner's rwx: later writes (another stream, a later progressive
  // merge) must still be able to go into a directory that was empty and read-only at its source.
  for (const d of emptyDirs) fs.chmodSync(path.join(root, d.rel), d.mode | 0o700);
  return outcome;
}

/**
 * Deletes target paths (a `last` merge replacing a directory by a file or back, a deletion);
 * links are removed, not followed, and nothing is removed through a parent that is not a
 * real directory (a parent swapped for a link to `/etc` is refused).
 */
export function removeAll(root: string, rels: readonly string[]): void {
  for (const rel of rels) {
    const abs = path.join(root, rel);
    if (rel === '' || !plainRel(rel) || !inside(root, abs)) throw new WorkspaceError(`refusing to remove ${abs}: outside ${root}`, abs);
    const parts = rel.split('/');
    let dir = root;
    let present = true;
    for (const part of parts.slice(0, -1)) {
      dir = path.join(dir, part);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(dir);
      } catch (e) {
        if (fsErrorCode(e) !== 'ENOENT') throw e;
        present = false; // a parent is gone: so is the path
        break;
      }
      refuseUnlessDir(dir, st);
    }
    if (present) fs.rmSync(abs, { recursive: true, force: true });
  }
}

/** Removes `rels` from `root` ({@link removeAll}), then each parent directory this left empty (up to the root). */
export function removeAndPrune(root: string, rels: readonly string[]): void {
  removeAll(root, rels);
  for (const rel of rels) {
    for (let dir = path.posix.dirname(rel); dir !== '.' && dir !== ''; dir = path.posix.dirname(dir)) {
      try {
        fs.rmdirSync(path.join(root, dir));
      } catch {
        break; // not empty (or not there): stop climbing
      }
    }
  }
}
