/**
 * Scratch trees for a point's `verify:` check: the tree the point would publish, built in a
 * private directory cheaply enough to make one per check, and never a way for the check to
 * write into anything coord publishes or reads later.
 *
 *   base snapshot (<run>/bases/<key>/tree) ──copy, once per run──> check pool (<run>/verify/pool/<key>)
 *   check pool ──hard links (unchanged base files)──┐
 *   stream workspaces ──copies (changed files)──────┴─> check tree ──check──> tamper check
 *
 * A check tree is the same merge as the published one (`mergeAll`: same sources, order,
 * policy and base), with the base layer's files hard-linked from the pool instead of copied
 * (MergeOptions.linkBaseFrom). Directories, links and the streams' files are the tree's own.
 * A check that replaces, deletes or renames a file in its tree touches only the tree; one
 * that writes into a linked file in place writes into the pool: the tamper check after the
 * check looks at every pool file linked into the tree again (lstat: inode, size, mtime in
 * nanoseconds, mode; not ctime, which a mere unlink in the tree changes), restores a changed
 * one from the base snapshot and reports it. The pool's files carry their snapshot file's
 * times, so any later write moves their mtime. The published tree, the snapshot and the
 * workspaces are never linked, so a check cannot reach them.
 *
 * Checks running side by side share the pool: a file one of them writes in place is seen by
 * every tree that linked it until the tamper check restores it, and every such tree reports
 * it. A write that keeps the size and sets the mtime back is not seen.
 */
import fs from 'node:fs';
import path from 'node:path';
import { mergeAll, MergedPaths, type MergeOptions, type MergeResult, type MergeSource } from '../merge/merge.js';
import { hashFile, type BaseEntry, type BaseTree } from '../workspace/basetree.js';
import { fsErrorCode } from '../workspace/root.js';
import { Ticker } from '../workspace/ticker.js';

const { COPYFILE_EXCL, COPYFILE_FICLONE } = fs.constants;

/** A merge's conflict policy: one for all paths, or rules per path. */
type Policy = Parameters<typeof mergeAll>[2];

/** What lstat shows of a pool file nobody wrote into. */
interface PoolStat {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  mode: bigint;
}

function poolStat(abs: string): PoolStat | undefined {
  try {
    const st = fs.lstatSync(abs, { bigint: true });
    return { ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, mode: st.mode };
  } catch (e) {
    if (fsErrorCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

const sameStat = (a: PoolStat, b: PoolStat | undefined): boolean =>
  b !== undefined && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.mode === b.mode;

/** `root` joined with the plain posix path `rel` (a base's paths have no `.` or `..` parts). */
const join =
  path.sep === '/' ? (root: string, rel: string): string => `${root}/${rel}` : (root: string, rel: string): string => path.join(root, ...rel.split('/'));

/**
 * Copies the snapshot's file `e` to `dst` (which must not exist): a reflink where the file
 * system has them, the manifest's permission bits, the snapshot file's times.
 */
function copyFromSnapshot(base: BaseTree, e: BaseEntry, dst: string): void {
  const src = join(base.tree, e.rel);
  fs.copyFileSync(src, dst, COPYFILE_EXCL | COPYFILE_FICLONE);
  fs.chmodSync(dst, e.mode);
  const st = fs.lstatSync(src);
  fs.utimesSync(dst, st.atime, st.mtime);
}

/** Creates the directories of `rel` under `root` that `made` does not hold yet (private: 0700). */
function mkdirs(root: string, rel: string, made: Set<string>): void {
  if (rel === '' || made.has(rel)) return;
  const cut = rel.lastIndexOf('/');
  mkdirs(root, cut < 0 ? '' : rel.slice(0, cut), made);
  try {
    fs.mkdirSync(join(root, rel), { mode: 0o700 });
  } catch (e) {
    if (fsErrorCode(e) !== 'EEXIST') throw e;
  }
  made.add(rel);
}

const parentOf = (rel: string): string => {
  const cut = rel.lastIndexOf('/');
  return cut < 0 ? '' : rel.slice(0, cut);
};

/**
 * The check pool of one base in one run: one copy of the base snapshot (every entry it
 * lists: files with their modes, links as links, empty directories) whose files check trees
 * hard-link. Made on first use; a pool found already there (the run resumed) is checked
 * against the manifest (kind, size, mode, content hash) and what differs is restored. Use one
 * object per pool directory ({@link checkPool}).
 */
export class CheckPool {
  readonly base: BaseTree;
  /** The pool's tree: the same entries as `base.tree`. */
  readonly tree: string;
  private opening: Promise<string> | undefined;
  /** rel → what the pool file looks like untouched. */
  private readonly stats = new Map<string, PoolStat>();
  /** Every path restored so far, in order (a tree reports those restored since it was built). */
  private readonly restoredLog: string[] = [];

  constructor(base: BaseTree, dir: string) {
    this.base = base;
    this.tree = path.resolve(dir);
  }

  /** Makes (or checks) the pool once; resolves with its tree. */
  open(): Promise<string> {
    this.opening ??= this.make().catch((e: unknown) => {
      this.opening = undefined;
      throw e;
    });
    return this.opening;
  }

  /** How many restorations the pool has made (a mark for {@link CheckPool.restoredSince}). */
  get restorations(): number {
    return this.restoredLog.length;
  }

  /** The paths restored after `mark` ({@link CheckPool.restorations} at some earlier time). */
  restoredSince(mark: number): Set<string> {
    return new Set(this.restoredLog.slice(mark));
  }

  /** Looks at the files `rels` again and restores every one that changed; returns those restored. */
  restoreChanged(rels: Iterable<string>): string[] {
    const out: string[] = [];
    for (const rel of rels) {
      const want = this.stats.get(rel);
      if (want !== undefined && sameStat(want, poolStat(join(this.tree, rel)))) continue;
      const i = this.base.index.get(rel);
      const e = i === undefined ? undefined : this.base.entries[i];
      if (e?.kind !== 'file') continue;
      this.restore(e);
      out.push(rel);
    }
    return out;
  }

  /** Replaces the pool's file of `e` by a fresh copy from the snapshot (a new inode: trees that linked the old one keep it). */
  private restore(e: BaseEntry): void {
    const abs = join(this.tree, e.rel);
    mkdirs(this.tree, parentOf(e.rel), new Set());
    const tmp = path.join(path.dirname(abs), `.coord-restore-${process.pid}-${this.restoredLog.length}`);
    fs.rmSync(tmp, { force: true });
    copyFromSnapshot(this.base, e, tmp);
    fs.renameSync(tmp, abs);
    this.record(e.rel);
    this.restoredLog.push(e.rel);
  }

  private record(rel: string): void {
    const st = poolStat(join(this.tree, rel));
    if (st !== undefined) this.stats.set(rel, st);
  }

  private async make(): Promise<string> {
    const ticker = new Ticker();
    if (fs.existsSync(this.tree)) {
      await this.checkExisting(ticker);
      return this.tree;
    }
    fs.mkdirSync(path.dirname(this.tree), { recursive: true, mode: 0o700 });
    const staging = fs.mkdtempSync(`${this.tree}.making-`);
    try {
      const made = new Set<string>();
      for (const e of this.base.entries) {
        await ticker.tick();
        mkdirs(staging, parentOf(e.rel), made);
        const dst = join(staging, e.rel);
        if (e.kind === 'file') copyFromSnapshot(this.base, e, dst);
        else if (e.kind === 'symlink') fs.symlinkSync(e.link ?? '', dst);
        else mkdirs(staging, e.rel, made);
      }
      fs.renameSync(staging, this.tree);
    } catch (e) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw e;
    }
    for (const e of this.base.entries) if (e.kind === 'file') this.record(e.rel);
    return this.tree;
  }

  /** A pool made earlier: every entry must still be what the manifest says; what is not is restored. */
  private async checkExisting(ticker: Ticker): Promise<void> {
    const made = new Set<string>();
    for (const e of this.base.entries) {
      await ticker.tick();
      const abs = join(this.tree, e.rel);
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(abs);
      } catch (err) {
        if (fsErrorCode(err) !== 'ENOENT') throw err;
      }
      if (e.kind === 'file') {
        const intact = st?.isFile() === true && st.size === e.size && (st.mode & 0o777) === e.mode && hashFile(abs) === e.hash;
        if (intact) this.record(e.rel);
        else {
          if (st !== undefined) fs.rmSync(abs, { recursive: true, force: true });
          this.restore(e);
        }
      } else if (e.kind === 'symlink') {
        if (st?.isSymbolicLink() === true && fs.readlinkSync(abs) === e.link) continue;
        if (st !== undefined) fs.rmSync(abs, { recursive: true, force: true });
        mkdirs(this.tree, parentOf(e.rel), made);
        fs.symlinkSync(e.link ?? '', abs);
      } else if (st?.isDirectory() !== true) {
        if (st !== undefined) fs.rmSync(abs, { force: true });
        mkdirs(this.tree, e.rel, made);
      }
    }
  }
}

const pools = new Map<string, CheckPool>();

/** The check pool of `base` in `dir` (e.g. `<run>/verify/pool/<base key>`): one object per directory in this process. */
export function checkPool(base: BaseTree, dir: string): CheckPool {
  const abs = path.resolve(dir);
  let p = pools.get(abs);
  if (p === undefined || p.base !== base) pools.set(abs, (p = new CheckPool(base, abs)));
  return p;
}

/** Options of {@link buildCheckTree}: the merge's options, with the base given as a pool. */
export interface CheckTreeOptions extends Omit<MergeOptions, 'baseTree' | 'linkBaseFrom' | 'prior'> {
  /** The base the sources were seeded from, as its check pool; without one the tree is a plain merge (all copies). */
  pool?: CheckPool;
}

/** A check's private tree, as built. */
export class CheckTree {
  /** The tree the check runs in (absent when the merge was not ok). */
  readonly dir: string;
  /** The merge as built: what the published merge of the same sources would report. */
  readonly result: MergeResult;
  /** The base files hard-linked from the pool. */
  readonly linked: readonly string[];
  private readonly pool: CheckPool | undefined;
  private readonly mark: number;

  constructor(dir: string, result: MergeResult, pool: CheckPool | undefined, mark: number) {
    this.dir = dir;
    this.result = result;
    this.linked = result.linked ?? [];
    this.pool = pool;
    this.mark = mark;
  }

  /**
   * After the check: every pool file linked into this tree is looked at again; a changed one
   * (the check, or one beside it, wrote into it in place) is restored from the base snapshot.
   * Returns the linked paths changed while this tree existed (by whichever check), sorted.
   */
  tamperCheck(): string[] {
    const pool = this.pool;
    if (pool === undefined || this.linked.length === 0) return [];
    pool.restoreChanged(this.linked);
    const restored = pool.restoredSince(this.mark);
    if (restored.size === 0) return [];
    return this.linked.filter((rel) => restored.has(rel)).sort();
  }

  /** Removes the tree (when the caller chooses: removing many files at once slows later file creation on some disks). */
  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Builds the check tree of `sources` (in merge order) in `dir`, which must not exist: the
 * merge the point would publish with the same sources, policy and options, its base files
 * hard-linked from `opts.pool` (made on first use) and everything else copied. When the merge
 * is not ok nothing is written (see MergeResult). Throws what `mergeAll` throws.
 */
export async function buildCheckTree(dir: string, sources: readonly MergeSource[], policy: Policy, opts: CheckTreeOptions = {}): Promise<CheckTree> {
  const { pool, ...mergeOpts } = opts;
  // a registry of its own: a check tree is nobody's earlier merge
  const merge: MergeOptions = { ...mergeOpts, prior: new MergedPaths() };
  if (pool === undefined) return new CheckTree(path.resolve(dir), await mergeAll(dir, [...sources], policy, merge), undefined, 0);
  const linkBaseFrom = await pool.open();
  const mark = pool.restorations;
  const result = await mergeAll(dir, [...sources], policy, { ...merge, baseTree: pool.base, linkBaseFrom });
  return new CheckTree(path.resolve(dir), result, pool, mark);
}
