/**
 * Queues on Redis Streams: a topic is the stream `P run:<id>:topic:<name>` with entry ids
 * `0-<message number>`; a consumer is a consumer group of it, and the members of a consumer
 * are the group's consumers. A message is handed to one member by XREADGROUP; with an ack
 * timeout it stays in the group's pending entries list until XACK, and a later take of any
 * member claims it (XCLAIM) once its idle time on the server's clock reached the timeout it
 * was taken with (`P run:<id>:topic:<name>:acks:<consumer>`: number → ms). Each take and
 * ack is one script with a receipt, so a call retried after a lost reply hands out the same
 * delivery, never a second one.
 */
import type { QueueStore } from '../types.js';
import { messageOf, type ConsumerSummary, type NotPending, type QueueEngine, type TakeResult, type TopicSummary } from '../queue-engine.js';
import { QUEUE_ACK, QUEUE_TAKE } from './scripts.js';
import { isReplyError, type ResilientConnection } from './connection.js';
import { checkRunId, isRunId, type KeyLayout } from './keys.js';
import { streamNumber, topicHead, topicRange } from './topic-streams.js';
import { ID_PATTERN } from '../../plan/types.js';

export class RedisStreamQueues implements QueueStore {
  constructor(
    private readonly conn: ResilientConnection,
    private readonly keys: KeyLayout,
  ) {}

  async topics(runId: string): Promise<string[]> {
    if (!isRunId(runId)) return [];
    return (await this.conn.read((c) => c.smembers(this.keys.topics(runId)))).sort();
  }

  async consumers(runId: string, topic: string): Promise<string[]> {
    if (!isRunId(runId) || typeof topic !== 'string' || !ID_PATTERN.test(topic)) return [];
    return (await this.conn.read((c) => c.smembers(this.keys.consumers(runId, topic)))).sort();
  }

  /** The engine of run `runId`'s consumers (see the module comment). */
  queueEngine(runId: string): QueueEngine {
    checkRunId(runId);
    return {
      take: (topic, consumer, member, ackTimeoutMs) => this.take(runId, topic, consumer, member, ackTimeoutMs),
      ack: (topic, consumer, id) => this.ack(runId, topic, consumer, id),
      summary: () => this.summary(runId),
    };
  }

  private async take(runId: string, topic: string, consumer: string, member: string, ackTimeoutMs: number | undefined): Promise<TakeResult> {
    const stream = this.keys.topicStream(runId, topic);
    const keys = [...this.keys.base(runId), this.keys.topics(runId), stream, this.keys.consumers(runId, topic), this.keys.acks(runId, topic, consumer)];
    const timeout = ackTimeoutMs === undefined ? '' : String(Math.max(1, Math.ceil(ackTimeoutMs)));
    const [result, body] = (await this.conn.writeScript(QUEUE_TAKE, runId, keys, [topic, consumer, member, timeout])) as [string, string | null];
    const got = JSON.parse(result) as { id?: number; delivery?: number; from?: string | false; wait?: number };
    if (got.id === undefined) return { retryInMs: got.wait === undefined || got.wait < 0 ? Infinity : got.wait + 1 };
    // a retried call answered from its receipt carries no body: read it
    const stored = body !== null ? (JSON.parse(body) as unknown) : (await topicRange(this.conn, stream, got.id, got.id, 1))[0]?.body;
    const message = messageOf(stored);
    return { got: { id: got.id, message, delivery: got.delivery ?? 1, from: typeof got.from === 'string' ? got.from : null } };
  }

  private async ack(runId: string, topic: string, consumer: string, id: number): Promise<true | NotPending> {
    const stream = this.keys.topicStream(runId, topic);
    const done = await this.conn.writeScript(QUEUE_ACK, runId, [...this.keys.base(runId), stream, this.keys.acks(runId, topic, consumer)], [consumer, id]);
    if (done === '1') return true;
    const [size, groups] = await Promise.all([topicHead(this.conn, stream), this.groupsOf(stream)]);
    const group = groups.find((g) => g.name === consumer);
    return { size, next: group ? group.next : 1 };
  }

  /** The consumer groups of a topic's stream: name, next number to hand out, pending count. */
  private async groupsOf(stream: string): Promise<Array<{ name: string; next: number; pending: number }>> {
    let rows: unknown[];
    try {
      rows = (await this.conn.read((c) => c.xinfo('GROUPS', stream))) as unknown[];
    } catch (e) {
      if (isReplyError(e) && /no such key/i.test(e.message)) return [];
      throw e;
    }
    return rows.map((row) => {
      const f = row as Array<string | number>;
      const get = (k: string): string | number | undefined => {
        const i = f.indexOf(k);
        return i >= 0 && i % 2 === 0 ? f[i + 1] : undefined;
      };
      return { name: String(get('name')), next: streamNumber(String(get('last-delivered-id') ?? '0-0')) + 1, pending: Number(get('pending') ?? 0) };
    });
  }

  private async summary(runId: string): Promise<TopicSummary[]> {
    const out: TopicSummary[] = [];
    for (const topic of await this.topics(runId)) {
      const stream = this.keys.topicStream(runId, topic);
      const [size, groups] = await Promise.all([topicHead(this.conn, stream), this.groupsOf(stream)]);
      const consumers: ConsumerSummary[] = groups
        .map((g) => ({ name: g.name, next: g.next, lag: Math.max(0, size - (g.next - 1)), pending: g.pending }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      out.push({ topic, size, consumers });
    }
    return out;
  }
}
