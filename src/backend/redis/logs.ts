/**
 * Numbered append-only logs of a run on Redis. A log is a hash of bodies
 * (`P run:<id>:log:<key>`) beside a sorted set of the numbers present, because logs can have
 * gaps (snapshots are written at state versions, a restore jumps forward): logRange is one
 * ZRANGE BYSCORE from `from` plus one HMGET (the LOG_RANGE script), in chunks of 1000, so it
 * stays fast however long the log grows; logHead is the sorted set's top. A queue topic's log
 * is a Redis stream instead (topic-streams.ts). Writes are scripts (logAppend: head + 1;
 * logPut: once per number) that PUBLISH the number on the log's channel, which watchLog
 * subscribes to (pubsub.ts). `durable` has no effect of its own (see documents.ts).
 */
import type { LogKey, LogStore } from '../types.js';
import { LOG_APPEND, LOG_PUT, LOG_RANGE } from './scripts.js';
import type { ResilientConnection } from './connection.js';
import { checkRunId, parseKey, type KeyLayout } from './keys.js';
import { json } from './codec.js';
import type { Watchers } from './pubsub.js';
import { topicHead, topicRange } from './topic-streams.js';

/** Entries per logRange round trip. */
const CHUNK = 1000;

export class RedisLogs implements LogStore {
  constructor(
    private readonly conn: ResilientConnection,
    private readonly keys: KeyLayout,
    private readonly watchers: Watchers,
  ) {}

  private writeKeys(runId: string, key: LogKey): { keys: string[]; topic: string } {
    const { topic } = parseKey(key);
    return { keys: [...this.keys.base(runId), this.keys.topics(runId), ...this.keys.log(runId, key)], topic: key.startsWith('topic/') ? topic : '' };
  }

  async logAppend<T>(runId: string, key: LogKey, body: T, _opts: { durable?: boolean } = {}): Promise<number> {
    checkRunId(runId);
    const { keys, topic } = this.writeKeys(runId, key);
    return Number(await this.conn.writeScript(LOG_APPEND, runId, keys, [json(body, 'a log entry'), topic]));
  }

  async logPut<T>(runId: string, key: LogKey, seq: number, body: T, _opts: { durable?: boolean } = {}): Promise<boolean> {
    checkRunId(runId);
    if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError(`bad log position ${seq}`);
    const { keys, topic } = this.writeKeys(runId, key);
    return (await this.conn.writeScript(LOG_PUT, runId, keys, [seq, json(body, 'a log entry'), topic])) !== null;
  }

  async logGet<T>(runId: string, key: LogKey, seq: number): Promise<T | undefined> {
    checkRunId(runId);
    parseKey(key);
    if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
    if (key.startsWith('topic/')) {
      const [entry] = await topicRange(this.conn, this.keys.log(runId, key)[0], seq, seq, 1);
      return entry === undefined ? undefined : (entry.body as T);
    }
    const body = await this.conn.read((c) => c.hget(this.keys.log(runId, key)[0], String(seq)));
    return body === null ? undefined : (JSON.parse(body) as T);
  }

  async logRange<T>(runId: string, key: LogKey, from = 1, limit = Infinity): Promise<Array<{ seq: number; body: T }>> {
    checkRunId(runId);
    parseKey(key);
    const out: Array<{ seq: number; body: T }> = [];
    if (!(limit > 0) || Number.isNaN(from)) return out;
    const keys = this.keys.log(runId, key);
    let next = Math.max(1, from);
    while (out.length < limit && Number.isFinite(next)) {
      const want = Math.min(CHUNK, limit - out.length);
      const start = next;
      if (key.startsWith('topic/')) {
        const got = await topicRange(this.conn, keys[0], start, Infinity, want);
        out.push(...(got as Array<{ seq: number; body: T }>));
        if (got.length < want) break;
        next = out[out.length - 1]!.seq + 1;
        continue;
      }
      const flat = (await this.conn.read((c) => this.conn.evalScript(c, LOG_RANGE, keys, [String(start), want]))) as string[];
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ seq: Number(flat[i]), body: JSON.parse(flat[i + 1]!) as T });
      if (flat.length / 2 < want) break;
      next = out[out.length - 1]!.seq + 1;
    }
    return out;
  }

  async logHead(runId: string, key: LogKey): Promise<number> {
    checkRunId(runId);
    parseKey(key);
    if (key.startsWith('topic/')) return topicHead(this.conn, this.keys.log(runId, key)[0]);
    const [top] = await this.conn.read((c) => c.zrange(this.keys.log(runId, key)[1], 0, 0, 'REV'));
    return top === undefined ? 0 : Number(top);
  }

  /**
   * Subscribes to the log's channel on the shared subscriber connection. `onChange` is also
   * called once the subscription is in place (an entry written while it was being set up is
   * not missed) and after every reconnect (messages published meanwhile were not delivered).
   */
  watchLog(runId: string, key: LogKey, onChange: () => void): () => void {
    checkRunId(runId);
    parseKey(key);
    return this.watchers.watch(this.keys.log(runId, key)[0], onChange);
  }
}
