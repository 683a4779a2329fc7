/**
 * Where a queue keeps its consumers: the part of `MessageQueue` (src/queue/queue.ts) that a
 * backend may provide with its own engine. The file backend has none, and queues there use
 * cursors over the topic's log (src/queue/cursors.ts); the Redis backend uses Redis Streams
 * consumer groups (src/backend/redis/stream-queues.ts). Both hand each message of a topic to
 * one member of a consumer, in order, and again after an ack timeout runs out. A leaf module
 * the backend owns (src/queue/engine.ts re-exports it), so the backend's interfaces need
 * nothing from the queue above them.
 */

/** A message as stored in the topic's log. */
export interface StoredMessage {
  body: string;
  /** The stream that sent it (null: a process outside any stream). */
  sender: string | null;
  /** ISO time it was sent. */
  time: string;
}

/** A message handed out by one `take`. */
export interface Taken {
  /** Its number in the topic (from 1). */
  id: number;
  message: StoredMessage;
  /** 1 on the first delivery, 2… when handed again after an ack timeout ran out. */
  delivery: number;
  /** The member it was handed to before (a redelivery); null on a first delivery. */
  from: string | null;
}

/**
 * What one look found: a message, or nothing yet and how long until a handed-out message's
 * ack timeout runs out (Infinity: none is waiting for one).
 */
export type TakeResult = { got: Taken } | { got?: undefined; retryInMs: number };

/** `ack` of a message that was not waiting for one: what the error message says about it. */
export interface NotPending {
  /** The topic's newest message number. */
  size: number;
  /** The first number not handed out to the consumer yet. */
  next: number;
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

export interface QueueEngine {
  /**
   * Hands out one message to `member` of `consumer`: one whose ack timeout ran out first (the
   * oldest), else the first not handed out yet. With `ackTimeoutMs` the message waits for an
   * acknowledgement; without, it is done once handed out.
   */
  take(topic: string, consumer: string, member: string, ackTimeoutMs: number | undefined): Promise<TakeResult>;
  /** Acknowledges message `id`: true, or what is known about why it was not waiting for one. */
  ack(topic: string, consumer: string, id: number): Promise<true | NotPending>;
  /** Every topic of the run with its consumers. */
  summary(): Promise<TopicSummary[]>;
}

/** Turns a stored entry into a message (entries written by older versions may lack fields). */
export function messageOf(m: unknown): StoredMessage {
  const s = (m ?? {}) as Partial<StoredMessage>;
  return {
    body: typeof s.body === 'string' ? s.body : JSON.stringify(s.body ?? null),
    sender: typeof s.sender === 'string' ? s.sender : null,
    time: typeof s.time === 'string' ? s.time : '',
  };
}
