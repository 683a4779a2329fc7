/**
 * Message queues of a run (`coord queue send|recv|ack|ls`): a topic is an append-only log of
 * messages numbered 1, 2, 3… (the Backend's log `topic/<name>`), and a consumer is a cursor
 * over it (the Backend's versioned document `consumer/<topic>/<name>`).
 *
 * - Each consumer reads every message of a topic once, in order: the cursor holds `next`, the
 *   first number not handed out yet. A consumer reading alone is a group of one.
 * - Members of a group share one cursor, so they share the work: handing out a message is one
 *   compare-and-set of the cursor (`docCommit`), and of two members that read the same
 *   version only one commits — the other re-reads and takes the next message. Each message
 *   goes to exactly one member, with no lock and nothing to clean up after a killed process.
 * - With an ack timeout, delivery is at-least-once: the handed-out message stays in the
 *   cursor's `pending` with a deadline until `ack`; once the deadline has passed, the next
 *   `recv` of any member of the group takes it again (before newer messages), counting the
 *   delivery. Without an ack timeout a message is done once handed out (at-most-once, and,
 *   since the cursor only moves forward, exactly once while the processes live).
 * - `recv` with a wait sleeps on the log's change notification (inotify), with a 1 s fallback
 *   timer and a timer for the nearest ack deadline; it never polls in a tight loop.
 *
 * Under `state_management.type: message_queue` the shared state publishes every version on the
 * topic `state` (message number = version); sending to it is refused, reading works as for any
 * topic. Those messages are written at their own numbers, so a version the state skipped
 * (a restored snapshot) leaves a gap: a gap that stays unfilled for {@link HOLE_GRACE_MS} is
 * stepped over.
 */
import type { Backend, DocKey, LogKey } from '../backend/types.js';
import type { CoordEvent, EventInput } from '../events/types.js';
import { ID_PATTERN } from '../plan/types.js';
import { UsageError } from '../util/result.js';
import { randomBytes } from 'node:crypto';

/** A message as stored in the topic's log. */
export interface StoredMessage {
  body: string;
  /** The stream that sent it (null: a process outside any stream). */
  sender: string | null;
  /** ISO time it was sent. */
  time: string;
}

/** A message as `recv` hands it out. */
export interface QueueDelivery {
  /** The message's number in its topic (from 1); what `ack` takes. */
  id: number;
  topic: string;
  body: string;
  sender: string | null;
  time: string;
  /** 1 on the first delivery, 2… when handed again after an ack timeout ran out. */
  delivery: number;
}

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
   * failed checks here whether it landed after all (see {@link MessageQueue} `commit`).
   */
  recent?: string[];
}

export interface RecvOptions {
  /** The cursor: the group's name, or the reader's own name when it reads alone. */
  consumer: string;
  /** Who receives (a member of the group); default: `consumer`. */
  member?: string;
  /** At-least-once: hand the message out again unless acknowledged within this many ms. */
  ackTimeoutMs?: number;
  /** Wait this long for a message when there is none (default 0: answer at once; Infinity: until one comes). */
  waitMs?: number;
  /** Stops a wait early (recv then returns undefined). */
  signal?: AbortSignal;
}

export interface AckOptions {
  consumer: string;
  member?: string;
}

export interface ConsumerSummary {
  name: string;
  next: number;
  /** Messages not handed out yet. */
  lag: number;
  /** Messages handed out and not acknowledged yet. */
  pending: number;
}

export interface TopicSummary {
  topic: string;
  /** Number of the newest message (0: none). */
  size: number;
  consumers: ConsumerSummary[];
}

export interface MessageQueueOptions {
  /** Where events go (default: the run's event log through the backend). */
  onEvent?: (e: EventInput) => void;
  /** Recorded as the sender of messages sent (default null). */
  sender?: string | null;
  /** The clock of ack deadlines (default Date.now). */
  now?: () => number;
  /** Topics `send` refuses (the shared state's `state` under message_queue). */
  readOnlyTopics?: readonly string[];
  /** How often a waiting `recv` looks without being notified (default 1000 ms; notifications wake it sooner). */
  fallbackMs?: number;
}

/** A wrong name, a refused topic, an id that is not pending: the message says why; `exitCode` for the CLI. */
export class QueueError extends UsageError {
  constructor(message: string, exitCode = 2) {
    super(message, exitCode);
    this.name = 'QueueError';
  }
}

/** How long a gap in a topic's numbers may stay unfilled before readers step over it. */
export const HOLE_GRACE_MS = 5000;
/** The slow fallback of waits, for file systems without change notifications. */
const FALLBACK_MS = 1000;
/** Versions of a cursor kept on disk (see `commit`: fewer make the compare-and-set unreliable under contention). */
const CURSOR_KEEP = 32;
/** Commit tokens a cursor version remembers. */
const RECENT = 64;

const topicKey = (topic: string): LogKey => `topic/${topic}`;
const cursorKey = (topic: string, consumer: string): DocKey => `consumer/${topic}/${consumer}`;

function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string' || !ID_PATTERN.test(name)) {
    throw new QueueError(`bad ${what} name ${JSON.stringify(name)}: use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit`);
  }
  return name;
}

function checkMember(member: unknown): string {
  // stream ids, --as names and `pid:<pid>`: printable, short
  if (typeof member !== 'string' || member.length === 0 || member.length > 128 || /[\u0000-\u001f\u007f]/.test(member)) {
    throw new QueueError(`bad member name ${JSON.stringify(member)}: 1 to 128 printable characters`);
  }
  return member;
}

function checkId(id: unknown): number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw new QueueError(`a message id is a whole number from 1, got ${JSON.stringify(id)}`);
  return id;
}

/** A cursor read from disk, checked; a fresh one when there is none. */
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

function messageOf(m: unknown): StoredMessage {
  const s = (m ?? {}) as Partial<StoredMessage>;
  return {
    body: typeof s.body === 'string' ? s.body : JSON.stringify(s.body ?? null),
    sender: typeof s.sender === 'string' ? s.sender : null,
    time: typeof s.time === 'string' ? s.time : '',
  };
}

/** What one look at the cursor found. */
type Attempt = { got: QueueDelivery } | { got?: undefined; nearest: number };

export class MessageQueue {
  private readonly emitEvent: (e: EventInput) => Promise<void>;
  private readonly sender: string | null;
  private readonly now: () => number;
  private readonly readOnly: ReadonlySet<string>;
  private readonly fallbackMs: number;

  constructor(
    private readonly backend: Backend,
    readonly runId: string,
    opts: MessageQueueOptions = {},
  ) {
    const onEvent = opts.onEvent;
    this.emitEvent = onEvent
      ? async (e) => onEvent(e)
      : async (e) => {
          try {
            await this.backend.appendEvent(this.runId, { ...e, time: new Date().toISOString(), run: this.runId } as CoordEvent);
          } catch {
            /* the operation happened; a lost event line must not turn it into a failure */
          }
        };
    this.sender = opts.sender ?? null;
    this.now = opts.now ?? Date.now;
    this.readOnly = new Set(opts.readOnlyTopics ?? []);
    this.fallbackMs = opts.fallbackMs !== undefined && opts.fallbackMs > 0 ? opts.fallbackMs : FALLBACK_MS;
  }

  /** A queue with the run's settings: the topic `state` is read-only under `state_management.type: message_queue`. */
  static async open(backend: Backend, runId: string, opts: MessageQueueOptions = {}): Promise<MessageQueue> {
    const run = await backend.getRun(runId);
    if (!run) throw new QueueError(`no run "${runId}"`);
    const type = run.sharedState?.type;
    const readOnly = [...(opts.readOnlyTopics ?? []), ...(type === 'message_queue' ? ['state'] : [])];
    return new MessageQueue(backend, runId, { ...opts, readOnlyTopics: readOnly });
  }

  /** Appends `body` to `topic`; returns the message's id (its number in the topic). */
  async send(topic: string, body: string): Promise<number> {
    checkName('topic', topic);
    if (typeof body !== 'string') throw new QueueError(`a message is a string, got ${body === null ? 'null' : typeof body}`);
    if (this.readOnly.has(topic)) {
      throw new QueueError(`topic ${topic} is written by the shared state (state_management.type: message_queue): change the state with coord state set/incr/merge/delete, read it with coord queue recv ${topic}`);
    }
    const message: StoredMessage = { body, sender: this.sender, time: new Date(this.now()).toISOString() };
    const id = await this.backend.logAppend(this.runId, topicKey(topic), message);
    await this.emitEvent({ type: 'queue-sent', topic, id, sender: this.sender });
    return id;
  }

  /**
   * The consumer's next message: one whose ack deadline passed (handed again), else the first
   * not handed out yet. Undefined when there is none within `waitMs`.
   */
  async recv(topic: string, opts: RecvOptions): Promise<QueueDelivery | undefined> {
    checkName('topic', topic);
    const consumer = checkName('consumer', opts.consumer);
    const member = checkMember(opts.member ?? consumer);
    const ackTimeoutMs = opts.ackTimeoutMs;
    if (ackTimeoutMs !== undefined && !(typeof ackTimeoutMs === 'number' && Number.isFinite(ackTimeoutMs) && ackTimeoutMs > 0)) {
      throw new QueueError(`an ack timeout is a positive number of milliseconds, got ${String(ackTimeoutMs)}`);
    }
    const waitMs = opts.waitMs ?? 0;
    if (typeof waitMs !== 'number' || Number.isNaN(waitMs) || waitMs < 0) throw new QueueError(`a wait is a non-negative number of milliseconds, got ${String(waitMs)}`);
    const end = Date.now() + waitMs;
    const signal = opts.signal;

    let dirty = false;
    let wake: (() => void) | null = null;
    let stop: (() => void) | undefined;
    const poke = (): void => {
      dirty = true;
      wake?.();
    };
    try {
      for (;;) {
        dirty = false;
        const r = await this.attempt(topic, consumer, member, ackTimeoutMs);
        if (r.got) return r.got;
        const left = end - Date.now();
        if (left <= 0 || signal?.aborted) return undefined;
        if (!stop) {
          // armed after the first look; look once more so that nothing sent in between is missed
          stop = this.backend.watchLog(this.runId, topicKey(topic), poke);
          signal?.addEventListener('abort', poke, { once: true });
          continue;
        }
        if (dirty) continue;
        const untilDeadline = Number.isFinite(r.nearest) ? Math.max(0, r.nearest - this.now()) + 1 : Infinity;
        const delay = Math.max(0, Math.min(left, this.fallbackMs, untilDeadline));
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = null;
      }
    } finally {
      stop?.();
      signal?.removeEventListener('abort', poke);
    }
  }

  /** One look: hands out a message by compare-and-set of the cursor (retried when another member moved it). */
  private async attempt(topic: string, consumer: string, member: string, ackTimeoutMs: number | undefined): Promise<Attempt> {
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
          if (head < data.next) return { nearest };
          // a gap (the state topic, written at version numbers): wait for it, or step over a gap that stays
          const [after] = await this.backend.logRange(this.runId, topicKey(topic), data.next, 1);
          if (!after) return { nearest };
          if (after.seq !== data.next) {
            const written = Date.parse(messageOf(after.body).time);
            if (!(Number.isFinite(written) && now - written > HOLE_GRACE_MS)) return { nearest };
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
      if (from === null) await this.emitEvent({ type: 'queue-received', topic, id, consumer, member, delivery });
      else await this.emitEvent({ type: 'queue-redelivered', topic, id, consumer, member, delivery, from });
      return { got: { id, topic, body: message.body, sender: message.sender, time: message.time, delivery } };
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

  /** Acknowledges message `id` (received with an ack timeout): it is not handed out again. */
  async ack(topic: string, id: number, opts: AckOptions): Promise<void> {
    checkName('topic', topic);
    const consumer = checkName('consumer', opts.consumer);
    const member = checkMember(opts.member ?? consumer);
    checkId(id);
    const key = cursorKey(topic, consumer);
    for (;;) {
      const cur = await this.backend.docRead<ConsumerCursor>(this.runId, key);
      const data = cursorOf(topic, consumer, cur?.data);
      if (!Object.hasOwn(data.pending, String(id))) {
        const size = await this.backend.logHead(this.runId, topicKey(topic));
        const why =
          id > size
            ? `${topic} has ${size === 0 ? 'no messages' : `messages 1 to ${size}`}`
            : id >= data.next
              ? 'it has not been delivered to it yet'
              : 'it was acknowledged already, or received without --ack-timeout';
        throw new QueueError(`message ${id} of ${topic} is not waiting for an acknowledgement by ${consumer} (${why})`, 1);
      }
      delete data.pending[String(id)];
      data.acked += 1;
      if (!(await this.commit(key, cur?.version ?? 0, data))) continue;
      await this.emitEvent({ type: 'queue-acked', topic, id, consumer, member });
      return;
    }
  }

  /** Topics, their sizes, and each consumer's position, lag and unacknowledged messages. */
  summary(): Promise<TopicSummary[]> {
    return queueSummary(this.backend, this.runId);
  }
}

/** `coord queue ls` and `coord status`: every topic of the run with its consumers. */
export async function queueSummary(backend: Backend, runId: string): Promise<TopicSummary[]> {
  const out: TopicSummary[] = [];
  for (const topic of await backend.topics(runId)) {
    const size = await backend.logHead(runId, topicKey(topic));
    const consumers: ConsumerSummary[] = [];
    for (const name of await backend.consumers(runId, topic)) {
      const cur = await backend.docRead<ConsumerCursor>(runId, cursorKey(topic, name));
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
