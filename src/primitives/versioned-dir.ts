/**
 * A JSON document kept as a chain of immutable versions in one directory, updated by
 * compare-and-set without any mutex: `<dir>/<n>.json` is version n, and a writer that read
 * version n publishes n+1 with link(2), which fails with EEXIST when another writer got there
 * first (link never replaces its target; see link(2)). The loser re-reads and retries.
 *
 * Why not a mutex plus rename: a process killed inside the critical section leaves the mutex
 * behind, and reclaiming a stale mutex is racy (two reclaimers can both win, which is one of
 * proper-lockfile's traps). Here a killed writer leaves at most an unlinked temp file: the
 * chain always reads back as a whole committed version, and versions never go back.
 *
 * Old versions are removed beyond `keep`, oldest first. A removed name can be linked again by
 * a writer that was paused between its read and its link, so after its link a writer confirms
 * that its version continues the chain (see confirm()): every version records the nonce of
 * the version it was built on and the nonces of the last RECENT commits.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isErrno, linkPublish, numberedNames, TEMP_NAME } from './link-publish.js';

/** One committed version: its number, its own nonce, the nonce it was built on, the data. */
export interface Version<T> {
  version: number;
  nonce: string;
  prev: string | null;
  time: number;
  data: T;
  /** What the writer recorded beside the data (the state store keeps its change-log entry here). */
  meta?: unknown;
  /** The first 8 hex digits of the nonces of the newest commits, this one first (at most RECENT), joined. */
  recent?: string;
  /** Log entries that go with this version (by log name): kept here so they can be written again when their writer died. */
  logs?: Record<string, unknown>;
}

/** How many commits back a version remembers. */
const RECENT = 128;
const mark = (nonce: string): string => nonce.slice(0, 8);

export interface VersionedDirOptions<T> {
  /** The document before its first version (version 0). */
  initial: () => T;
  /** How many newest versions stay on disk (default 8). */
  keep?: number;
  /** fsync each new version and the directory (default false: survives process crashes, not power loss). */
  durable?: boolean;
  /** Directory mode when created (default 0700). */
  mode?: number;
  /** Called with the version numbers about to be removed as old, before they are. */
  beforeCollect?: (versions: number[]) => void;
}

/** What an update function returns: the next document, or `undefined` to change nothing. */
export type Updater<T> = (current: Readonly<T>, version: number) => T | undefined;

const NAME = /^(\d+)\.json$/;

/** True when `recent` (8-hex-digit marks, joined) holds the mark of `nonce`. */
function recentHas(recent: string, nonce: string): boolean {
  const m = mark(nonce);
  for (let i = 0; i + 8 <= recent.length; i += 8) if (recent.startsWith(m, i)) return true;
  return false;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return !isErrno(e, 'ESRCH');
  }
}

/** Version numbers present in `dir`, highest first; an empty list when the directory is missing. */
function listVersions(dir: string): number[] {
  return numberedNames(dir, NAME).reverse();
}

export class VersionedDir<T> {
  readonly dir: string;
  private readonly keep: number;
  private readonly durable: boolean;
  private readonly initial: () => T;
  private readonly mode: number;
  private readonly beforeCollect: ((versions: number[]) => void) | undefined;

  constructor(dir: string, opts: VersionedDirOptions<T>) {
    this.dir = dir;
    this.initial = opts.initial;
    this.keep = Math.max(2, opts.keep ?? 8);
    this.durable = opts.durable ?? false;
    this.mode = opts.mode ?? 0o700;
    this.beforeCollect = opts.beforeCollect;
  }

  private file(version: number): string {
    return join(this.dir, `${version}.json`);
  }

  /** Reads one version; `undefined` when it is gone (removed as old) or never was. */
  readVersion(version: number): Version<T> | undefined {
    try {
      return JSON.parse(readFileSync(this.file(version), 'utf8')) as Version<T>;
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
  }

  /** The versions still on disk, newest first. */
  versions(): number[] {
    return listVersions(this.dir);
  }

  /** The newest committed version (version 0 with the initial document when there is none). */
  read(): Version<T> {
    for (;;) {
      const [top] = listVersions(this.dir);
      if (top === undefined) return { version: 0, nonce: '', prev: null, time: 0, data: this.initial() };
      const v = this.readVersion(top);
      if (v) return v;
      // removed between readdir and read: a newer version exists, look again
    }
  }

  /**
   * Applies `fn` to the newest version and publishes the result as the next version,
   * retrying on conflict. Returns the version the document is at afterwards and whether
   * this call made it.
   */
  update(fn: Updater<T>): { version: Version<T>; changed: boolean } {
    for (;;) {
      const listed = listVersions(this.dir);
      const top = listed[0];
      const cur: Version<T> | undefined = top === undefined ? { version: 0, nonce: '', prev: null, time: 0, data: this.initial() } : this.readVersion(top);
      if (!cur || !this.stillNewest(cur)) continue;
      const next = fn(cur.data, cur.version);
      if (next === undefined) return { version: cur, changed: false };
      const made = this.publishAfter(cur, next, undefined, listed);
      if (made) return { version: made, changed: true };
    }
  }

  /**
   * Compare-and-set: publishes `data` as version `expected + 1` when `expected` is the newest
   * version (0: none yet); null when another writer moved the document first.
   */
  commit(expected: number, data: T, meta?: unknown, logs?: Record<string, unknown>): Version<T> | null {
    const listed = listVersions(this.dir);
    const top = listed[0] ?? 0;
    if (top !== expected) return null;
    const cur = expected === 0 ? { version: 0, nonce: '', prev: null, time: 0, data } : this.readVersion(expected);
    if (!cur || !this.stillNewest(cur)) return null; // the document moved on meanwhile
    return this.publishAfter(cur, data, meta, listed, logs);
  }

  /**
   * Publishes `v` under its own number when that number is above every version present
   * (restoring a snapshot after the newest versions were lost). The chain jumps forward;
   * it never goes back. False when a version at or above it exists.
   */
  restore(v: { version: number; data: T; meta?: unknown; time?: number; logs?: Record<string, unknown> }): Version<T> | null {
    const [top] = listVersions(this.dir);
    if (top !== undefined && top >= v.version) return null;
    const made: Version<T> = {
      version: v.version,
      nonce: randomBytes(6).toString('hex'),
      prev: null,
      time: v.time ?? Date.now(),
      data: v.data,
      ...(v.meta === undefined ? {} : { meta: v.meta }),
      ...(v.logs === undefined ? {} : { logs: v.logs }),
    };
    return this.publish(made) ? made : null;
  }

  /**
   * Whether `cur`, read under the newest name of a listing, is still the newest version. The
   * file under a name can be replaced between the listing and the read: removed as old, then
   * linked again by a writer paused since its own read. A version built on such a re-creation
   * would name it as its predecessor and make confirm() take it for committed. So a version
   * is built on only after a second listing shows its number still the newest. Then the file
   * read is the one under that name: a re-created name is never the newest (the newest version
   * is never removed, and re-created names are below it), and a name is only removed once
   * two newer versions exist.
   */
  private stillNewest(cur: Version<T>): boolean {
    if (cur.version === 0) return true; // publishing version 1 fails when it exists
    return listVersions(this.dir)[0] === cur.version;
  }

  private publishAfter(cur: Version<T>, data: T, meta: unknown, listed: number[], logs?: Record<string, unknown>): Version<T> | null {
    const nonce = randomBytes(6).toString('hex');
    const made: Version<T> = {
      version: cur.version + 1,
      nonce,
      prev: cur.nonce || null,
      time: Date.now(),
      // before the data: confirm() reads it from the start of the file
      recent: (mark(nonce) + (cur.recent ?? '')).slice(0, RECENT * 8),
      data,
      ...(meta === undefined ? {} : { meta }),
      ...(logs === undefined ? {} : { logs }),
    };
    if (!this.publish(made)) return null;
    if (!this.confirm(made)) return null;
    if (listed.length >= this.keep + 8) this.collect(listed, made.version);
    return made;
  }

  /** Links a temp file holding `v` to its version name; false when that name is taken. */
  private publish(v: Version<T>): boolean {
    return linkPublish(this.dir, `${v.version}.json`, JSON.stringify(v), { durable: this.durable, mode: this.mode });
  }

  /** The nonce and recent commits of version `n`, from the start of its file (they come before the data). */
  private headerOf(n: number): { nonce: string; prev: string | null; recent: string } | undefined {
    let fd: number;
    try {
      fd = openSync(this.file(n), 'r');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    }
    try {
      const buf = Buffer.alloc(160 + RECENT * 8);
      const text = buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0));
      const nonce = /"nonce":"([0-9a-f]*)"/.exec(text)?.[1];
      if (nonce === undefined) return undefined;
      return { nonce, prev: /"prev":"([0-9a-f]*)"/.exec(text)?.[1] ?? null, recent: /"recent":"([0-9a-f]*)"/.exec(text)?.[1] ?? '' };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * After a successful link: is `v` part of the chain, or did a writer paused since its read
   * re-create the name of a version already removed as old (or build on such a re-creation)?
   * The newest version is never removed and never stale (a stale name is below the newest by
   * construction), and each version remembers the last RECENT commits of the chain it
   * continues, so `v` is committed when it is the newest version or the newest remembers it;
   * failing that, when its successor was built on it (a writer builds only on a version it saw
   * as the newest: see stillNewest).
   * Otherwise it is removed (if its name still holds it) and the update is tried again. A
   * version that did land is judged stale only when its writer was paused between its link
   * and this check for more than RECENT commits and its successor was removed as old meanwhile:
   * then the update is applied twice.
   */
  private confirm(v: Version<T>): boolean {
    for (;;) {
      // A listing shows the directory as it was at one moment (newer names may be missing from
      // it): the newest name in it was the newest version at that moment, after our link.
      const [top] = listVersions(this.dir);
      if (top === v.version) return true;
      if (top === undefined || top < v.version) return this.discard(v);
      const newest = this.headerOf(top);
      if (!newest) continue; // removed as old since the listing: look again
      if (recentHas(newest.recent, v.nonce)) return true;
      if (this.headerOf(v.version)?.nonce !== v.nonce) return false; // gone: removed as old or as stale
      return this.headerOf(v.version + 1)?.prev === v.nonce || this.discard(v);
    }
  }

  /** Removes `v` when the file under its name is still `v`; returns false (not committed). */
  private discard(v: Version<T>): false {
    if (this.headerOf(v.version)?.nonce === v.nonce) {
      try {
        unlinkSync(this.file(v.version));
      } catch {
        /* gone already */
      }
    }
    return false;
  }

  /** Removes temp files of writers that died between writing and linking them. */
  private sweepTemps(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const n of names) {
      const m = TEMP_NAME.exec(n);
      if (!m || Number(m[1]) === process.pid || pidAlive(Number(m[1]))) continue;
      try {
        unlinkSync(join(this.dir, n));
      } catch {
        /* gone already */
      }
    }
  }

  /** Removes versions older than the newest `keep`. */
  private collect(listed: number[], newest: number): void {
    this.sweepTemps();
    const old = listed.filter((n) => n <= newest - this.keep).reverse();
    if (old.length === 0) return;
    this.beforeCollect?.(old);
    // oldest first: confirm() relies on it
    for (const n of old) {
      try {
        unlinkSync(this.file(n));
      } catch {
        /* another writer removed it */
      }
    }
  }
}
