/**
 * Queues on a backend without an engine of its own (the file backend): a consumer is a cursor
 * over the topic's log, the Backend's versioned document `consumer/<topic>/<name>`.
 *
 * - The cursor holds `next`, the first number not handed out yet, so each consumer reads every
 *   message once, in order. A consumer reading alone is a group of one.
 * - Members of a group share one cursor: handing out a message is one compare-and-set of the
 *   cursor (`docCommit`), and of two members that read the same version only one commits —
 *   the other re-reads and takes the next message. Each message goes to exactly one member,
 *   with no lock and nothing to clean up after a killed process.
 * - With an ack timeout the handed-out message stays in the cursor's `pending` with a
 *   deadline until `ack`; once the deadline has passed, the next `take` of any member takes
 *   it again (before newer messages), counting the delivery.
 *
 * Under `state_management.type: message_queue` the state's versions are written at their own
 * numbers, so a version the state skipped (a restored snapshot) leaves a gap: a gap that stays
 * unfilled for {@link HOLE_GRACE_MS} is stepped over.
 */
import { randomBytes } from 'node:crypto';
import type { DocKey, DocumentStore, LogKey, LogStore, QueueStore } from '../backend/types.js';
import { messageOf, type ConsumerSummary, type NotPending, type QueueEngine, type StoredMessage, type TakeResult, type TopicSummary } from './engine.js';

/** A message handed out and not acknowledged yet (only with an ack timeout). */
export interface PendingDelivery {
  member: string;
  /** Milliseconds since the epoch after which it is handed again. */
  deadline: number;
  delivery: number;
}

/** A consumer's cursor: the versioned document `consumer/<topic>/<name>`. */
export interface ConsumerCursor {
  /** The first message number not handed out yet (1 for a new consumer). */
  next: number;
  /** Handed out with an ack timeout and not acknowledged yet, by message number. */
  pending: Record<string, PendingDelivery>;
  /** Deliveries made (redeliveries included). */
  delivered: number;
  acked: number;
  /**
   * Tokens of the newest commits of this cursor, its own last: a writer told that its commit
   * failed checks here whether it landed after all (see `commit`).
   */
  recent?: string[];
}

/** How long a gap in a topic's numbers may stay unfilled before readers step over it. */
export const HOLE_GRACE_MS = 5000;
/** Versions of a cursor kept (see `commit`: fewer make the compare-and-set unreliable under contention). */
const CURSOR_KEEP = 32;
/** Commit tokens a cursor version remembers. */
const RECENT = 64;

export const topicKey = (topic: string): LogKey => `topic/${topic}`;
const cursorKey = (topic: string, consumer: string): DocKey => `consumer/${topic}/${consumer}`;

/** A cursor as read, checked; a fresh one when there is none. */
function cursorOf(topic: string, consumer: string, data: unknown): ConsumerCursor {
  if (data === undefined) return { next: 1, pending: Object.create(null) as Record<string, PendingDelivery>, delivered: 0, acked: 0 };
  const d = data as Partial<ConsumerCursor> | null;
  const count = (n: unknown): number => (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : 0);
  if (!d || typeof d !== 'object' || typeof d.next !== 'number' || !Number.isSafeInteger(d.next) || d.next < 1) {
    throw new Error(`the cursor of consumer ${consumer} on topic ${topic} is damaged (no valid "next")`);
  }
  const pending = Object.create(null) as Record<string, PendingDelivery>;
  if (d.pending && typeof d.pending === 'object') {
    for (const [k, p] of Object.entries(d.pending)) {
      if (!/^[1-9]\d*$/.test(k) || !p || typeof p !== 'object') continue;
      const e = p as Partial<PendingDelivery>;
      pending[k] = {
        member: typeof e.member === 'string' ? e.member : '?',
        deadline: typeof e.deadline === 'number' && Number.isFinite(e.deadline) ? e.deadline : 0,
        delivery: typeof e.delivery === 'number' && Number.isSafeInteger(e.delivery) && e.delivery >= 1 ? e.delivery : 1,
      };
    }
  }
  const recent = Array.isArray(d.recent) ? d.recent.filter((t): t is string => typeof t === 'string').slice(-RECENT) : [];
  return { next: d.next, pending, delivered: count(d.delivered), acked: count(d.acked), recent };
}

export class CursorQueues implements QueueEngine {
  constructor(
    private readonly backend: DocumentStore & LogStore & QueueStore,
    private readonly runId: string,
    /** The clock of ack deadlines. */
    private readonly now: () => number = Date.now,
  ) {}

  /** Hands out a message by compare-and-set of the cursor (retried when another member moved it). */
  async take(topic: string, consumer: string, member: string, ackTimeoutMs: number | undefined): Promise<TakeResult> {
    const key = cursorKey(topic, consumer);
    for (;;) {
      const cur = await this.backend.docRead<ConsumerCursor>(this.runId, key);
      const version = cur?.version ?? 0;
      const data = cursorOf(topic, consumer, cur?.data);
      const now = this.now();

      // a message whose ack deadline has passed goes first, the oldest first
      let expired: number | undefined;
      let nearest = Infinity;
      for (const [k, p] of Object.entries(data.pending)) {
        if (p.deadline <= now) {
          if (expired === undefined || Number(k) < expired) expired = Number(k);
        } else nearest = Math.min(nearest, p.deadline);
      }
      const nothing = (): TakeResult => ({ retryInMs: Number.isFinite(nearest) ? Math.max(0, nearest - this.now()) + 1 : Infinity });

      let id: number;
      let delivery: number;
      let from: string | null = null;
      let message: StoredMessage;
      if (expired !== undefined) {
        const stored = await this.backend.logGet(this.runId, topicKey(topic), expired);
        const p = data.pending[String(expired)]!;
        delete data.pending[String(expired)];
        if (stored === undefined) {
          // cannot happen while the run's files are whole; drop the entry rather than loop on it
          await this.commit(key, version, data);
          continue;
        }
        id = expired;
        message = messageOf(stored);
        delivery = p.delivery + 1;
        from = p.member;
      } else {
        let stored = await this.backend.logGet(this.runId, topicKey(topic), data.next);
        if (stored === undefined) {
          const head = await this.backend.logHead(this.runId, topicKey(topic));
          if (head < data.next) return nothing();
          // a gap (the state topic, written at version numbers): wait for it, or step over a gap that stays
          const [after] = await this.backend.logRange(this.runId, topicKey(topic), data.next, 1);
          if (!after) return nothing();
          if (after.seq !== data.next) {
            const written = Date.parse(messageOf(after.body).time);
            if (!(Number.isFinite(written) && now - written > HOLE_GRACE_MS)) return nothing();
          }
          data.next = after.seq;
          stored = after.body;
        }
        id = data.next;
        message = messageOf(stored);
        delivery = 1;
        data.next = id + 1;
      }
      if (ackTimeoutMs !== undefined) data.pending[String(id)] = { member, deadline: now + ackTimeoutMs, delivery };
      data.delivered += 1;
      if (!(await this.commit(key, version, data))) continue; // another member moved the cursor first: look again
      return { got: { id, message, delivery, from } };
    }
  }

  /**
   * Compare-and-set of a cursor: true when `data` became version `expected + 1`.
   *
   * The store confirms its own commits (VersionedDir.confirm); a backend can still answer
   * "failed" for a commit that landed (a reply lost on the way from a remote engine), and
   * handing out a message again would break exactly-once. So every cursor version carries the
   * tokens of the last {@link RECENT} commits, and a writer told "failed" looks for its own
   * token in version `expected + 1`, else in the newest version, before retrying. Cursors
   * keep {@link CURSOR_KEEP} versions, so that version is usually still there to look at.
   */
  private async commit(key: DocKey, expected: number, data: ConsumerCursor): Promise<boolean> {
    const token = randomBytes(9).toString('base64url');
    data.recent = [...(data.recent ?? []).slice(-(RECENT - 1)), token];
    if ((await this.backend.docCommit(this.runId, key, expected, data, { keep: CURSOR_KEEP })) !== null) return true;
    const mine = await this.backend.docReadVersion<ConsumerCursor>(this.runId, key, expected + 1);
    if (mine) return mine.data?.recent?.at(-1) === token;
    // version expected+1 is gone: removed by the failed commit itself, or as old
    const newest = await this.backend.docRead<ConsumerCursor>(this.runId, key);
    return newest?.data?.recent?.includes(token) === true;
  }

  async ack(topic: string, consumer: string, id: number): Promise<true | NotPending> {
    const key = cursorKey(topic, consumer);
    for (;;) {
      const cur = await this.backend.docRead<ConsumerCursor>(this.runId, key);
      const data = cursorOf(topic, consumer, cur?.data);
      if (!Object.hasOwn(data.pending, String(id))) {
        return { size: await this.backend.logHead(this.runId, topicKey(topic)), next: data.next };
      }
      delete data.pending[String(id)];
      data.acked += 1;
      if (await this.commit(key, cur?.version ?? 0, data)) return true;
    }
  }

  async summary(): Promise<TopicSummary[]> {
    const out: TopicSummary[] = [];
    for (const topic of await this.backend.topics(this.runId)) {
      const size = await this.backend.logHead(this.runId, topicKey(topic));
      const consumers: ConsumerSummary[] = [];
      for (const name of await this.backend.consumers(this.runId, topic)) {
        const cur = await this.backend.docRead<ConsumerCursor>(this.runId, cursorKey(topic, name));
        if (!cur) continue;
        let data: ConsumerCursor;
        try {
          data = cursorOf(topic, name, cur.data);
        } catch {
          continue;
        }
        consumers.push({ name, next: data.next, lag: Math.max(0, size - (data.next - 1)), pending: Object.keys(data.pending).length });
      }
      out.push({ topic, size, consumers });
    }
    return out;
  }
}
