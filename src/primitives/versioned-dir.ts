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
 * Old versions are removed beyond `keep` (the newest `keep` stay), oldest first. Because a
 * removed name could be linked again by a writer that was paused between its read and its
 * link, a writer checks after its link that the version it built on is still there (it is
 * removed before any newer one); otherwise its version is discarded and the update retried.
 * Every version also records the nonce of the version it was built on.
 */
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** One committed version: its number, its own nonce, the nonce it was built on, the data. */
export interface Version<T> {
  version: number;
  nonce: string;
  prev: string | null;
  time: number;
  data: T;
}

export interface VersionedDirOptions<T> {
  /** The document before its first version (version 0). */
  initial: () => T;
  /** How many newest versions stay on disk (default 8). */
  keep?: number;
  /** fsync each new version and the directory (default false: survives process crashes, not power loss). */
  durable?: boolean;
  /** Directory mode when created (default 0700). */
  mode?: number;
}

/** What an update function returns: the next document, or `undefined` to change nothing. */
export type Updater<T> = (current: Readonly<T>, version: number) => T | undefined;

const NAME = /^(\d+)\.json$/;

function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as NodeJS.ErrnoException).code === code;
}

/** Version numbers present in `dir`, highest first; an empty list when the directory is missing. */
function listVersions(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
  const out: number[] = [];
  for (const n of names) {
    const m = NAME.exec(n);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => b - a);
}

export class VersionedDir<T> {
  readonly dir: string;
  private readonly keep: number;
  private readonly durable: boolean;
  private readonly initial: () => T;
  private readonly mode: number;

  constructor(dir: string, opts: VersionedDirOptions<T>) {
    this.dir = dir;
    this.initial = opts.initial;
    this.keep = Math.max(2, opts.keep ?? 8);
    this.durable = opts.durable ?? false;
    this.mode = opts.mode ?? 0o700;
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
      if (!cur) continue;
      const next = fn(cur.data, cur.version);
      if (next === undefined) return { version: cur, changed: false };
      const made: Version<T> = { version: cur.version + 1, nonce: randomBytes(6).toString('hex'), prev: cur.nonce || null, time: Date.now(), data: next };
      if (!this.publish(made)) continue;
      if (!this.confirm(made)) continue;
      if (listed.length >= this.keep + 8) this.collect(listed, made.version);
      return { version: made, changed: true };
    }
  }

  /** Links a temp file holding `v` to its version name; false when that name is taken. */
  private publish(v: Version<T>): boolean {
    const tmp = join(this.dir, `.tmp-${process.pid}-${v.nonce}`);
    let fd: number;
    try {
      fd = openSync(tmp, 'wx', 0o600);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
      mkdirSync(this.dir, { recursive: true, mode: this.mode });
      fd = openSync(tmp, 'wx', 0o600);
    }
    try {
      writeSync(fd, JSON.stringify(v));
      if (this.durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(tmp, this.file(v.version));
      if (this.durable) {
        const dfd = openSync(this.dir, 'r');
        try {
          fsyncSync(dfd);
        } finally {
          closeSync(dfd);
        }
      }
      return true;
    } catch (e) {
      if (isErrno(e, 'EEXIST')) return false;
      throw e;
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
    }
  }

  /**
   * After a successful link: is `v` the successor of the version it was built on, or did a
   * writer paused since its read re-create a name that had been removed as old? Old versions
   * are removed oldest first, so when `v`'s name had been removed, the version before it is
   * gone too; while that one exists, `v` continues the chain.
   */
  private confirm(v: Version<T>): boolean {
    if (v.version > 1 && existsSync(this.file(v.version - 1))) return true;
    if (v.version === 1) {
      const [top] = listVersions(this.dir);
      const after = top !== undefined && top > 1 ? this.readVersion(2) : undefined;
      if (top === 1 || (after && after.prev === v.nonce)) return true;
    }
    try {
      unlinkSync(this.file(v.version));
    } catch {
      /* gone already */
    }
    return false;
  }

  /** Removes versions older than the newest `keep`. */
  private collect(listed: number[], newest: number): void {
    // oldest first: confirm() relies on it
    for (const n of [...listed].reverse()) {
      if (n <= newest - this.keep) {
        try {
          unlinkSync(this.file(n));
        } catch {
          /* another writer removed it */
        }
      }
    }
  }
}
