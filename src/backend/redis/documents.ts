/**
 * Versioned documents of a run on Redis: `P run:<id>:doc:<key>` (version → {"time","data",
 * "meta"} JSON) beside the sorted set of the version numbers still stored. A commit or a
 * restore is one DOC_WRITE script (scripts.ts): docCommit's compare-and-set on the newest
 * version, or docRestore's forward jump, plus removal of versions beyond `keep` and the log
 * entries the options carry, written at the version's number in the same script, so there
 * are never log holes.
 *
 * Durability: Redis 7.0 has no command that flushes one write to disk, so `durable` is
 * accepted and has no effect of its own: what survives a crash of the server is set on the
 * server, with `appendonly yes` and `appendfsync always` (every acknowledged write is on
 * disk) or `everysec` (at most a second lost).
 */
import type { DocCommitOptions, DocKey, DocumentStore, DocVersion } from '../types.js';
import { DOC_READ, DOC_WRITE } from './scripts.js';
import type { Arg, ResilientConnection } from './connection.js';
import { checkRunId, parseKey, type KeyLayout } from './keys.js';
import { json } from './codec.js';

interface StoredVersion {
  time: number;
  data: unknown;
  meta?: unknown;
}

function versionOf<T>(version: number, body: string): DocVersion<T> {
  const v = JSON.parse(body) as StoredVersion;
  return { version, time: v.time, data: v.data as T, ...(v.meta === undefined ? {} : { meta: v.meta }) };
}

export class RedisDocuments implements DocumentStore {
  constructor(
    private readonly conn: ResilientConnection,
    private readonly keys: KeyLayout,
  ) {}

  async docRead<T>(runId: string, key: DocKey): Promise<DocVersion<T> | undefined> {
    checkRunId(runId);
    parseKey(key);
    const got = (await this.conn.read((c) => this.conn.evalScript(c, DOC_READ, this.keys.doc(runId, key), []))) as [string, string] | null;
    return got ? versionOf<T>(Number(got[0]), got[1]) : undefined;
  }

  async docReadVersion<T>(runId: string, key: DocKey, version: number): Promise<DocVersion<T> | undefined> {
    if (!Number.isSafeInteger(version) || version < 1) return undefined;
    checkRunId(runId);
    parseKey(key);
    const body = await this.conn.read((c) => c.hget(this.keys.doc(runId, key)[0], String(version)));
    return body === null ? undefined : versionOf<T>(version, body);
  }

  async docVersions(runId: string, key: DocKey): Promise<number[]> {
    checkRunId(runId);
    parseKey(key);
    return (await this.conn.read((c) => c.zrange(this.keys.doc(runId, key)[1], 0, -1, 'REV'))).map(Number);
  }

  async docCommit<T>(runId: string, key: DocKey, expected: number, data: T, opts: DocCommitOptions = {}): Promise<DocVersion<T> | null> {
    checkRunId(runId);
    if (!Number.isSafeInteger(expected) || expected < 0) {
      parseKey(key);
      return null; // never the newest version
    }
    const time = Date.now();
    const made = await this.write(runId, key, 'commit', expected, { time, data, ...(opts.meta === undefined ? {} : { meta: opts.meta }) }, opts);
    if (made === null) return null;
    return { version: made, time, data, ...(opts.meta === undefined ? {} : { meta: opts.meta }) };
  }

  async docRestore<T>(runId: string, key: DocKey, v: DocVersion<T>, opts: DocCommitOptions = {}): Promise<boolean> {
    checkRunId(runId);
    if (!Number.isSafeInteger(v.version) || v.version < 1) throw new RangeError(`bad version ${v.version}`);
    const meta = v.meta;
    const made = await this.write(
      runId,
      key,
      'restore',
      v.version,
      { time: v.time ?? Date.now(), data: v.data, ...(meta === undefined ? {} : { meta }) },
      opts,
    );
    return made !== null;
  }

  private async write(
    runId: string,
    key: DocKey,
    mode: 'commit' | 'restore',
    n: number,
    stored: StoredVersion,
    opts: DocCommitOptions,
  ): Promise<number | null> {
    const { topic, consumer } = parseKey(key);
    const keep = Math.max(2, opts.keep ?? 8);
    const topics = this.keys.topics(runId);
    const keys = [...this.keys.base(runId), topics, ...this.keys.doc(runId, key), consumer ? this.keys.consumers(runId, topic) : topics];
    const args: Arg[] = [mode, n, json(stored, 'a document version'), keep, consumer ? topic : '', consumer];
    for (const [logKey, body] of Object.entries(opts.logs ?? {})) {
      const parsed = parseKey(logKey);
      keys.push(...this.keys.log(runId, logKey));
      args.push(json(body, `the ${logKey} entry`), logKey.startsWith('topic/') ? parsed.topic : '');
    }
    const made = await this.conn.writeScript(DOC_WRITE, runId, keys, args);
    return made === null ? null : Number(made);
  }
}
