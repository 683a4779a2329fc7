/**
 * A queue topic's log as a Redis stream (`P run:<id>:topic:<name>`): entry ids `0-<message
 * number>`, the body JSON in field `b`. Read by the log operations (logs.ts) and the Streams
 * queue engine (stream-queues.ts).
 */
import type { ResilientConnection } from './connection.js';

/** The message number of a topic stream's entry id `0-<number>`. */
export function streamNumber(id: string): number {
  return Number(id.slice(id.indexOf('-') + 1));
}

/** A field's value in a stream entry's [field, value, …] list. */
function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** Entries `from`..`to` of a topic's stream (ids 0-<number>), at most `count`. */
export async function topicRange(
  conn: ResilientConnection,
  stream: string,
  from: number,
  to: number,
  count: number,
): Promise<Array<{ seq: number; body: unknown }>> {
  const end = Number.isFinite(to) ? `0-${to}` : '+';
  const rows = await conn.read((c) => c.xrange(stream, `0-${from}`, end, 'COUNT', count));
  return rows.map(([id, fields]) => ({ seq: streamNumber(id), body: JSON.parse(fieldOf(fields, 'b') ?? 'null') as unknown }));
}

/** The number of a topic stream's newest entry; 0 when it has none. */
export async function topicHead(conn: ResilientConnection, stream: string): Promise<number> {
  const [last] = await conn.read((c) => c.xrevrange(stream, '+', '-', 'COUNT', 1));
  return last === undefined ? 0 : streamNumber(last[0]);
}
