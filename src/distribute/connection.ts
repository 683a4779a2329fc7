/**
 * Connections of distributed execution (workers and the coordinator's dispatcher). Unlike the
 * backend's command connection, these queue commands while the server is away and send them
 * when it is back (BullMQ requires `maxRetriesPerRequest: null`); what they write is safe to
 * send twice: wire entries carry attempt numbers and sequence numbers that the reader checks.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { ConnectionOptions as BullConnection } from 'bullmq';
import { parseBackendUrl } from '../backend/url.js';

/** Reconnection backoff: 50 ms doubling to 2 s (as the backend's). */
const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times - 1, 6), 2000);

export function redisOptions(url: string, where: string): RedisOptions & { display: string } {
  const u = parseBackendUrl(url, where);
  return {
    host: u.host,
    port: u.port,
    db: u.db,
    ...(u.username === undefined ? {} : { username: u.username }),
    ...(u.password === undefined ? {} : { password: u.password }),
    maxRetriesPerRequest: null,
    retryStrategy,
    disconnectTimeout: 100,
    connectionName: 'coord',
    display: u.display,
  };
}

/** The same server as options BullMQ takes (it makes its own connections from them). */
export function bullConnection(opts: RedisOptions): BullConnection {
  const { host, port, db, username, password } = opts;
  return {
    host,
    port,
    db,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    maxRetriesPerRequest: null,
    retryStrategy,
    connectionName: 'coord',
  };
}

/**
 * Reads the Redis stream `key` from after entry `from` on, in order, with a blocking XREAD on
 * `conn` (its own connection: it blocks), until `stopped()`; a failed read is tried again
 * after 200 ms. Each entry's `m` field goes to `onEntry`; `afterBatch` gets the last id read.
 */
export async function followStream(
  conn: Redis,
  key: string,
  from: string,
  stopped: () => boolean,
  onEntry: (m: string) => Promise<void> | void,
  afterBatch?: (last: string) => void,
): Promise<void> {
  let last = from;
  while (!stopped()) {
    let res: Array<[string, Array<[string, string[]]>]> | null;
    try {
      res = (await conn.xread('COUNT', 500, 'BLOCK', 1000, 'STREAMS', key, last)) as typeof res;
    } catch {
      if (stopped() || conn.status === 'end') return;
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    if (!res) continue;
    for (const [, entries] of res) {
      for (const [entryId, fields] of entries) {
        last = entryId;
        if (fields[1] !== undefined) await onEntry(fields[1]);
      }
    }
    afterBatch?.(last);
  }
}

export function connect(opts: RedisOptions, onError: (e: Error) => void): Redis {
  const { display: _display, ...rest } = opts as RedisOptions & { display?: string };
  const c = new Redis(rest);
  c.on('error', onError);
  return c;
}
