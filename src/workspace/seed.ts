/**
 * Seeding a workspace from its base (basetree.ts), and the record that makes finding an
 * unchanged file cost one `lstat` later (the way git's index keeps stat data).
 *
 * For every entry of the base the record keeps the seeded copy's inode, mtime and ctime. A
 * file whose `lstat` still shows all three (and the base's size and permission bits) was not
 * touched: a write changes mtime and ctime, a rename or a new link changes ctime, and nothing
 * a stream can do sets ctime back. Seeding ends only once the clock has moved past the newest
 * ctime it wrote, so that a change made in the same clock tick as the seeding still shows
 * (git's "racy clean" case). A file whose stat differs is compared by content hash.
 *
 * Repository data of the base (`.git`) is copied in as it is, for the tools that want it,
 * and is never part of the record nor of the stream's contribution.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { copyRegular, type BaseTree } from './basetree.js';
import { fsErrorCode } from './root.js';
import { mkdirPrivate, writeFileAtomicSync } from '../util/fsx.js';
import { Ticker } from './ticker.js';

/** What seeding wrote: per base entry (in the base's order) the copy's inode, mtime and ctime. */
export interface SeedRecord {
  /** The base's snapshot directory. */
  base: string;
  workspace: string;
  seededAt: string;
  /** Three numbers per base entry: ino, mtimeMs, ctimeMs (-1 when the entry was not written). */
  stats: number[];
}

/** Seeds `workspace` (an existing, empty directory) with `base`; returns the stat record. */
export async function seedWorkspace(base: BaseTree, workspace: string): Promise<SeedRecord> {
  const ws = path.resolve(workspace);
  const ticker = new Ticker();
  const made = new Set<string>(['']);
  const mkdirs = (rel: string): void => {
    if (made.has(rel)) return;
    const cut = rel.lastIndexOf('/');
    mkdirs(cut < 0 ? '' : rel.slice(0, cut));
    try {
      fs.mkdirSync(path.join(ws, rel));
    } catch (e) {
      if (fsErrorCode(e) !== 'EEXIST') throw e;
    }
    made.add(rel);
  };
  const stats = new Array<number>(base.entries.length * 3).fill(-1);
  let newest = 0;
  for (let i = 0; i < base.entries.length; i++) {
    await ticker.tick();
    const e = base.entries[i]!;
    const cut = e.rel.lastIndexOf('/');
    mkdirs(cut < 0 ? '' : e.rel.slice(0, cut));
    const from = path.join(base.tree, e.rel);
    const to = path.join(ws, e.rel);
    let st: fs.Stats;
    if (e.kind === 'file') st = copyRegular(from, to, e.mode, false).stat;
    else if (e.kind === 'symlink') {
      fs.symlinkSync(e.link ?? '', to);
      st = fs.lstatSync(to);
    } else {
      mkdirs(e.rel);
      fs.chmodSync(to, e.mode | 0o700);
      continue;
    }
    stats[i * 3] = st.ino;
    stats[i * 3 + 1] = st.mtimeMs;
    stats[i * 3 + 2] = st.ctimeMs;
    if (st.ctimeMs > newest) newest = st.ctimeMs;
  }
  await ticker.tick();
  for (const rel of base.gitDirs) {
    const from = path.join(base.source, rel);
    const to = path.join(ws, rel);
    mkdirs(path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel));
    fs.cpSync(from, to, { recursive: true, verbatimSymlinks: true, errorOnExist: false, force: false });
  }
  await clockPast(ws, newest);
  return { base: base.dir, workspace: ws, seededAt: new Date().toISOString(), stats };
}

/**
 * Waits until a file created in `dir` gets a ctime later than `t` (the file system clock is
 * coarse: a few milliseconds a tick), so a stream's first change cannot share the seeding's
 * timestamps. Usually returns at once.
 */
async function clockPast(dir: string, t: number): Promise<void> {
  const probe = path.join(dir, `.coord-clock-${process.pid}`);
  try {
    for (let i = 0; i < 200; i++) {
      fs.writeFileSync(probe, '');
      if (fs.lstatSync(probe).ctimeMs > t) return;
      await sleep(1);
    }
  } finally {
    fs.rmSync(probe, { force: true });
  }
}

/** Where a run keeps the seed record of a workspace (a shared workspace has one for all its streams). */
export function seedFileOf(runDir: string, workspace: string): string {
  return path.join(runDir, 'seeds', `${createHash('sha1').update(path.resolve(workspace)).digest('hex').slice(0, 16)}.json`);
}

/** Writes a seed record (mode 0600). */
export function saveSeed(file: string, seed: SeedRecord): void {
  mkdirPrivate(path.dirname(file));
  writeFileAtomicSync(file, JSON.stringify(seed));
}

/** Reads a seed record; undefined when there is none. */
export function loadSeed(file: string): SeedRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as SeedRecord;
  } catch (e) {
    if (fsErrorCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}
