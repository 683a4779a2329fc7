/**
 * The key layout of the Redis backend, and the checks of the names that go into keys.
 *
 * P is the prefix (`coord:` by default); <id> a run id; <key> a document or log key such as
 * `state`, `consumer/jobs/w1`, `changes`, `topic/jobs`:
 *
 *   P runs                          ZSET    run ids, scored by startedAt (ms); listRuns sorts
 *                                           the records by the file backend's rule
 *   P run:<id>:record               HASH    the RunRecord: top-level field → JSON of its value
 *   P run:<id>:plan                 STRING  the plan text
 *   P run:<id>:streams              HASH    stream id → StreamRecord JSON
 *   P run:<id>:points               HASH    point name → PointRecord JSON
 *   P run:<id>:pools                STRING  PoolRecord[] JSON
 *   P run:<id>:proposals            HASH    proposal name → ProposalRecord JSON
 *   P run:<id>:events               LIST    CoordEvent JSON, oldest first; the readEvents
 *                                           cursor is the number of events read
 *   P run:<id>:doc:<key>            HASH    version → {"time","data","meta"} JSON
 *   P run:<id>:doc:<key>:versions   ZSET    the version numbers still stored
 *   P run:<id>:log:<key>            HASH    seq → body JSON; also the pub/sub channel of the log
 *   P run:<id>:log:<key>:seqs       ZSET    the seq numbers present
 *   P run:<id>:topic:<name>         STREAM  a queue topic's messages, entry ids `0-<number>`
 *                                           (stream-queues.ts); also the topic log's channel
 *   P run:<id>:topic:<name>:acks:<consumer>  HASH  message number → ack timeout (ms) it was taken with
 *   P run:<id>:topics               SET     queue topic names (a topic log entry or a consumer
 *                                           cursor was written)
 *   P run:<id>:consumers:<topic>    SET     consumer names of the topic
 *   P run:<id>:lease                STRING  `<host> <pid>` of the run's coordinator, expiring
 *                                           unless renewed (leases.ts)
 *   P run:<id>:beat:<stream>        STRING  the StreamBeat of the stream's running attempt,
 *                                           expiring `heartbeat.timeout` after it was written
 *                                           (beats.ts)
 *   P run:<id>:receipts             HASH    nonce → result of the write that carried it
 *   P run:<id>:receipts:order       LIST    those nonces, oldest first (the newest 10 000 kept)
 *
 * Shared documents, which belong to no run (the locks of src/locks/redis-store.ts; <c> a
 * collection such as `lock`, <name> a document's name):
 *
 *   P <c>:<name>                    HASH    `v` the version (1, 2, …), `data` the text; also the
 *                                           pub/sub channel of the document
 *   P <c>s                          SET     the names of the collection's documents
 *   P receipts:<c>                  HASH    nonce → result of the sharedCommit that carried it
 *   P receipts:<c>:order            LIST    those nonces, oldest first (the newest 10 000 kept)
 */
import { ID_PATTERN } from '../../plan/types.js';

/** Collection and document names of shared documents. */
export const SHARED_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** Fails on a run id the file backend would not accept either. */
export function checkRunId(id: string): void {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw new Error(`bad run id "${id}"`);
}

/** Whether `id` is a run id (reads of a bad id find nothing rather than fail). */
export function isRunId(id: string): boolean {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/** A document or log key checked as the file backend checks it, with the topic and consumer it names. */
export function parseKey(key: string): { topic: string; consumer: string } {
  if (key === 'state' || key === 'changes' || key === 'snapshots') return { topic: '', consumer: '' };
  const parts = key.split('/');
  if (parts[0] === 'topic' && parts.length === 2 && ID_PATTERN.test(parts[1]!)) return { topic: parts[1]!, consumer: '' };
  if (parts[0] === 'consumer' && parts.length === 3 && ID_PATTERN.test(parts[1]!) && ID_PATTERN.test(parts[2]!))
    return { topic: parts[1]!, consumer: parts[2]! };
  throw new Error(`bad storage key "${key}"`);
}

/** `*`, `?`, `[`, `]` and `\` escaped for SCAN MATCH. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/** The keys of one prefix (see the module comment). */
export class KeyLayout {
  constructor(readonly prefix: string) {}

  /** The registry of runs. */
  get runs(): string {
    return `${this.prefix}runs`;
  }

  /** The start of every key of run `id`. */
  run(id: string): string {
    return `${this.prefix}run:${id}:`;
  }

  /** The keys every write script starts with: record, receipts, receipt order. */
  base(id: string): string[] {
    const r = this.run(id);
    return [`${r}record`, `${r}receipts`, `${r}receipts:order`];
  }

  /** A document's versions and their numbers. */
  doc(id: string, key: string): [string, string] {
    const k = `${this.run(id)}doc:${key}`;
    return [k, `${k}:versions`];
  }

  /** A log's entries and numbers; a topic's log is one stream (named twice, for the scripts). */
  log(id: string, key: string): [string, string] {
    if (key.startsWith('topic/')) {
      const k = this.topicStream(id, key.slice('topic/'.length));
      return [k, k];
    }
    const k = `${this.run(id)}log:${key}`;
    return [k, `${k}:seqs`];
  }

  topicStream(id: string, topic: string): string {
    return `${this.run(id)}topic:${topic}`;
  }

  topics(id: string): string {
    return `${this.run(id)}topics`;
  }

  consumers(id: string, topic: string): string {
    return `${this.run(id)}consumers:${topic}`;
  }

  /** The ack timeouts of the messages a consumer has taken and not acknowledged. */
  acks(id: string, topic: string, consumer: string): string {
    return `${this.topicStream(id, topic)}:acks:${consumer}`;
  }

  lease(id: string): string {
    return `${this.run(id)}lease`;
  }

  /** The set of a collection's document names. */
  sharedSet(collection: string): string {
    if (!SHARED_NAME.test(collection)) throw new Error(`bad collection "${collection}"`);
    return `${this.prefix}${collection}s`;
  }

  /** A shared document's key. */
  shared(collection: string, name: string): string {
    if (!SHARED_NAME.test(collection)) throw new Error(`bad collection "${collection}"`);
    if (!SHARED_NAME.test(name)) throw new Error(`bad document name "${name}"`);
    return `${this.prefix}${collection}:${name}`;
  }

  /** The receipts of a collection's commits: by nonce, and their order. */
  sharedReceipts(collection: string): [string, string] {
    return [`${this.prefix}receipts:${collection}`, `${this.prefix}receipts:${collection}:order`];
  }
}
