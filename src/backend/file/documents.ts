/**
 * Versioned documents of a run as VersionedDir chains (`state/versions/`,
 * `queues/<topic>/consumers/<name>/`, see layout.ts): a version is published with link(2),
 * so a commit is a compare-and-set between processes without a mutex. The log entries a
 * commit carries (DocCommitOptions.logs) are kept in the version itself and written to the
 * logs (logs.ts) at its number right after it, and again by any later writer that finds them
 * missing, so the logs have no holes even when a writer dies between the two.
 */
import type { DocCommitOptions, DocKey, DocumentStore, DocVersion, LogKey } from '../types.js';
import { VersionedDir, type Version } from '../../primitives/versioned-dir.js';
import { keyDir, runDirOf } from './layout.js';
import type { FileLogs } from './logs.js';

function docVersion<T>(v: Version<T>): DocVersion<T> {
  return { version: v.version, time: v.time, data: v.data, ...(v.meta === undefined ? {} : { meta: v.meta }) };
}

export class FileDocuments implements DocumentStore {
  private readonly docs = new Map<string, VersionedDir<unknown>>();

  constructor(
    private readonly home: string,
    private readonly logs: FileLogs,
  ) {}

  private doc<T>(runId: string, key: DocKey, opts: DocCommitOptions = {}): VersionedDir<T> {
    const keep = opts.keep ?? 8;
    const durable = opts.durable ?? false;
    const withLogs = opts.logs !== undefined;
    const id = `${runId}\0${key}\0${keep}\0${durable}\0${withLogs}`;
    let d = this.docs.get(id) as VersionedDir<T> | undefined;
    if (!d) {
      const made: VersionedDir<T> = new VersionedDir<T>(keyDir(runDirOf(this.home, runId), key), {
        initial: () => undefined as T,
        keep,
        durable,
        ...(withLogs ? { beforeCollect: (versions: number[]) => this.keepLogs(runId, made, versions) } : {}),
      });
      d = made;
      this.docs.set(id, d as VersionedDir<unknown>);
    }
    return d;
  }

  /**
   * Before old versions are removed: the log entries they carry are written where their writer
   * died before writing them, and flushed to disk, so that removing a version loses nothing.
   */
  private keepLogs<T>(runId: string, d: VersionedDir<T>, versions: number[]): void {
    const written = new Map<string, number[]>();
    for (const n of versions) {
      for (const [key, body] of Object.entries(d.readVersion(n)?.logs ?? {})) {
        const log = this.logs.log(runId, key as LogKey);
        if (!log.has(n)) log.put(n, body);
        written.set(key, [...(written.get(key) ?? []), n]);
      }
    }
    for (const [key, nums] of written) this.logs.log(runId, key as LogKey).sync(nums);
  }

  /**
   * Writes the log entries of a new version at its number, after the entries of the versions
   * just below it that writers killed between their commit and this point left out (oldest
   * first, from the copies the versions keep), so the logs have no holes.
   */
  private writeLogs<T>(runId: string, d: VersionedDir<T>, v: Version<T>): void {
    for (const [key, body] of Object.entries(v.logs ?? {})) {
      const log = this.logs.log(runId, key as LogKey);
      if (v.version > 1 && !log.has(v.version - 1)) {
        const oldest = d.versions().at(-1) ?? v.version;
        const missing: number[] = [];
        for (let n = v.version - 1; n >= oldest && !log.has(n); n--) missing.push(n);
        for (const n of missing.reverse()) {
          const lost = d.readVersion(n)?.logs?.[key];
          if (lost !== undefined) log.put(n, lost);
        }
      }
      log.put(v.version, body);
    }
  }

  async docRead<T>(runId: string, key: DocKey): Promise<DocVersion<T> | undefined> {
    const v = this.doc<T>(runId, key).read();
    return v.version === 0 ? undefined : docVersion(v);
  }

  async docReadVersion<T>(runId: string, key: DocKey, version: number): Promise<DocVersion<T> | undefined> {
    if (!Number.isSafeInteger(version) || version < 1) return undefined;
    const v = this.doc<T>(runId, key).readVersion(version);
    return v ? docVersion(v) : undefined;
  }

  async docVersions(runId: string, key: DocKey): Promise<number[]> {
    return this.doc(runId, key).versions();
  }

  async docCommit<T>(runId: string, key: DocKey, expected: number, data: T, opts: DocCommitOptions = {}): Promise<DocVersion<T> | null> {
    const d = this.doc<T>(runId, key, opts);
    const v = d.commit(expected, data, opts.meta, opts.logs);
    if (!v) return null;
    this.writeLogs(runId, d, v);
    return docVersion(v);
  }

  async docRestore<T>(runId: string, key: DocKey, v: DocVersion<T>, opts: DocCommitOptions = {}): Promise<boolean> {
    const d = this.doc<T>(runId, key, opts);
    const made = d.restore({ ...v, ...(opts.logs === undefined ? {} : { logs: opts.logs }) });
    if (!made) return false;
    this.writeLogs(runId, d, made);
    return true;
  }
}
