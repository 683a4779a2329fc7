/**
 * Stream heartbeats on Redis: one key per running stream, `P run:<id>:beat:<stream>`, a
 * StreamBeat as JSON that expires `heartbeat.timeout` after it was last written. The host that
 * watches the stream writes it (the coordinator for its own streams, the worker for a remote
 * attempt) when the attempt starts and at most once a second while it beats, and deletes it
 * when the attempt ends. So a key that exists says: this attempt beat within its timeout, as
 * seen from the host that runs it; any host can read it without asking the coordinator, which
 * may be gone (`coord status` of an interrupted run tells streams still running on workers by
 * their keys).
 *
 * Writes are single scripts: an older attempt never replaces the beat of a newer one (a lost
 * worker's late beat), and an attempt's end deletes only its own beat.
 */
import type { Redis } from 'ioredis';
import type { BeatStore, StreamBeat } from '../types.js';
import type { ResilientConnection } from './connection.js';
import { checkRunId } from './keys.js';

export type { StreamBeat };

export const beatKey = (prefix: string, run: string, stream: string): string => `${prefix}run:${run}:beat:${stream}`;

/** KEYS[1] the beat, KEYS[2] the run record; ARGV[1] the beat JSON, ARGV[2] its attempt, ARGV[3] ms to live. */
const PUT = `
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, old = pcall(cjson.decode, cur)
  if ok and type(old) == 'table' and tonumber(old.attempt) and tonumber(old.attempt) > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`;

/** KEYS[1] the beat; ARGV[1] the attempt that ended. */
const END = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ok, old = pcall(cjson.decode, cur)
if ok and type(old) == 'table' and tonumber(old.attempt) and tonumber(old.attempt) > tonumber(ARGV[1]) then return 0 end
return redis.call('DEL', KEYS[1])
`;

/** Stores the beat of `stream` for `ttlMs`, unless a newer attempt's beat is stored. False when not stored (or the run is gone). */
export async function putBeat(c: Redis, prefix: string, run: string, stream: string, beat: StreamBeat, ttlMs: number): Promise<boolean> {
  const r = await c.eval(
    PUT,
    2,
    beatKey(prefix, run, stream),
    `${prefix}run:${run}:record`,
    JSON.stringify(beat),
    beat.attempt,
    Math.max(1, Math.round(ttlMs)),
  );
  return r === 1;
}

/** Deletes the beat of `stream` when it is attempt `attempt`'s or an older one's. */
export async function endBeat(c: Redis, prefix: string, run: string, stream: string, attempt: number): Promise<void> {
  await c.eval(END, 1, beatKey(prefix, run, stream), attempt);
}

/** The beats stored now of `streams` (absent: none, or expired), with the time each has left. */
export async function readBeats(c: Redis, prefix: string, run: string, streams: string[]): Promise<Map<string, StreamBeat & { ttlMs: number }>> {
  const out = new Map<string, StreamBeat & { ttlMs: number }>();
  if (streams.length === 0) return out;
  const p = c.pipeline();
  for (const s of streams) p.get(beatKey(prefix, run, s)).pttl(beatKey(prefix, run, s));
  const res = (await p.exec()) ?? [];
  streams.forEach((s, i) => {
    const text = res[2 * i]?.[1];
    const ttl = res[2 * i + 1]?.[1];
    if (typeof text !== 'string') return;
    try {
      const b = JSON.parse(text) as StreamBeat;
      if (typeof b.attempt === 'number') out.set(s, { ...b, ttlMs: typeof ttl === 'number' ? ttl : -1 });
    } catch {
      /* not a beat */
    }
  });
  return out;
}

/** The BeatStore role of a Redis backend: the functions above over its resilient connection. */
export class RedisBeats implements BeatStore {
  constructor(
    private readonly conn: ResilientConnection,
    private readonly prefix: string,
  ) {}

  async putBeat(runId: string, stream: string, beat: StreamBeat, ttlMs: number): Promise<void> {
    checkRunId(runId);
    await this.conn.call(true, (c) => putBeat(c, this.prefix, runId, stream, beat, ttlMs));
  }

  async endBeat(runId: string, stream: string, attempt: number): Promise<void> {
    checkRunId(runId);
    await this.conn.call(true, (c) => endBeat(c, this.prefix, runId, stream, attempt));
  }

  readBeats(runId: string, streams: string[]): Promise<Map<string, StreamBeat & { ttlMs: number }>> {
    checkRunId(runId);
    return this.conn.read((c) => readBeats(c, this.prefix, runId, streams));
  }
}
