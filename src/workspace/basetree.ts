/**
 * The base of a run's streams, as seeded: a private snapshot of a `base:` directory, taken
 * once per run, and the manifest of what it holds (path, kind, size, permission bits, and a
 * content hash of every file). Everything that judges a stream's work against its base reads
 * the snapshot, never the user's directory, which may change while the run runs:
 *
 *   base: ./repo ──snapshot (once per run)──> <run>/bases/<key>/tree + manifest.json
 *                        │
 *                        ├──seed (each workspace; seed.ts)──> workspace + its stat record
 *                        ├──change detection (changes.ts): workspace vs manifest
 *                        └──three-way bases, `coord diff`, `coord apply`, the published tree
 *
 * Never part of a base: `.git` (at any depth: a repository's own data, copied into each
 * workspace for the tools that want it but never merged), a top-level `.coord`, and the
 * directories given as `exclude` (the run's own home and workspace root when they sit inside
 * the base). Special files are left out. A symbolic link is kept as a link, its text as it is.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fsErrorCode, WorkspaceError } from './root.js';
import { Ticker } from './ticker.js';
import { isWriteTemp } from '../util/write-temp.js';
import { diskFullAt } from '../util/disk-full.js';

/** One entry of a base: files, links and empty directories (other directories are implied). */
export interface BaseEntry {
  rel: string;
  kind: 'file' | 'symlink' | 'dir';
  size: number;
  mode: number;
  /** Files: content hash ({@link hashBytes}). */
  hash?: string;
  /** Symbolic links: the link text as read. */
  link?: string;
}

/** A base as a run took it. */
export interface BaseTree {
  /** The user's directory the snapshot was taken from. */
  source: string;
  /** The snapshot's own directory (`<run>/bases/<key>`); its content is in `tree/`. */
  dir: string;
  /** `dir/tree`: the snapshot itself. */
  tree: string;
  entries: BaseEntry[];
  /** rel → index into `entries`. */
  index: Map<string, number>;
  /** Paths of the source left out because they are repository data (`.git`), to copy into workspaces as they are. */
  gitDirs: string[];
  /** When the snapshot was taken (ISO). */
  takenAt: string;
}

/** Name components that are never part of a base, at any depth. */
export const NEVER_CONTRIBUTED = '.git';
/** A top-level name that is never part of a base (coord's own home). */
export const COORD_HOME_NAME = '.coord';

/** Is `rel` (posix) repository data or coord's home, never contributed? */
export function isRepositoryData(rel: string): boolean {
  if (rel === COORD_HOME_NAME || rel.startsWith(`${COORD_HOME_NAME}/`)) return true;
  return (
    rel === NEVER_CONTRIBUTED || rel.startsWith(`${NEVER_CONTRIBUTED}/`) || rel.includes(`/${NEVER_CONTRIBUTED}/`) || rel.endsWith(`/${NEVER_CONTRIBUTED}`)
  );
}

/** The content hash used by bases and change sets (SHA-1: identity within a run, not security). */
export function hashBytes(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

/** The directory key of a base source within a run (`<run>/bases/<key>`). */
export function baseKey(source: string): string {
  return createHash('sha1').update(path.resolve(source)).digest('hex').slice(0, 12);
}

const BUF_SIZE = 256 * 1024;
let shared: Buffer | undefined;
const buffer = (): Buffer => (shared ??= Buffer.allocUnsafe(BUF_SIZE));
/** Linux: a descriptor's name under /proc, to copy from what was opened and checked. */
const PROC_FD = fs.existsSync('/proc/self/fd') ? '/proc/self/fd/' : undefined;
const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_WRONLY, O_CREAT, O_EXCL, COPYFILE_EXCL, COPYFILE_FICLONE } = fs.constants;

/**
 * Copies the regular file `src` to `dst` (which must not exist) with permission bits `mode`,
 * never following a link at either end; returns its content hash when `hash` is set, and the
 * new file's stat. Small files go through one buffer (fewer system calls than copyFile, and
 * the bytes are there to hash); large ones through copyFile (reflinks where the file system
 * has them) and are then read to hash.
 */
export function copyRegular(src: string, dst: string, mode: number, hash: boolean): { hash?: string; stat: fs.Stats } {
  try {
    return copyRegularOnce(src, dst, mode, hash);
  } catch (e) {
    // a full disk names the copy (Node's error names the source's /proc/self/fd name, or nothing)
    throw diskFullAt(e, dst);
  }
}

function copyRegularOnce(src: string, dst: string, mode: number, hash: boolean): { hash?: string; stat: fs.Stats } {
  const fd = fs.openSync(src, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new WorkspaceError(`${src} is not a regular file`, src);
    if (st.size >= BUF_SIZE) {
      // from the descriptor opened above (its /proc name), so a link swapped in meanwhile is not followed
      fs.copyFileSync(PROC_FD !== undefined ? `${PROC_FD}${fd}` : src, dst, COPYFILE_EXCL | COPYFILE_FICLONE);
      fs.chmodSync(dst, mode);
      const h = hash ? hashFd(fd) : undefined;
      return { ...(h !== undefined ? { hash: h } : {}), stat: fs.lstatSync(dst) };
    }
    const buf = buffer();
    let n = 0;
    for (let got: number; n < buf.length && (got = fs.readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += got;
    const out = fs.openSync(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    try {
      for (let off = 0; off < n; ) off += fs.writeSync(out, buf, off, n - off);
      if ((mode & process.umask()) !== 0) fs.fchmodSync(out, mode);
      const stat = fs.fstatSync(out);
      return { ...(hash ? { hash: hashBytes(buf.subarray(0, n)) } : {}), stat };
    } catch (e) {
      // (a full disk part way): no short copy stays under the name, which this call created
      fs.rmSync(dst, { force: true });
      throw e;
    } finally {
      fs.closeSync(out);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The content hash of an open file, read from its start. */
function hashFd(fd: number): string {
  const h = createHash('sha1');
  const buf = buffer();
  let pos = 0;
  for (let n: number; (n = fs.readSync(fd, buf, 0, buf.length, pos)) > 0; pos += n) h.update(buf.subarray(0, n));
  return h.digest('hex');
}

/** The content hash of the regular file at `abs` (not following a final link); undefined when it is not one. */
export function hashFile(abs: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(abs, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return undefined;
    return hashFd(fd);
  } finally {
    fs.closeSync(fd);
  }
}

interface SnapshotWalk {
  src: string;
  dst: string;
  exclude: Set<string>;
  entries: BaseEntry[];
  gitDirs: string[];
  skipped: string[];
  ticker: Ticker;
}

async function copyTree(w: SnapshotWalk, rel: string): Promise<number> {
  const from = rel === '' ? w.src : path.join(w.src, rel);
  const to = rel === '' ? w.dst : path.join(w.dst, rel);
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(from, { withFileTypes: true });
  } catch (e) {
    const code = fsErrorCode(e);
    if (code === 'EACCES' || code === 'EPERM') {
      w.skipped.push(rel);
      return 0;
    }
    throw e;
  }
  names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let kept = 0;
  for (const d of names) {
    await w.ticker.tick();
    const r = rel === '' ? d.name : `${rel}/${d.name}`;
    const abs = path.join(from, d.name);
    if (isRepositoryData(r)) {
      if (d.name === NEVER_CONTRIBUTED) w.gitDirs.push(r);
      continue;
    }
    if (w.exclude.has(abs) || isWriteTemp(d.name)) continue;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(abs);
    } catch {
      continue;
    }
    const mode = st.mode & 0o777;
    const out = path.join(to, d.name);
    if (st.isDirectory()) {
      fs.mkdirSync(out, { mode: 0o700 });
      const below = await copyTree(w, r);
      fs.chmodSync(out, mode | 0o700);
      if (below === 0) w.entries.push({ rel: r, kind: 'dir', size: 0, mode });
      kept += below === 0 ? 1 : below;
    } else if (st.isFile()) {
      try {
        const c = copyRegular(abs, out, mode, true);
        w.entries.push({ rel: r, kind: 'file', size: c.stat.size, mode, ...(c.hash !== undefined ? { hash: c.hash } : {}) });
        kept++;
      } catch (e) {
        const code = fsErrorCode(e);
        if (code !== 'EACCES' && code !== 'EPERM') throw e;
        w.skipped.push(r);
      }
    } else if (st.isSymbolicLink()) {
      const link = fs.readlinkSync(abs);
      fs.symlinkSync(link, out);
      w.entries.push({ rel: r, kind: 'symlink', size: 0, mode, link });
      kept++;
    }
    // FIFOs, sockets and devices are no part of a base
  }
  return kept;
}

type ManifestRow = [rel: string, kind: 'f' | 'l' | 'd', size: number, mode: number, hashOrLink: string | null];

function toRow(e: BaseEntry): ManifestRow {
  return [e.rel, e.kind === 'file' ? 'f' : e.kind === 'symlink' ? 'l' : 'd', e.size, e.mode, e.hash ?? e.link ?? null];
}

function fromRow(r: ManifestRow): BaseEntry {
  const [rel, k, size, mode, extra] = r;
  if (k === 'f') return { rel, kind: 'file', size, mode, ...(extra !== null ? { hash: extra } : {}) };
  if (k === 'l') return { rel, kind: 'symlink', size, mode, link: extra ?? '' };
  return { rel, kind: 'dir', size, mode };
}

function indexOf(entries: BaseEntry[]): Map<string, number> {
  return new Map(entries.map((e, i) => [e.rel, i]));
}

/** The real paths of `paths` (as given where they do not exist yet), to compare with a walk under a real path. */
function realPaths(paths: readonly string[]): Set<string> {
  return new Set(
    paths.map((p) => {
      try {
        return fs.realpathSync.native(p);
      } catch {
        return path.resolve(p);
      }
    }),
  );
}

/** Options of {@link snapshotBase}. */
export interface SnapshotOptions {
  /** Absolute directories inside the source to leave out (the run's home, the workspace root). */
  exclude?: string[];
}

/**
 * Takes the snapshot of `source` into `dir` (which must not exist): `dir/tree` and
 * `dir/manifest.json`. The tree is built under a temporary name and renamed into place, so a
 * snapshot is whole or absent. Returns the base with `skipped` (what could not be read).
 */
export async function snapshotBase(source: string, dir: string, opts: SnapshotOptions = {}): Promise<BaseTree & { skipped: string[] }> {
  const src = path.resolve(source);
  let st: fs.Stats;
  try {
    st = fs.statSync(src);
  } catch (e) {
    throw new WorkspaceError(`base ${src} cannot be read: ${(e as Error).message}`, src);
  }
  if (!st.isDirectory()) throw new WorkspaceError(`base ${src} is not a directory`, src);
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
  const staging = fs.mkdtempSync(`${dir}.taking-`);
  try {
    const tree = path.join(staging, 'tree');
    fs.mkdirSync(tree, { mode: 0o700 });
    const w: SnapshotWalk = {
      src: fs.realpathSync.native(src),
      dst: tree,
      exclude: realPaths(opts.exclude ?? []),
      entries: [],
      gitDirs: [],
      skipped: [],
      ticker: new Ticker(),
    };
    await copyTree(w, '');
    w.entries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    const takenAt = new Date().toISOString();
    const manifest = { version: 1, source: src, takenAt, gitDirs: w.gitDirs, entries: w.entries.map(toRow) };
    fs.writeFileSync(path.join(staging, 'manifest.json'), JSON.stringify(manifest), { mode: 0o600 });
    fs.renameSync(staging, dir);
    return { source: src, dir, tree: path.join(dir, 'tree'), entries: w.entries, index: indexOf(w.entries), gitDirs: w.gitDirs, takenAt, skipped: w.skipped };
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

/** Reads the base a run took into `dir`; undefined when there is none. */
export function loadBaseTree(dir: string): BaseTree | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8');
  } catch (e) {
    if (fsErrorCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  const m = JSON.parse(text) as { source: string; takenAt: string; gitDirs?: string[]; entries: ManifestRow[] };
  const entries = m.entries.map(fromRow);
  return { source: m.source, dir, tree: path.join(dir, 'tree'), entries, index: indexOf(entries), gitDirs: m.gitDirs ?? [], takenAt: m.takenAt };
}

/** The base version of `rel` in the snapshot (absolute path), or undefined when the base has none there. */
export function basePath(base: BaseTree, rel: string): string | undefined {
  return base.index.has(rel) ? path.join(base.tree, ...rel.split('/')) : undefined;
}

/**
 * The paths where the user's directory no longer matches the snapshot the run took of it
 * (added, removed, or with another kind, size, mode, link text or content), at most `limit`.
 * Reads a file only when its size still matches.
 */
export async function changedSince(base: BaseTree, opts: SnapshotOptions & { limit?: number } = {}): Promise<string[]> {
  const limit = opts.limit ?? 20;
  const exclude = realPaths(opts.exclude ?? []);
  const ticker = new Ticker();
  const seen = new Set<string>();
  const out: string[] = [];
  let src: string;
  try {
    src = fs.realpathSync.native(base.source);
  } catch {
    return ['(the base directory is gone)'];
  }
  const visit = async (rel: string): Promise<void> => {
    let names: fs.Dirent[];
    try {
      names = fs.readdirSync(rel === '' ? src : path.join(src, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of names) {
      if (out.length >= limit) return;
      await ticker.tick();
      const r = rel === '' ? d.name : `${rel}/${d.name}`;
      const abs = path.join(src, r);
      if (isRepositoryData(r) || isWriteTemp(d.name) || exclude.has(abs)) continue;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(abs);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (fs.readdirSync(abs).length > 0) {
          await visit(r);
          continue;
        }
        seen.add(r); // an empty directory is an entry of its own
        if (base.entries[base.index.get(r) ?? -1]?.kind !== 'dir') out.push(r);
        continue;
      }
      if (!st.isFile() && !st.isSymbolicLink()) continue;
      seen.add(r);
      const e = base.entries[base.index.get(r) ?? -1];
      if (e === undefined) out.push(r);
      else if (st.isSymbolicLink()) {
        if (e.kind !== 'symlink' || fs.readlinkSync(abs) !== e.link) out.push(r);
      } else if (e.kind !== 'file' || e.size !== st.size || e.mode !== (st.mode & 0o777) || hashFile(abs) !== e.hash) out.push(r);
    }
  };
  await visit('');
  for (const e of base.entries) {
    if (out.length >= limit) break;
    if (!seen.has(e.rel)) out.push(e.rel);
  }
  return out;
}
