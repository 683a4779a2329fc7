/**
 * The Redis backend: the storage of runs on a Redis server (7.0 or later), shared by every
 * `coord` process that points at it. Behaves like the file backend (src/backend/file); the
 * contract suite (test/backend/contract.ts) runs against both.
 *
 * This class is a facade over one unit per concern, each a role of src/backend/types.ts:
 *
 *   connection.ts     the resilient command connection: reconnects, resends, gives up, and
 *                     tells the owner's `onConnection` listener about outages
 *   keys.ts           the key layout (every key the backend writes) and name checks
 *   scripts.ts        the Lua scripts: every compound write is one script with a receipt
 *   run-records.ts    runs, stream/point records, pools and proposals (RunStore, BoardStore)
 *   event-log.ts      the event log, appended in ordered batches (EventLog)
 *   documents.ts      versioned documents with compare-and-set (DocumentStore)
 *   logs.ts           numbered logs (LogStore); topic-streams.ts: a topic's log as a stream
 *   pubsub.ts         change notification over one subscriber connection
 *   shared-docs.ts    documents of no run, the locks' store (SharedDocuments)
 *   stream-queues.ts  the Streams queue engine, consumer groups (QueueStore)
 *   leases.ts         the coordinator's expiring lease (LeaseStore)
 *   beats.ts          heartbeats of running attempts as expiring keys (BeatStore)
 *
 * Events of one backend go out in order; watchers are woken after every reconnect, since
 * messages published meanwhile were not delivered. The backend prints nothing: outages go to
 * `onConnection`, and the CLI's listener writes one line to stderr each.
 */
import { join, resolve } from 'node:path';
import type { CoordEvent } from '../../events/types.js';
import type {
  BeatStore,
  DocCommitOptions,
  DocKey,
  DocVersion,
  HostBackend,
  LeaseStore,
  LogKey,
  PointRecord,
  PoolRecord,
  RunRecord,
  SharedDocuments,
  StreamBeat,
  StreamRecord,
} from '../types.js';
import type { ProposalRecord } from '../records.js';
import type { QueueEngine } from '../queue-engine.js';
import { ID_PATTERN } from '../../plan/types.js';
import { parseBackendUrl } from '../url.js';
import { DEFAULT_GIVE_UP_MS, ResilientConnection, type ConnectionEvent } from './connection.js';
import { KeyLayout } from './keys.js';
import { Watchers } from './pubsub.js';
import { RedisRunRecords } from './run-records.js';
import { RedisEventLog } from './event-log.js';
import { RedisDocuments } from './documents.js';
import { RedisLogs } from './logs.js';
import { RedisSharedDocuments } from './shared-docs.js';
import { RedisStreamQueues } from './stream-queues.js';
import { RedisLeases } from './leases.js';
import { RedisBeats } from './beats.js';

export type { ConnectionEvent } from './connection.js';

export interface RedisBackendOptions {
  /** Prefix of every key (default `coord:`). */
  prefix?: string;
  /**
   * Told when the connection is lost, back, or away for longer than `giveUpMs` (once per
   * outage each). The backend prints nothing itself; without a listener nobody is told.
   */
  onConnection?: (e: ConnectionEvent) => void;
  /** How long calls wait for a lost connection before they reject (default 60 000 ms). */
  giveUpMs?: number;
  /**
   * Where this host keeps the local files of the runs it coordinates or runs streams of
   * (stream output, heartbeats, the control socket, merged outputs): `<home>/runs/<id>`
   * (default `./.coord`). The records, events, state and queues are on the server.
   */
  home?: string;
}

const DEFAULT_PREFIX = 'coord:';

export class RedisBackend implements HostBackend, LeaseStore, BeatStore, SharedDocuments {
  readonly kind = 'redis';
  /** The server, without credentials. */
  readonly where: string;
  readonly prefix: string;
  readonly home: string;
  private readonly conn: ResilientConnection;
  private readonly watchers: Watchers;
  private readonly records: RedisRunRecords;
  private readonly events: RedisEventLog;
  private readonly docs: RedisDocuments;
  private readonly logs: RedisLogs;
  private readonly shared: RedisSharedDocuments;
  private readonly queues: RedisStreamQueues;
  private readonly leases: RedisLeases;
  private readonly beats: RedisBeats;

  constructor(url: string, opts: RedisBackendOptions = {}) {
    const target = parseBackendUrl(url, 'RedisBackend');
    this.where = target.display;
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.home = resolve(opts.home ?? '.coord');
    const listener = opts.onConnection;
    this.conn = new ResilientConnection(target, opts.giveUpMs ?? DEFAULT_GIVE_UP_MS, (e) => listener?.(e));
    const keys = new KeyLayout(this.prefix);
    this.watchers = new Watchers(this.conn);
    this.records = new RedisRunRecords(this.conn, keys);
    this.events = new RedisEventLog(this.conn, keys);
    this.docs = new RedisDocuments(this.conn, keys);
    this.logs = new RedisLogs(this.conn, keys, this.watchers);
    this.shared = new RedisSharedDocuments(this.conn, keys, this.watchers);
    this.queues = new RedisStreamQueues(this.conn, keys);
    this.leases = new RedisLeases(this.conn, keys);
    this.beats = new RedisBeats(this.conn, this.prefix);
  }

  // ---- runs and records (run-records.ts)

  createRun(run: RunRecord, planText: string): Promise<void> {
    return this.records.createRun(run, planText);
  }
  getRun(id: string): Promise<RunRecord | undefined> {
    return this.records.getRun(id);
  }
  listRuns(): Promise<RunRecord[]> {
    return this.records.listRuns();
  }
  updateRun(id: string, patch: Partial<Omit<RunRecord, 'id'>>): Promise<RunRecord> {
    return this.records.updateRun(id, patch);
  }
  putStreams(runId: string, records: readonly StreamRecord[]): Promise<void> {
    return this.records.putStreams(runId, records);
  }
  listStreams(runId: string): Promise<StreamRecord[]> {
    return this.records.listStreams(runId);
  }
  putPoint(runId: string, record: PointRecord): Promise<void> {
    return this.records.putPoint(runId, record);
  }
  listPoints(runId: string): Promise<PointRecord[]> {
    return this.records.listPoints(runId);
  }
  putPools(runId: string, pools: readonly PoolRecord[]): Promise<void> {
    return this.records.putPools(runId, pools);
  }
  getPools(runId: string): Promise<PoolRecord[] | undefined> {
    return this.records.getPools(runId);
  }
  putProposal(runId: string, record: ProposalRecord): Promise<void> {
    return this.records.putProposal(runId, record);
  }
  getProposal(runId: string, name: string): Promise<ProposalRecord | undefined> {
    return this.records.getProposal(runId, name);
  }
  listProposals(runId: string): Promise<ProposalRecord[]> {
    return this.records.listProposals(runId);
  }
  /** Drops the record and the registry entry (later writes to the run fail), then every key of the run. */
  removeRun(id: string): Promise<void> {
    return this.records.removeRun(id);
  }

  // ---- events (event-log.ts)

  appendEvent(runId: string, event: CoordEvent): Promise<void> {
    return this.events.appendEvent(runId, event);
  }
  readEvents(runId: string, cursor?: number): Promise<{ events: CoordEvent[]; cursor: number }> {
    return this.events.readEvents(runId, cursor);
  }

  // ---- versioned documents (documents.ts)

  docRead<T>(runId: string, key: DocKey): Promise<DocVersion<T> | undefined> {
    return this.docs.docRead<T>(runId, key);
  }
  docReadVersion<T>(runId: string, key: DocKey, version: number): Promise<DocVersion<T> | undefined> {
    return this.docs.docReadVersion<T>(runId, key, version);
  }
  docVersions(runId: string, key: DocKey): Promise<number[]> {
    return this.docs.docVersions(runId, key);
  }
  docCommit<T>(runId: string, key: DocKey, expected: number, data: T, opts?: DocCommitOptions): Promise<DocVersion<T> | null> {
    return this.docs.docCommit(runId, key, expected, data, opts);
  }
  docRestore<T>(runId: string, key: DocKey, v: DocVersion<T>, opts?: DocCommitOptions): Promise<boolean> {
    return this.docs.docRestore(runId, key, v, opts);
  }

  // ---- numbered logs (logs.ts)

  logAppend<T>(runId: string, key: LogKey, body: T, opts?: { durable?: boolean }): Promise<number> {
    return this.logs.logAppend(runId, key, body, opts);
  }
  logPut<T>(runId: string, key: LogKey, seq: number, body: T, opts?: { durable?: boolean }): Promise<boolean> {
    return this.logs.logPut(runId, key, seq, body, opts);
  }
  logGet<T>(runId: string, key: LogKey, seq: number): Promise<T | undefined> {
    return this.logs.logGet<T>(runId, key, seq);
  }
  logRange<T>(runId: string, key: LogKey, from?: number, limit?: number): Promise<Array<{ seq: number; body: T }>> {
    return this.logs.logRange<T>(runId, key, from, limit);
  }
  logHead(runId: string, key: LogKey): Promise<number> {
    return this.logs.logHead(runId, key);
  }
  watchLog(runId: string, key: LogKey, onChange: () => void): () => void {
    return this.logs.watchLog(runId, key, onChange);
  }

  // ---- shared documents, of no run (shared-docs.ts)

  sharedRead(collection: string, name: string): Promise<{ version: number; data: string } | undefined> {
    return this.shared.sharedRead(collection, name);
  }
  sharedCommit(collection: string, name: string, expected: number, data: string): Promise<number | null> {
    return this.shared.sharedCommit(collection, name, expected, data);
  }
  sharedList(collection: string): Promise<Array<{ name: string; version: number; data: string }>> {
    return this.shared.sharedList(collection);
  }
  watchShared(collection: string, name: string, onChange: () => void): () => void {
    return this.shared.watchShared(collection, name, onChange);
  }

  // ---- queues (stream-queues.ts)

  topics(runId: string): Promise<string[]> {
    return this.queues.topics(runId);
  }
  consumers(runId: string, topic: string): Promise<string[]> {
    return this.queues.consumers(runId, topic);
  }
  queueEngine(runId: string): QueueEngine {
    return this.queues.queueEngine(runId);
  }

  // ---- the coordinator's lease (leases.ts) and stream heartbeats (beats.ts)

  holdLease(runId: string, ttlMs: number): Promise<void> {
    return this.leases.holdLease(runId, ttlMs);
  }
  dropLease(runId: string): Promise<void> {
    return this.leases.dropLease(runId);
  }
  leaseHeld(runId: string): Promise<boolean> {
    return this.leases.leaseHeld(runId);
  }
  putBeat(runId: string, stream: string, beat: StreamBeat, ttlMs: number): Promise<void> {
    return this.beats.putBeat(runId, stream, beat, ttlMs);
  }
  endBeat(runId: string, stream: string, attempt: number): Promise<void> {
    return this.beats.endBeat(runId, stream, attempt);
  }
  readBeats(runId: string, streams: string[]): Promise<Map<string, StreamBeat & { ttlMs: number }>> {
    return this.beats.readBeats(runId, streams);
  }

  // ---- this host, and shutdown

  /** This host's directory of run `id` (see `home`). */
  runDir(id: string): string {
    if (!ID_PATTERN.test(id)) throw new Error(`bad run id "${id}"`);
    return join(this.home, 'runs', id);
  }

  /** Waits for queued events, then ends both connections and every timer. */
  async close(): Promise<void> {
    if (this.conn.closed) return;
    await this.events.drain();
    this.conn.shut();
    await Promise.all([this.conn.end(), this.watchers.close()]);
  }
}
