/**
 * Message queues of a run (`coord queue send|recv|ack|ls`): a topic is an append-only log of
 * messages numbered 1, 2, 3… (the Backend's log `topic/<name>`), and a consumer reads every
 * message of a topic once, in order. A consumer reading alone is a group of one; members of a
 * group share the work: each message goes to exactly one member.
 *
 * - With an ack timeout, delivery is at-least-once: the handed-out message waits for `ack`,
 *   and once the timeout has run out the next `recv` of any member of the group takes it
 *   again (before newer messages), counting the delivery. Without an ack timeout a message is
 *   done once handed out (at-most-once, and exactly once while the processes live).
 * - Where consumers live is the backend's engine (src/queue/engine.ts): cursors over the log
 *   on files (src/queue/cursors.ts), Redis Streams consumer groups on Redis.
 * - `recv` with a wait sleeps on the log's change notification (inotify, or the server's
 *   pub/sub), with a 1 s fallback timer and a timer for the nearest ack timeout; it never
 *   polls in a tight loop.
 *
 * Under `state_management.type: message_queue` the shared state publishes every version on the
 * topic `state` (message number = version); sending to it is refused, reading works as for any
 * topic.
 *
 * Limits (src/util/limits.ts), checked by `send` before anything is written, on every backend:
 * a body takes at most MAX_MESSAGE_BYTES in UTF-8, and a body that is a JSON document nests at
 * most MAX_DEPTH levels (consumers parse it, and parsers fail on deeper ones). Other text is
 * not looked into.
 */
import type { Backend } from '../backend/types.js';
import type { CoordEvent, EventInput } from '../events/types.js';
import { ID_PATTERN } from '../plan/types.js';
import { CoordError, type ErrorCode } from '../core/errors.js';
import { formatLimit, jsonTextTooDeep, MAX_DEPTH, MAX_MESSAGE_BYTES } from '../util/limits.js';
import { CursorQueues, topicKey } from './cursors.js';
import type { QueueEngine, StoredMessage, TopicSummary } from './engine.js';

export type { StoredMessage, TopicSummary, ConsumerSummary } from './engine.js';
export type { ConsumerCursor, PendingDelivery } from './cursors.js';
export { HOLE_GRACE_MS } from './cursors.js';

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

export interface RecvOptions {
  /** The consumer: the group's name, or the reader's own name when it reads alone. */
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

export interface MessageQueueOptions {
  /** Where events go (default: the run's event log through the backend). */
  onEvent?: (e: EventInput) => void;
  /** Recorded as the sender of messages sent (default null). */
  sender?: string | null;
  /**
   * The clock of message times and, on backends without a queue engine, of ack deadlines
   * (default Date.now). On Redis, ack timeouts run on the server's clock.
   */
  now?: () => number;
  /** Topics `send` refuses (the shared state's `state` under message_queue). */
  readOnlyTopics?: readonly string[];
  /** How often a waiting `recv` looks without being notified (default 1000 ms; notifications wake it sooner). */
  fallbackMs?: number;
}

/** A wrong name, a refused topic (`invalid`), an id that is not pending (`refused`): the message says why. */
export class QueueError extends CoordError {
  constructor(message: string, code: ErrorCode = 'invalid') {
    super(code, message);
    this.name = 'QueueError';
  }
}

/** The slow fallback of waits, for file systems without change notifications. */
const FALLBACK_MS = 1000;

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

/** The backend's queue engine for the run, or cursors over its logs. */
function engineOf(backend: Backend, runId: string, now?: () => number): QueueEngine {
  return backend.queueEngine?.(runId) ?? new CursorQueues(backend, runId, now);
}

export class MessageQueue {
  private readonly emitEvent: (e: EventInput) => Promise<void>;
  private readonly sender: string | null;
  private readonly now: () => number;
  private readonly readOnly: ReadonlySet<string>;
  private readonly fallbackMs: number;
  private readonly engine: QueueEngine;

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
    // Stryker disable next-line ArrayDeclaration: an element that is not a topic name (it has spaces) is never sent to
    this.readOnly = new Set(opts.readOnlyTopics ?? []);
    this.fallbackMs = opts.fallbackMs !== undefined && opts.fallbackMs > 0 ? opts.fallbackMs : FALLBACK_MS;
    this.engine = engineOf(backend, runId, this.now);
  }

  /** A queue with the run's settings: the topic `state` is read-only under `state_management.type: message_queue`. */
  static async open(backend: Backend, runId: string, opts: MessageQueueOptions = {}): Promise<MessageQueue> {
    const run = await backend.getRun(runId);
    if (!run) throw new QueueError(`no run "${runId}"`, 'not-found');
    const type = run.sharedState?.type;
    const readOnly = [...(opts.readOnlyTopics ?? []), ...(type === 'message_queue' ? ['state'] : [])];
    return new MessageQueue(backend, runId, { ...opts, readOnlyTopics: readOnly });
  }

  /** Appends `body` to `topic`; returns the message's id (its number in the topic). */
  async send(topic: string, body: string): Promise<number> {
    checkName('topic', topic);
    if (typeof body !== 'string') throw new QueueError(`a message is a string, got ${body === null ? 'null' : typeof body}`);
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > MAX_MESSAGE_BYTES)
      throw new QueueError(
        `the message is too large: ${bytes} bytes (at most ${formatLimit(MAX_MESSAGE_BYTES)}, ${MAX_MESSAGE_BYTES} bytes); nothing was sent`,
      );
    if (jsonTextTooDeep(body))
      throw new QueueError(`the message is JSON nesting more than ${MAX_DEPTH} levels of objects and arrays (at most ${MAX_DEPTH}); nothing was sent`);
    if (this.readOnly.has(topic)) {
      throw new QueueError(
        `topic ${topic} is written by the shared state (state_management.type: message_queue): change the state with coord state set/incr/merge/delete, read it with coord queue recv ${topic}`,
      );
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
    if (typeof waitMs !== 'number' || Number.isNaN(waitMs) || waitMs < 0)
      throw new QueueError(`a wait is a non-negative number of milliseconds, got ${String(waitMs)}`);
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
        const r = await this.engine.take(topic, consumer, member, ackTimeoutMs);
        if (r.got) {
          const { id, message, delivery, from } = r.got;
          if (from === null) await this.emitEvent({ type: 'queue-received', topic, id, consumer, member, delivery });
          else await this.emitEvent({ type: 'queue-redelivered', topic, id, consumer, member, delivery, from });
          return { id, topic, body: message.body, sender: message.sender, time: message.time, delivery };
        }
        const left = end - Date.now();
        if (left <= 0 || signal?.aborted) return undefined;
        if (!stop) {
          // armed after the first look; look once more so that nothing sent in between is missed
          stop = this.backend.watchLog(this.runId, topicKey(topic), poke);
          signal?.addEventListener('abort', poke, { once: true });
          continue;
        }
        if (dirty) continue;
        const delay = Math.max(0, Math.min(left, this.fallbackMs, r.retryInMs));
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

  /** Acknowledges message `id` (received with an ack timeout): it is not handed out again. */
  async ack(topic: string, id: number, opts: AckOptions): Promise<void> {
    checkName('topic', topic);
    const consumer = checkName('consumer', opts.consumer);
    const member = checkMember(opts.member ?? consumer);
    checkId(id);
    const r = await this.engine.ack(topic, consumer, id);
    if (r !== true) {
      const why =
        id > r.size
          ? `${topic} has ${r.size === 0 ? 'no messages' : `messages 1 to ${r.size}`}`
          : id >= r.next
            ? 'it has not been delivered to it yet'
            : 'it was acknowledged already, or received without --ack-timeout';
      throw new QueueError(`message ${id} of ${topic} is not waiting for an acknowledgement by ${consumer} (${why})`, 'refused');
    }
    await this.emitEvent({ type: 'queue-acked', topic, id, consumer, member });
  }

  /** Topics, their sizes, and each consumer's position, lag and unacknowledged messages. */
  summary(): Promise<TopicSummary[]> {
    return this.engine.summary();
  }
}

/** `coord queue ls` and `coord status`: every topic of the run with its consumers. */
export function queueSummary(backend: Backend, runId: string): Promise<TopicSummary[]> {
  return engineOf(backend, runId).summary();
}
