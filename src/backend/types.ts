/**
 * The coordination storage of runs, as role interfaces: each says what one kind of caller
 * needs, and `Backend` is their composition. The file system is the embedded default
 * (src/backend/file); another engine (Redis, src/backend/redis) plugs in here without
 * touching the scheduler. test/backend/contract.ts runs one suite against every
 * implementation.
 *
 *   RunStore         the run registry and the run's stream and point records
 *   BoardStore       the run's resource pools and consensus proposals, as their owners write them
 *   EventLog         the run's events, in order
 *   DocumentStore    versioned documents with compare-and-set (the shared state, queue cursors)
 *   LogStore         numbered append-only logs with change notification (change log, topics)
 *   QueueStore       the run's topics and consumers, and the engine's own queue (optional)
 *   LeaseStore       the coordinator's expiring lease on a run (optional: engines that expire keys)
 *   BeatStore        heartbeats of running attempts as expiring keys (optional: the same)
 *   SharedDocuments  versioned documents of no run: the locks shared by hosts (optional)
 *
 * A unit that needs one role takes that role's type (src/locks/redis-store.ts takes
 * SharedDocuments), so a test can hand it that role alone.
 */
import type { CoordEvent } from '../events/types.js';
import type { PointRecord, PoolRecord, ProposalRecord, RunRecord, StreamBeat, StreamRecord } from './records.js';
import type { QueueEngine } from './queue-engine.js';

export type { CheckRecord, ProcessIdentity, RunRecord, StateSettings, StreamRecord, StreamBeat, PointRecord, PoolRecord } from './records.js';

/** One version of a versioned document (the shared state, a queue consumer's cursor). */
export interface DocVersion<T = unknown> {
  version: number;
  /** Milliseconds since the epoch when it was written. */
  time: number;
  data: T;
  /** What its writer recorded beside the data (the state's change-log entry). */
  meta?: unknown;
}

/**
 * Versioned documents of a run: `state` (the shared state) and `consumer/<topic>/<name>`
 * (a queue consumer's cursor and pending deliveries).
 */
export type DocKey = 'state' | `consumer/${string}/${string}`;
/**
 * Numbered append-only logs of a run: `changes` (the state's change log, numbered by state
 * version), `snapshots` (durable state snapshots, numbered by version), `topic/<name>` (a
 * queue topic's messages).
 */
export type LogKey = 'changes' | 'snapshots' | `topic/${string}`;

export interface DocCommitOptions {
  /** How many newest versions stay stored (older ones are removed). */
  keep?: number;
  /** Flush to disk before returning (survives power loss, not only a crash). */
  durable?: boolean;
  /** Stored with the version. */
  meta?: unknown;
  /**
   * Entries that go with the version, written at its number in these logs: with the commit,
   * and never lost when the writer dies right after it (a later commit, or the removal of old
   * versions, writes them), so the logs have no holes.
   */
  logs?: Partial<Record<LogKey, unknown>>;
}

/** The run registry and each run's stream and convergence-point records. */
export interface RunStore {
  /** Creates the storage of a new run; fails when the id exists. */
  createRun(run: RunRecord, planText: string): Promise<void>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Every run, newest first. */
  listRuns(): Promise<RunRecord[]>;
  updateRun(id: string, patch: Partial<Omit<RunRecord, 'id'>>): Promise<RunRecord>;
  /** Stores stream records (replacing earlier records of the same ids), as one write where the engine allows. */
  putStreams(runId: string, records: readonly StreamRecord[]): Promise<void>;
  listStreams(runId: string): Promise<StreamRecord[]>;
  putPoint(runId: string, record: PointRecord): Promise<void>;
  listPoints(runId: string): Promise<PointRecord[]>;
  /** Deletes everything stored for the run. */
  removeRun(id: string): Promise<void>;
}

/** The boards a run's coordinator keeps and commands read: its resource pools and its proposals. */
export interface BoardStore {
  /** Replaces the run's resource pool records (written by its coordinator as units move). */
  putPools(runId: string, pools: readonly PoolRecord[]): Promise<void>;
  /** The last pool records written; undefined when none were (a run without pools, or an older run). */
  getPools(runId: string): Promise<PoolRecord[] | undefined>;
  /** Stores a proposal (replacing the record of the same name). */
  putProposal(runId: string, record: ProposalRecord): Promise<void>;
  getProposal(runId: string, name: string): Promise<ProposalRecord | undefined>;
  /** Every proposal of the run, by name. */
  listProposals(runId: string): Promise<ProposalRecord[]>;
}

/** The run's event log (`events.jsonl` on files). */
export interface EventLog {
  /** Appends to the run's event log; events of one writer keep their order. */
  appendEvent(runId: string, event: CoordEvent): Promise<void>;
  /** Events from `cursor` on (0 = the beginning) and the cursor to continue from. */
  readEvents(runId: string, cursor?: number): Promise<{ events: CoordEvent[]; cursor: number }>;
}

/** Versioned documents of a run (see DocKey): every write a compare-and-set on the newest version. */
export interface DocumentStore {
  /** The newest version of a document; undefined before its first. */
  docRead<T>(runId: string, key: DocKey): Promise<DocVersion<T> | undefined>;
  /** One version, while it is still stored. */
  docReadVersion<T>(runId: string, key: DocKey, version: number): Promise<DocVersion<T> | undefined>;
  /** The version numbers still stored, newest first. */
  docVersions(runId: string, key: DocKey): Promise<number[]>;
  /**
   * Compare-and-set: stores `data` as version `expected + 1` when `expected` is the newest
   * version (0: none yet). Null, with nothing written, when another writer moved it first.
   */
  docCommit<T>(runId: string, key: DocKey, expected: number, data: T, opts?: DocCommitOptions): Promise<DocVersion<T> | null>;
  /** Stores `v` under its own number when that is above every stored version (restoring a snapshot); false otherwise. */
  docRestore<T>(runId: string, key: DocKey, v: DocVersion<T>, opts?: DocCommitOptions): Promise<boolean>;
}

/** Numbered append-only logs of a run (see LogKey); entries are never replaced. */
export interface LogStore {
  /** Appends at one past the newest entry (never leaving a gap); returns the entry's number (from 1). */
  logAppend<T>(runId: string, key: LogKey, body: T, opts?: { durable?: boolean }): Promise<number>;
  /** Writes entry `seq` when that number is free; false when it is taken (entries are never replaced). */
  logPut<T>(runId: string, key: LogKey, seq: number, body: T, opts?: { durable?: boolean }): Promise<boolean>;
  logGet<T>(runId: string, key: LogKey, seq: number): Promise<T | undefined>;
  /** Entries from `from` on, in order, at most `limit`. */
  logRange<T>(runId: string, key: LogKey, from?: number, limit?: number): Promise<Array<{ seq: number; body: T }>>;
  /** The newest entry's number; 0 when empty. */
  logHead(runId: string, key: LogKey): Promise<number>;
  /** Calls `onChange` when entries may have been added to the log; returns the function that stops it. */
  watchLog(runId: string, key: LogKey, onChange: () => void): () => void;
}

/** The run's queue topics and consumers (their messages are `topic/<name>` logs, their cursors `consumer/…` documents). */
export interface QueueStore {
  /** Queue topics of the run, by name. */
  topics(runId: string): Promise<string[]>;
  /** Consumers (cursor names) of a topic, by name. */
  consumers(runId: string, topic: string): Promise<string[]>;
  /**
   * The backend's own engine for the run's queue consumers (Redis: Streams consumer groups);
   * absent where consumers are cursors over the topic logs (src/queue/cursors.ts).
   */
  queueEngine?(runId: string): QueueEngine;
}

/**
 * The coordinator's lease on a run, where the engine can expire keys (Redis): held while the
 * coordinator lives (renewed well within `ttlMs`), so that hosts other than the
 * coordinator's can tell a live run from one whose coordinator died. Files have none: only
 * the coordinator's host reads them (it asks the process table).
 */
export interface LeaseStore {
  holdLease(runId: string, ttlMs: number): Promise<void>;
  dropLease(runId: string): Promise<void>;
  /** Whether the run's coordinator holds its lease now. */
  leaseHeld(runId: string): Promise<boolean>;
}

/**
 * Heartbeats of running attempts as keys that expire (Redis): `putBeat` stores the beat of
 * an attempt for `ttlMs` (its `heartbeat.timeout`), unless a newer attempt's beat is stored;
 * `endBeat` deletes it when the attempt ends; `readBeats` reads those stored now. Files have
 * none: the heartbeat files themselves are read on the one host that runs streams.
 */
export interface BeatStore {
  putBeat(runId: string, stream: string, beat: StreamBeat, ttlMs: number): Promise<void>;
  endBeat(runId: string, stream: string, attempt: number): Promise<void>;
  readBeats(runId: string, streams: string[]): Promise<Map<string, StreamBeat & { ttlMs: number }>>;
}

/**
 * Documents that belong to no run, in named collections (the locks of
 * src/locks/redis-store.ts are the collection `lock`), shared by every process that uses the
 * same server. Names match `[A-Za-z0-9_.-]{1,128}`; a document is text with a version.
 */
export interface SharedDocuments {
  /** Where the documents are, for messages (a server without credentials). */
  readonly where: string;
  /** The current version and text of a shared document; undefined when it was never written. */
  sharedRead(collection: string, name: string): Promise<{ version: number; data: string } | undefined>;
  /**
   * Compare-and-set: stores `data` as version `expected + 1` when `expected` is the current
   * version (0: never written); null when another writer moved the document first. A commit
   * lands at most once, even when it is sent again after a lost reply.
   */
  sharedCommit(collection: string, name: string, expected: number, data: string): Promise<number | null>;
  /** Every document of a collection: name, version, text (by name). */
  sharedList(collection: string): Promise<Array<{ name: string; version: number; data: string }>>;
  /** Calls `onChange` when the shared document may have changed; returns the stop function. */
  watchShared(collection: string, name: string, onChange: () => void): () => void;
}

/**
 * A whole backend: the roles every engine has, and the optional ones where the engine can
 * (expiring keys, shared documents).
 */
export interface Backend
  extends RunStore,
    BoardStore,
    EventLog,
    DocumentStore,
    LogStore,
    QueueStore,
    Partial<LeaseStore>,
    Partial<BeatStore>,
    Partial<SharedDocuments> {
  /** `file`, `redis`. */
  readonly kind: string;
  close(): Promise<void>;
}

/**
 * A backend as one host uses it: the shared storage, plus the directory where this host keeps
 * the local files of runs (stream output, heartbeats, the control socket, merged outputs).
 */
export interface HostBackend extends Backend {
  /** The `.coord` directory of this host. */
  readonly home: string;
  /** Where the runs are stored, for messages (a directory, or a server without credentials). */
  readonly where: string;
  /** This host's directory of run `id`: `<home>/runs/<id>`. */
  runDir(id: string): string;
}

/** Whether the backend keeps shared documents (Redis does; files do not: their locks are in this machine's registry). */
export function hasSharedDocuments(backend: Backend): backend is Backend & SharedDocuments {
  return typeof backend.where === 'string' && !!backend.sharedRead && !!backend.sharedCommit && !!backend.sharedList && !!backend.watchShared;
}
