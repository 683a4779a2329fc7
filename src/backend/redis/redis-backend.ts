/**
 * The Redis backend: the storage of runs on a Redis server (7.0 or later), shared by every
 * `coord` process that points at it. Behaves like the file backend (src/backend/file); the
 * contract suite (test/backend/contract.ts) runs against both.
 *
 * Key layout (P is the prefix, `coord:` by default; <id> a run id; <key> a document or log key
 * such as `state`, `consumer/jobs/w1`, `changes`, `topic/jobs`):
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
 *   P run:<id>:topics               SET     queue topic names (a topic log entry or a consumer
 *                                           cursor was written)
 *   P run:<id>:consumers:<topic>    SET     consumer names of the topic
 *   P run:<id>:lease                STRING  `<host> <pid>` of the run's coordinator, expiring
 *                                           unless renewed (holdLease)
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
 *
 * Logs keep a sorted set of their numbers beside the hash of bodies because logs can have gaps
 * (snapshots are written at state versions, a restore jumps forward): logRange is one
 * ZRANGE BYSCORE from `from` plus one HMGET, in chunks of 1000, so it stays fast however long
 * the log grows; logHead is the sorted set's top.
 *
 * Writes (scripts.ts): every compound write is one Lua script — createRun, updateRun, the
 * record puts, appendEvents, docWrite (docCommit's compare-and-set on the newest version, or
 * docRestore's forward jump, plus removal of versions beyond `keep` and the log entries the
 * options carry, written at the version's number in the same script, so there are never log
 * holes), logAppend (head + 1) and logPut (once per number). Log writes PUBLISH the seq on
 * the log's channel; watchLog subscribes to it over one subscriber connection per backend.
 *
 * Runs: every write script checks that the run's record exists, so writes to a run that was
 * never created or was removed fail with `no run "<id>"` (the file backend creates directories
 * for some of them); removeRun drops the record and the registry entry first, then SCANs the
 * run's keys and UNLINKs them in batches, and no later write brings any of them back.
 *
 * Reconnects: one command connection, re-established with backoff (50 ms doubling to 2 s)
 * while the server is away; each outage is reported once through `onConnection` (by default
 * one line to stderr when it is lost and one when it is back). Commands in flight when the
 * connection drops are not resent by the client library (autoResendUnfulfilledCommands off,
 * and maxRetriesPerRequest 0 so that ioredis rejects them instead of leaving them pending) and
 * nothing is queued while disconnected (enableOfflineQueue off): this class waits for the
 * connection and sends the failed command again. That is safe because every write carries a
 * nonce made once per call, and its script records a receipt: a write sent again after its
 * first attempt did land (only the reply was lost) finds its nonce and returns the first
 * attempt's result (the version or entry number it made, "created", …) without applying
 * anything twice. Receipts are kept for the newest 10 000 writes of each run, far more than
 * can land between a write and its resend right after a reconnect. After `giveUpMs` (60 s by
 * default) without a connection, calls reject with an error naming the server (a write that
 * was sent and not confirmed says that it may or may not have been applied), and fail at once
 * until the connection is back; reconnecting goes on meanwhile. Watchers are woken after every
 * reconnect, since messages published meanwhile were not delivered. Events of one backend go
 * out in order: appendEvent batches are written one after the other, each sent again as a
 * whole when needed.
 *
 * Durability: Redis 7.0 has no command that flushes one write to disk, so `durable` is
 * accepted and has no effect of its own: what survives a crash of the server is set on the
 * server, with `appendonly yes` and `appendfsync always` (every acknowledged write is on
 * disk) or `everysec` (at most a second lost).
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Backend, DocCommitOptions, DocKey, DocVersion, LogKey, PointRecord, PoolRecord, RunRecord, StreamBeat, StreamRecord } from '../types.js';
import type { CoordEvent } from '../../events/types.js';
import type { ProposalRecord } from '../records.js';
import { ID_PATTERN } from '../../plan/types.js';
import { parseBackendUrl, type RedisBackendUrl } from '../url.js';
import { APPEND_EVENTS, CREATE_RUN, DOC_READ, DOC_WRITE, LOG_APPEND, LOG_PUT, LOG_RANGE, PUT_FIELDS, PUT_VALUE, QUEUE_ACK, QUEUE_TAKE, SHARED_COMMIT, UPDATE_RUN, type Script } from './scripts.js';
import type { ConsumerSummary, NotPending, QueueEngine, TakeResult, TopicSummary } from '../queue-engine.js';
import { messageOf } from '../queue-engine.js';
import { endBeat, putBeat, readBeats } from './beats.js';

export interface ConnectionEvent {
  state: 'lost' | 'restored' | 'failed';
  /** Why the connection went (lost, failed). */
  error?: string;
  /** Reconnection attempts so far. */
  attempt?: number;
}

export interface RedisBackendOptions {
  /** Prefix of every key (default `coord:`). */
  prefix?: string;
  /** Told when the connection is lost, back, or away for longer than `giveUpMs`; by default one line to stderr each. */
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

type Arg = string | number;

const DEFAULT_PREFIX = 'coord:';
const DEFAULT_GIVE_UP_MS = 60_000;
/** Entries per logRange / readEvents round trip. */
const CHUNK = 1000;
/** Events per appendEvents script call. */
const EVENT_BATCH = 500;
/** Collection and document names of shared documents. */
const SHARED_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
/** Keys per UNLINK in removeRun. */
const UNLINK_BATCH = 500;

/** Errors after which a command is sent again once the connection is back. */
const TRANSIENT = /^(Connection is closed|Stream isn't writeable|Reached the max retries per request|LOADING|BUSY |MASTERDOWN|TRYAGAIN)/;
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

function isReplyError(e: unknown): e is Error {
  return e instanceof Error && e.name === 'ReplyError';
}

function isTransient(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (TRANSIENT.test(e.message)) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  const code = (e as NodeJS.ErrnoException).code;
  return !isReplyError(e) && code !== undefined && TRANSIENT_CODES.has(code);
}

function nonce(): string {
  return randomBytes(12).toString('base64url');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `*`, `?`, `[`, `]` and `\` escaped for SCAN MATCH. */
function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/** A document or log key checked as the file backend checks it, with the topic and consumer it names. */
function parseKey(key: string): { topic: string; consumer: string } {
  if (key === 'state' || key === 'changes' || key === 'snapshots') return { topic: '', consumer: '' };
  const parts = key.split('/');
  if (parts[0] === 'topic' && parts.length === 2 && ID_PATTERN.test(parts[1]!)) return { topic: parts[1]!, consumer: '' };
  if (parts[0] === 'consumer' && parts.length === 3 && ID_PATTERN.test(parts[1]!) && ID_PATTERN.test(parts[2]!)) return { topic: parts[1]!, consumer: parts[2]! };
  throw new Error(`bad storage key "${key}"`);
}

/** The message number of a topic stream's entry id `0-<number>`. */
function streamNumber(id: string): number {
  return Number(id.slice(id.indexOf('-') + 1));
}

/** A field's value in a stream entry's [field, value, …] list. */
function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function checkRunId(id: string): void {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw new Error(`bad run id "${id}"`);
}

function json(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${what} is not a JSON value`);
  return text;
}

/** Record field/value pairs; fields holding undefined are left out (as JSON.stringify does). */
function recordPairs(record: object): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(record)) {
    if (v === undefined) continue;
    out.push(k, JSON.stringify(v));
  }
  return out;
}

function recordOf<T>(flat: string[] | Record<string, string>): T | undefined {
  const entries = Array.isArray(flat) ? pairsOf(flat) : Object.entries(flat);
  if (entries.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) out[k] = JSON.parse(v);
  return out as T;
}

function pairsOf(flat: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

function startedScore(startedAt: unknown): number {
  const ms = typeof startedAt === 'string' ? Date.parse(startedAt) : NaN;
  return Number.isFinite(ms) ? ms : 0;
}

/** The file backend's order of runs: newest startedAt first, then id descending. */
function newestFirst(a: RunRecord, b: RunRecord): number {
  return a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : b.id.localeCompare(a.id);
}

/** The file backend lists records by file name, `<name>.json`. */
function byFileName(a: string, b: string): number {
  const x = `${a}.json`;
  const y = `${b}.json`;
  return x < y ? -1 : x > y ? 1 : 0;
}

interface StoredVersion {
  time: number;
  data: unknown;
  meta?: unknown;
}

function versionOf<T>(version: number, body: string): DocVersion<T> {
  const v = JSON.parse(body) as StoredVersion;
  return { version, time: v.time, data: v.data as T, ...(v.meta === undefined ? {} : { meta: v.meta }) };
}

/** One line to stderr when the connection is lost, when it is back, and when calls start failing. */
function defaultReporter(where: string, giveUpMs: number, connectedBefore: () => boolean): (e: ConnectionEvent) => void {
  return (e) => {
    const why = e.error ?? 'connection closed';
    if (e.state === 'lost') {
      process.stderr.write(connectedBefore() ? `coord: lost the connection to ${where} (${why}), retrying\n` : `coord: cannot connect to ${where} (${why}), retrying\n`);
    } else if (e.state === 'restored') {
      process.stderr.write(`coord: reconnected to ${where}\n`);
    } else {
      process.stderr.write(`coord: no connection to ${where} for ${giveUpMs / 1000} s (${why}); calls fail until it is back\n`);
    }
  };
}

interface EventQueue {
  items: Array<{ json: string; resolve: () => void; reject: (e: unknown) => void }>;
  running: Promise<void> | null;
}

export class RedisBackend implements Backend {
  readonly kind = 'redis';
  /** The server, without credentials. */
  readonly where: string;
  readonly prefix: string;
  readonly home: string;
  private readonly target: RedisBackendUrl;
  private readonly giveUpMs: number;
  private readonly report: (e: ConnectionEvent) => void;
  private readonly conn: Redis;
  private sub: Redis | null = null;
  /** pub/sub channel (a log's hash key) → its watchers, and whether the subscription is in place. */
  private readonly watchers = new Map<string, { cbs: Set<() => void>; live: boolean }>();
  private readonly eventQueues = new Map<string, EventQueue>();
  /** Calls waiting for the connection: resolved on 'ready', rejected when they give up or on close. */
  private readonly waiting = new Set<{ resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  /** When the current outage began (null while connected). */
  private downSince: number | null = null;
  private outageReported = false;
  private failedTimer: NodeJS.Timeout | null = null;
  private lastError = '';
  private connectedOnce = false;
  /** Reconnection attempts in the current outage. */
  private reconnects = 0;
  private closed = false;

  constructor(url: string, opts: RedisBackendOptions = {}) {
    this.target = parseBackendUrl(url, 'RedisBackend');
    this.where = this.target.display;
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.home = resolve(opts.home ?? '.coord');
    this.giveUpMs = opts.giveUpMs ?? DEFAULT_GIVE_UP_MS;
    this.report = opts.onConnection ?? defaultReporter(this.where, this.giveUpMs, () => this.connectedOnce);
    this.conn = this.connect();
    this.conn.on('error', (e: Error) => {
      this.lastError = e.message || String(e);
    });
    this.conn.on('close', () => this.onClose());
    this.conn.on('reconnecting', () => this.reconnects++);
    this.conn.on('ready', () => this.onReady());
  }

  /** A connection with the reconnect rules above (lazy: it connects on first use). */
  private connect(): Redis {
    return new Redis({
      host: this.target.host,
      port: this.target.port,
      db: this.target.db,
      ...(this.target.username === undefined ? {} : { username: this.target.username }),
      ...(this.target.password === undefined ? {} : { password: this.target.password }),
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      autoResubscribe: false,
      // 0: commands in flight when the connection drops are rejected at once (and sent again here)
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(1000, Math.min(this.giveUpMs, 5000)),
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times - 1, 6), 2000),
      // how long a closing socket may stay half-open before it is destroyed (2 s by default,
      // which would hold every short command that closes without a connection)
      disconnectTimeout: 100,
      connectionName: 'coord',
    });
  }

  private onClose(): void {
    if (this.closed) return;
    if (this.downSince === null) this.outage();
    if (!this.outageReported) {
      this.outageReported = true;
      this.report({ state: 'lost', error: this.lastError || (this.connectedOnce ? 'the server closed the connection' : 'connection closed') });
    }
  }

  /** Marks the start of an outage and arms the report of its passing `giveUpMs`. */
  private outage(): void {
    this.downSince = Date.now();
    if (this.failedTimer) clearTimeout(this.failedTimer);
    this.failedTimer = setTimeout(() => {
      this.failedTimer = null;
      if (this.downSince !== null && !this.closed) this.report({ state: 'failed', error: this.lastError || 'connection closed', attempt: this.reconnects });
    }, this.giveUpMs);
    this.failedTimer.unref();
  }

  private onReady(): void {
    const attempt = this.reconnects;
    this.reconnects = 0;
    this.connectedOnce = true;
    this.downSince = null;
    this.lastError = '';
    if (this.failedTimer) {
      clearTimeout(this.failedTimer);
      this.failedTimer = null;
    }
    if (this.outageReported) {
      this.outageReported = false;
      this.report({ state: 'restored', attempt });
    }
    for (const w of [...this.waiting]) {
      clearTimeout(w.timer);
      this.waiting.delete(w);
      w.resolve();
    }
  }

  private giveUpError(retriedWrite: boolean): Error {
    const since = this.downSince === null ? this.giveUpMs : Date.now() - this.downSince;
    return new Error(
      `no connection to the Redis backend at ${this.where} for ${since} ms (${this.lastError || 'not connected'})` +
        (retriedWrite ? '; the write was sent before the connection dropped and may or may not have been applied' : ''),
    );
  }

  /** Resolves once the connection is ready; rejects after `giveUpMs` of outage. */
  private ready(retriedWrite: boolean): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`the Redis backend at ${this.where} is closed`));
    if (this.conn.status === 'ready') return Promise.resolve();
    if (this.conn.status === 'wait') {
      this.conn.connect().catch(() => {
        /* reported through 'error' and 'close'; retried by retryStrategy */
      });
    }
    if (this.downSince === null) this.outage();
    const left = this.downSince! + this.giveUpMs - Date.now();
    if (left <= 0) return Promise.reject(this.giveUpError(retriedWrite));
    return new Promise<void>((resolve, reject) => {
      const w = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiting.delete(w);
          reject(this.giveUpError(retriedWrite));
        }, left),
      };
      this.waiting.add(w);
    });
  }

  /**
   * Runs `op` on the connection, again after each connection failure once the connection is
   * back, until `giveUpMs` has passed. Writes are safe to send again: see the file header.
   */
  private async call<R>(write: boolean, op: (c: Redis) => Promise<R>): Promise<R> {
    const started = Date.now();
    let retried = false;
    let pause = 20;
    for (;;) {
      await this.ready(write && retried);
      try {
        return await op(this.conn);
      } catch (e) {
        if (!isTransient(e) || this.closed) throw e;
        if (isReplyError(e)) this.lastError = e.message; // LOADING, BUSY: connection errors come through 'error'
        retried = true;
        if (Date.now() - started > this.giveUpMs) throw this.giveUpError(write);
        if (this.conn.status === 'ready') {
          // the server answered but could not serve (LOADING, BUSY): wait a little
          await sleep(pause);
          pause = Math.min(pause * 2, 1000);
        }
      }
    }
  }

  private async evalScript(c: Redis, s: Script, keys: string[], args: Arg[]): Promise<unknown> {
    try {
      return await c.evalsha(s.sha, keys.length, ...keys, ...args);
    } catch (e) {
      if (isReplyError(e) && e.message.startsWith('NOSCRIPT')) return c.eval(s.source, keys.length, ...keys, ...args);
      throw e;
    }
  }

  /** A write script with a fresh nonce (the same on every retry); errors of the script name the run. */
  private async write(s: Script, runId: string, keys: string[], args: Arg[]): Promise<unknown> {
    const n = nonce();
    try {
      return await this.call(true, (c) => this.evalScript(c, s, keys, [n, ...args]));
    } catch (e) {
      if (isReplyError(e) && e.message.startsWith('NORUN')) throw new Error(`no run "${runId}"`);
      if (isReplyError(e) && e.message.startsWith('EXISTS')) throw new Error(`run "${runId}" exists already`);
      throw e;
    }
  }

  private read<R>(op: (c: Redis) => Promise<R>): Promise<R> {
    return this.call(false, op);
  }

  // ---- keys

  private runKey(id: string): string {
    return `${this.prefix}run:${id}:`;
  }

  /** The keys every write script starts with: record, receipts, receipt order. */
  private base(id: string): string[] {
    const r = this.runKey(id);
    return [`${r}record`, `${r}receipts`, `${r}receipts:order`];
  }

  private docKeys(id: string, key: string): [string, string] {
    const k = `${this.runKey(id)}doc:${key}`;
    return [k, `${k}:versions`];
  }

  /** A log's entries and numbers; a topic's log is one stream (named twice, for the scripts). */
  private logKeys(id: string, key: string): [string, string] {
    if (key.startsWith('topic/')) {
      const k = this.topicStream(id, key.slice('topic/'.length));
      return [k, k];
    }
    const k = `${this.runKey(id)}log:${key}`;
    return [k, `${k}:seqs`];
  }

  private topicStream(id: string, topic: string): string {
    return `${this.runKey(id)}topic:${topic}`;
  }

  // ---- runs and records

  async createRun(run: RunRecord, planText: string): Promise<void> {
    checkRunId(run.id);
    const r = this.runKey(run.id);
    await this.write(CREATE_RUN, run.id, [...this.base(run.id), `${r}plan`, `${this.prefix}runs`], [run.id, startedScore(run.startedAt), planText, ...recordPairs(run)]);
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) return undefined;
    return recordOf<RunRecord>(await this.read((c) => c.hgetall(`${this.runKey(id)}record`)));
  }

  async listRuns(): Promise<RunRecord[]> {
    const records = await this.read(async (c) => {
      const ids = await c.zrange(`${this.prefix}runs`, 0, -1, 'REV');
      return Promise.all(ids.map((id) => c.hgetall(`${this.runKey(id)}record`)));
    });
    const runs: RunRecord[] = [];
    for (const flat of records) {
      const run = recordOf<RunRecord>(flat);
      if (run) runs.push(run);
    }
    return runs.sort(newestFirst);
  }

  async updateRun(id: string, patch: Partial<Omit<RunRecord, 'id'>>): Promise<RunRecord> {
    checkRunId(id);
    const set: string[] = [];
    const del: string[] = [];
    for (const [k, v] of Object.entries(patch)) {
      if (k === 'id') continue;
      if (v === undefined) del.push(k);
      else set.push(k, JSON.stringify(v));
    }
    const score = patch.startedAt === undefined ? '' : startedScore(patch.startedAt);
    const flat = (await this.write(UPDATE_RUN, id, [...this.base(id), `${this.prefix}runs`], [id, score, set.length / 2, ...set, ...del])) as string[];
    const run = recordOf<RunRecord>(flat);
    if (!run) throw new Error(`no run "${id}"`);
    return run;
  }

  async putStreams(runId: string, records: readonly StreamRecord[]): Promise<void> {
    checkRunId(runId);
    if (records.length === 0) return;
    const pairs = records.flatMap((r) => [r.id, json(r, 'a stream record')]);
    await this.write(PUT_FIELDS, runId, [...this.base(runId), `${this.runKey(runId)}streams`], pairs);
  }

  async listStreams(runId: string): Promise<StreamRecord[]> {
    if (typeof runId !== 'string' || !ID_PATTERN.test(runId)) return [];
    const values = await this.read((c) => c.hvals(`${this.runKey(runId)}streams`));
    return values.map((v) => JSON.parse(v) as StreamRecord).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async putPoint(runId: string, record: PointRecord): Promise<void> {
    checkRunId(runId);
    await this.write(PUT_FIELDS, runId, [...this.base(runId), `${this.runKey(runId)}points`], [record.name, json(record, 'a point record')]);
  }

  async listPoints(runId: string): Promise<PointRecord[]> {
    checkRunId(runId);
    return this.listHash<PointRecord>(`${this.runKey(runId)}points`);
  }

  async putPools(runId: string, pools: readonly PoolRecord[]): Promise<void> {
    checkRunId(runId);
    await this.write(PUT_VALUE, runId, [...this.base(runId), `${this.runKey(runId)}pools`], [json(pools, 'the pool records')]);
  }

  async getPools(runId: string): Promise<PoolRecord[] | undefined> {
    if (typeof runId !== 'string' || !ID_PATTERN.test(runId)) return undefined;
    const text = await this.read((c) => c.get(`${this.runKey(runId)}pools`));
    return text === null ? undefined : (JSON.parse(text) as PoolRecord[]);
  }

  async putProposal(runId: string, record: ProposalRecord): Promise<void> {
    checkRunId(runId);
    if (!ID_PATTERN.test(record.name)) throw new Error(`bad proposal name "${record.name}"`);
    await this.write(PUT_FIELDS, runId, [...this.base(runId), `${this.runKey(runId)}proposals`], [record.name, json(record, 'a proposal')]);
  }

  async getProposal(runId: string, name: string): Promise<ProposalRecord | undefined> {
    if (typeof runId !== 'string' || !ID_PATTERN.test(runId) || typeof name !== 'string' || !ID_PATTERN.test(name)) return undefined;
    const text = await this.read((c) => c.hget(`${this.runKey(runId)}proposals`, name));
    return text === null ? undefined : (JSON.parse(text) as ProposalRecord);
  }

  async listProposals(runId: string): Promise<ProposalRecord[]> {
    if (typeof runId !== 'string' || !ID_PATTERN.test(runId)) return [];
    return this.listHash<ProposalRecord>(`${this.runKey(runId)}proposals`);
  }

  private async listHash<T>(key: string): Promise<T[]> {
    const all = await this.read((c) => c.hgetall(key));
    return Object.keys(all)
      .sort(byFileName)
      .map((k) => JSON.parse(all[k]!) as T);
  }

  // ---- events

  /**
   * Queued per run and written in batches, one batch at a time, so that the events of this
   * backend keep their order even when a batch has to be sent again after a reconnect.
   */
  appendEvent(runId: string, event: CoordEvent): Promise<void> {
    try {
      checkRunId(runId);
      const text = json(event, 'an event');
      return new Promise<void>((resolve, reject) => {
        let q = this.eventQueues.get(runId);
        if (!q) {
          q = { items: [], running: null };
          this.eventQueues.set(runId, q);
        }
        q.items.push({ json: text, resolve, reject });
        if (!q.running) q.running = this.flushEvents(runId, q);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private async flushEvents(runId: string, q: EventQueue): Promise<void> {
    // let the appends of this tick join the first batch
    await Promise.resolve();
    while (q.items.length > 0) {
      const batch = q.items.splice(0, EVENT_BATCH);
      try {
        await this.write(APPEND_EVENTS, runId, [...this.base(runId), `${this.runKey(runId)}events`], batch.map((b) => b.json));
        for (const b of batch) b.resolve();
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    q.running = null;
    if (this.eventQueues.get(runId) === q) this.eventQueues.delete(runId);
  }

  async readEvents(runId: string, cursor = 0): Promise<{ events: CoordEvent[]; cursor: number }> {
    checkRunId(runId);
    if (!Number.isSafeInteger(cursor) || cursor < 0) throw new RangeError(`bad event cursor ${cursor}`);
    const key = `${this.runKey(runId)}events`;
    const events: CoordEvent[] = [];
    let at = cursor;
    for (;;) {
      const start = at;
      const chunk = await this.read((c) => c.lrange(key, start, start + CHUNK - 1));
      for (const line of chunk) events.push(JSON.parse(line) as CoordEvent);
      at += chunk.length;
      if (chunk.length < CHUNK) break;
    }
    return { events, cursor: at };
  }

  // ---- versioned documents

  async docRead<T>(runId: string, key: DocKey): Promise<DocVersion<T> | undefined> {
    checkRunId(runId);
    parseKey(key);
    const got = (await this.read((c) => this.evalScript(c, DOC_READ, this.docKeys(runId, key), []))) as [string, string] | null;
    return got ? versionOf<T>(Number(got[0]), got[1]) : undefined;
  }

  async docReadVersion<T>(runId: string, key: DocKey, version: number): Promise<DocVersion<T> | undefined> {
    if (!Number.isSafeInteger(version) || version < 1) return undefined;
    checkRunId(runId);
    parseKey(key);
    const body = await this.read((c) => c.hget(this.docKeys(runId, key)[0], String(version)));
    return body === null ? undefined : versionOf<T>(version, body);
  }

  async docVersions(runId: string, key: DocKey): Promise<number[]> {
    checkRunId(runId);
    parseKey(key);
    return (await this.read((c) => c.zrange(this.docKeys(runId, key)[1], 0, -1, 'REV'))).map(Number);
  }

  async docCommit<T>(runId: string, key: DocKey, expected: number, data: T, opts: DocCommitOptions = {}): Promise<DocVersion<T> | null> {
    checkRunId(runId);
    if (!Number.isSafeInteger(expected) || expected < 0) {
      parseKey(key);
      return null; // never the newest version
    }
    const time = Date.now();
    const made = await this.docWrite(runId, key, 'commit', expected, { time, data, ...(opts.meta === undefined ? {} : { meta: opts.meta }) }, opts);
    if (made === null) return null;
    return { version: made, time, data, ...(opts.meta === undefined ? {} : { meta: opts.meta }) };
  }

  async docRestore<T>(runId: string, key: DocKey, v: DocVersion<T>, opts: DocCommitOptions = {}): Promise<boolean> {
    checkRunId(runId);
    if (!Number.isSafeInteger(v.version) || v.version < 1) throw new RangeError(`bad version ${v.version}`);
    const meta = v.meta;
    const made = await this.docWrite(runId, key, 'restore', v.version, { time: v.time ?? Date.now(), data: v.data, ...(meta === undefined ? {} : { meta }) }, opts);
    return made !== null;
  }

  private async docWrite(runId: string, key: DocKey, mode: 'commit' | 'restore', n: number, stored: StoredVersion, opts: DocCommitOptions): Promise<number | null> {
    const { topic, consumer } = parseKey(key);
    const keep = Math.max(2, opts.keep ?? 8);
    const r = this.runKey(runId);
    const keys = [...this.base(runId), `${r}topics`, ...this.docKeys(runId, key), consumer ? `${r}consumers:${topic}` : `${r}topics`];
    const args: Arg[] = [mode, n, json(stored, 'a document version'), keep, consumer ? topic : '', consumer];
    for (const [logKey, body] of Object.entries(opts.logs ?? {})) {
      const parsed = parseKey(logKey);
      keys.push(...this.logKeys(runId, logKey));
      args.push(json(body, `the ${logKey} entry`), logKey.startsWith('topic/') ? parsed.topic : '');
    }
    const made = await this.write(DOC_WRITE, runId, keys, args);
    return made === null ? null : Number(made);
  }

  // ---- numbered logs

  private logWriteKeys(runId: string, key: LogKey): { keys: string[]; topic: string } {
    const { topic } = parseKey(key);
    return { keys: [...this.base(runId), `${this.runKey(runId)}topics`, ...this.logKeys(runId, key)], topic: key.startsWith('topic/') ? topic : '' };
  }

  async logAppend<T>(runId: string, key: LogKey, body: T, _opts: { durable?: boolean } = {}): Promise<number> {
    checkRunId(runId);
    const { keys, topic } = this.logWriteKeys(runId, key);
    return Number(await this.write(LOG_APPEND, runId, keys, [json(body, 'a log entry'), topic]));
  }

  async logPut<T>(runId: string, key: LogKey, seq: number, body: T, _opts: { durable?: boolean } = {}): Promise<boolean> {
    checkRunId(runId);
    if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError(`bad log position ${seq}`);
    const { keys, topic } = this.logWriteKeys(runId, key);
    return (await this.write(LOG_PUT, runId, keys, [seq, json(body, 'a log entry'), topic])) !== null;
  }

  async logGet<T>(runId: string, key: LogKey, seq: number): Promise<T | undefined> {
    checkRunId(runId);
    parseKey(key);
    if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
    if (key.startsWith('topic/')) {
      const [entry] = await this.topicRange(this.logKeys(runId, key)[0], seq, seq, 1);
      return entry === undefined ? undefined : (entry.body as T);
    }
    const body = await this.read((c) => c.hget(this.logKeys(runId, key)[0], String(seq)));
    return body === null ? undefined : (JSON.parse(body) as T);
  }

  async logRange<T>(runId: string, key: LogKey, from = 1, limit = Infinity): Promise<Array<{ seq: number; body: T }>> {
    checkRunId(runId);
    parseKey(key);
    const out: Array<{ seq: number; body: T }> = [];
    if (!(limit > 0) || Number.isNaN(from)) return out;
    const keys = this.logKeys(runId, key);
    let next = Math.max(1, from);
    while (out.length < limit && Number.isFinite(next)) {
      const want = Math.min(CHUNK, limit - out.length);
      const start = next;
      if (key.startsWith('topic/')) {
        const got = await this.topicRange(keys[0], start, Infinity, want);
        out.push(...(got as Array<{ seq: number; body: T }>));
        if (got.length < want) break;
        next = out[out.length - 1]!.seq + 1;
        continue;
      }
      const flat = (await this.read((c) => this.evalScript(c, LOG_RANGE, keys, [String(start), want]))) as string[];
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ seq: Number(flat[i]), body: JSON.parse(flat[i + 1]!) as T });
      if (flat.length / 2 < want) break;
      next = out[out.length - 1]!.seq + 1;
    }
    return out;
  }

  async logHead(runId: string, key: LogKey): Promise<number> {
    checkRunId(runId);
    parseKey(key);
    if (key.startsWith('topic/')) return this.topicHead(this.logKeys(runId, key)[0]);
    const [top] = await this.read((c) => c.zrange(this.logKeys(runId, key)[1], 0, 0, 'REV'));
    return top === undefined ? 0 : Number(top);
  }

  /** Entries `from`..`to` of a topic's stream (ids 0-<number>), at most `count`. */
  private async topicRange(stream: string, from: number, to: number, count: number): Promise<Array<{ seq: number; body: unknown }>> {
    const end = Number.isFinite(to) ? `0-${to}` : '+';
    const rows = await this.read((c) => c.xrange(stream, `0-${from}`, end, 'COUNT', count));
    return rows.map(([id, fields]) => ({ seq: streamNumber(id), body: JSON.parse(fieldOf(fields, 'b') ?? 'null') as unknown }));
  }

  /** The number of a topic stream's newest entry; 0 when it has none. */
  private async topicHead(stream: string): Promise<number> {
    const [last] = await this.read((c) => c.xrevrange(stream, '+', '-', 'COUNT', 1));
    return last === undefined ? 0 : streamNumber(last[0]);
  }

  /**
   * Subscribes to the log's channel on the shared subscriber connection. `onChange` is also
   * called once the subscription is in place (an entry written while it was being set up is
   * not missed) and after every reconnect (messages published meanwhile were not delivered).
   */
  watchLog(runId: string, key: LogKey, onChange: () => void): () => void {
    checkRunId(runId);
    parseKey(key);
    return this.watchChannel(this.logKeys(runId, key)[0], onChange);
  }

  private watchChannel(channel: string, onChange: () => void): () => void {
    if (this.closed) throw new Error(`the Redis backend at ${this.where} is closed`);
    let active = true;
    const cb = (): void => {
      if (active) onChange();
    };
    let w = this.watchers.get(channel);
    const fresh = !w;
    if (!w) {
      w = { cbs: new Set(), live: false };
      this.watchers.set(channel, w);
    }
    w.cbs.add(cb);
    const sub = this.subscriber();
    if (w.live) queueMicrotask(cb);
    else if (fresh && sub.status === 'ready') this.subscribe(sub, [channel]);
    else if (sub.status === 'wait') {
      sub.connect().catch(() => {
        /* retried by retryStrategy; 'ready' subscribes */
      });
    }
    return () => {
      if (!active) return;
      active = false;
      const now = this.watchers.get(channel);
      if (!now) return;
      now.cbs.delete(cb);
      if (now.cbs.size > 0) return;
      this.watchers.delete(channel);
      if (this.sub?.status === 'ready') {
        this.sub.unsubscribe(channel).catch(() => {
          /* gone with the connection */
        });
      }
    };
  }

  /** SUBSCRIBE, then wakes the channels' watchers (what was written before it took effect is looked at). */
  private subscribe(sub: Redis, channels: string[]): void {
    sub.subscribe(...channels).then(
      () => {
        for (const ch of channels) {
          const w = this.watchers.get(ch);
          if (!w) continue;
          w.live = true;
          for (const cb of [...w.cbs]) cb();
        }
      },
      () => {
        /* the connection dropped: subscribed again on 'ready' */
      },
    );
  }

  private subscriber(): Redis {
    if (this.sub) return this.sub;
    const sub = this.connect();
    sub.on('error', () => {
      /* the command connection reports outages; this one reconnects on its own */
    });
    sub.on('message', (channel: string) => {
      const w = this.watchers.get(channel);
      if (w) for (const cb of [...w.cbs]) cb();
    });
    sub.on('close', () => {
      for (const w of this.watchers.values()) w.live = false;
    });
    sub.on('ready', () => {
      const channels = [...this.watchers.keys()];
      if (channels.length > 0) this.subscribe(sub, channels);
    });
    this.sub = sub;
    return sub;
  }

  // ---- shared documents (no run): compare-and-set, listing, change notification

  /** The set of a collection's document names. */
  private sharedSet(collection: string): string {
    if (!SHARED_NAME.test(collection)) throw new Error(`bad collection "${collection}"`);
    return `${this.prefix}${collection}s`;
  }

  /** A shared document's key. */
  private sharedKey(collection: string, name: string): string {
    if (!SHARED_NAME.test(collection)) throw new Error(`bad collection "${collection}"`);
    if (!SHARED_NAME.test(name)) throw new Error(`bad document name "${name}"`);
    return `${this.prefix}${collection}:${name}`;
  }

  /** The current version and text of a shared document; undefined when it was never written. */
  async sharedRead(collection: string, name: string): Promise<{ version: number; data: string } | undefined> {
    const key = this.sharedKey(collection, name);
    const [v, data] = await this.read((c) => c.hmget(key, 'v', 'data'));
    return v === null || v === undefined || data === null || data === undefined ? undefined : { version: Number(v), data };
  }

  /**
   * Compare-and-set: stores `data` as version `expected + 1` when `expected` is the current
   * version (0: never written); null when another writer moved the document first. Sent again
   * after a lost connection with the same nonce, so a commit lands at most once.
   */
  async sharedCommit(collection: string, name: string, expected: number, data: string): Promise<number | null> {
    if (!Number.isSafeInteger(expected) || expected < 0) throw new RangeError(`bad version ${expected}`);
    // the document, its collection's receipts, the collection's set of names
    const keys = [this.sharedKey(collection, name), `${this.prefix}receipts:${collection}`, `${this.prefix}receipts:${collection}:order`, this.sharedSet(collection)];
    const n = nonce();
    const made = await this.call(true, (c) => this.evalScript(c, SHARED_COMMIT, keys, [n, expected, data, name]));
    return made === null ? null : Number(made);
  }

  /** Every document of a collection: name, version, text (by name). */
  async sharedList(collection: string): Promise<Array<{ name: string; version: number; data: string }>> {
    const set = this.sharedSet(collection);
    const names = (await this.read((c) => c.smembers(set))).filter((n) => SHARED_NAME.test(n)).sort();
    const out: Array<{ name: string; version: number; data: string }> = [];
    for (let i = 0; i < names.length; i += CHUNK) {
      const batch = names.slice(i, i + CHUNK);
      const got = await this.read((c) => Promise.all(batch.map((n) => c.hmget(this.sharedKey(collection, n), 'v', 'data'))));
      batch.forEach((name, j) => {
        const [v, data] = got[j] ?? [];
        if (v != null && data != null) out.push({ name, version: Number(v), data });
      });
    }
    return out;
  }

  /** Calls `onChange` when the shared document may have changed (see watchLog); returns the stop function. */
  watchShared(collection: string, name: string, onChange: () => void): () => void {
    return this.watchChannel(this.sharedKey(collection, name), onChange);
  }

  // ---- queues

  async topics(runId: string): Promise<string[]> {
    if (typeof runId !== 'string' || !ID_PATTERN.test(runId)) return [];
    return (await this.read((c) => c.smembers(`${this.runKey(runId)}topics`))).sort();
  }

  async consumers(runId: string, topic: string): Promise<string[]> {
    if (typeof runId !== 'string' || !ID_PATTERN.test(runId) || typeof topic !== 'string' || !ID_PATTERN.test(topic)) return [];
    return (await this.read((c) => c.smembers(`${this.runKey(runId)}consumers:${topic}`))).sort();
  }

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
  queueEngine(runId: string): QueueEngine {
    checkRunId(runId);
    return {
      take: (topic, consumer, member, ackTimeoutMs) => this.queueTake(runId, topic, consumer, member, ackTimeoutMs),
      ack: (topic, consumer, id) => this.queueAck(runId, topic, consumer, id),
      summary: () => this.queueSummary(runId),
    };
  }

  private acksKey(runId: string, topic: string, consumer: string): string {
    return `${this.topicStream(runId, topic)}:acks:${consumer}`;
  }

  private async queueTake(runId: string, topic: string, consumer: string, member: string, ackTimeoutMs: number | undefined): Promise<TakeResult> {
    const r = this.runKey(runId);
    const stream = this.topicStream(runId, topic);
    const keys = [...this.base(runId), `${r}topics`, stream, `${r}consumers:${topic}`, this.acksKey(runId, topic, consumer)];
    const timeout = ackTimeoutMs === undefined ? '' : String(Math.max(1, Math.ceil(ackTimeoutMs)));
    const [result, body] = (await this.write(QUEUE_TAKE, runId, keys, [topic, consumer, member, timeout])) as [string, string | null];
    const got = JSON.parse(result) as { id?: number; delivery?: number; from?: string | false; wait?: number };
    if (got.id === undefined) return { retryInMs: got.wait === undefined || got.wait < 0 ? Infinity : got.wait + 1 };
    // a retried call answered from its receipt carries no body: read it
    const stored = body !== null ? (JSON.parse(body) as unknown) : (await this.topicRange(stream, got.id, got.id, 1))[0]?.body;
    const message = messageOf(stored);
    return { got: { id: got.id, message, delivery: got.delivery ?? 1, from: typeof got.from === 'string' ? got.from : null } };
  }

  private async queueAck(runId: string, topic: string, consumer: string, id: number): Promise<true | NotPending> {
    const stream = this.topicStream(runId, topic);
    const done = await this.write(QUEUE_ACK, runId, [...this.base(runId), stream, this.acksKey(runId, topic, consumer)], [consumer, id]);
    if (done === '1') return true;
    const [size, groups] = await Promise.all([this.topicHead(stream), this.groupsOf(stream)]);
    const group = groups.find((g) => g.name === consumer);
    return { size, next: group ? group.next : 1 };
  }

  /** The consumer groups of a topic's stream: name, next number to hand out, pending count. */
  private async groupsOf(stream: string): Promise<Array<{ name: string; next: number; pending: number }>> {
    let rows: unknown[];
    try {
      rows = (await this.read((c) => c.xinfo('GROUPS', stream))) as unknown[];
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

  private async queueSummary(runId: string): Promise<TopicSummary[]> {
    const out: TopicSummary[] = [];
    for (const topic of await this.topics(runId)) {
      const stream = this.topicStream(runId, topic);
      const [size, groups] = await Promise.all([this.topicHead(stream), this.groupsOf(stream)]);
      const consumers: ConsumerSummary[] = groups
        .map((g) => ({ name: g.name, next: g.next, lag: Math.max(0, size - (g.next - 1)), pending: g.pending }))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      out.push({ topic, size, consumers });
    }
    return out;
  }

  // ---- the coordinator's lease

  async holdLease(runId: string, ttlMs: number): Promise<void> {
    checkRunId(runId);
    await this.call(true, (c) => c.set(`${this.runKey(runId)}lease`, `${hostname()} ${process.pid}`, 'PX', Math.max(1, Math.round(ttlMs))));
  }

  async dropLease(runId: string): Promise<void> {
    checkRunId(runId);
    await this.call(true, (c) => c.del(`${this.runKey(runId)}lease`));
  }

  async leaseHeld(runId: string): Promise<boolean> {
    checkRunId(runId);
    return (await this.read((c) => c.exists(`${this.runKey(runId)}lease`))) === 1;
  }

  // ---- stream heartbeats (beats.ts)

  async putBeat(runId: string, stream: string, beat: StreamBeat, ttlMs: number): Promise<void> {
    checkRunId(runId);
    await this.call(true, (c) => putBeat(c, this.prefix, runId, stream, beat, ttlMs));
  }

  async endBeat(runId: string, stream: string, attempt: number): Promise<void> {
    checkRunId(runId);
    await this.call(true, (c) => endBeat(c, this.prefix, runId, stream, attempt));
  }

  readBeats(runId: string, streams: string[]): Promise<Map<string, StreamBeat & { ttlMs: number }>> {
    checkRunId(runId);
    return this.read((c) => readBeats(c, this.prefix, runId, streams));
  }

  // ---- removal and shutdown

  /** Drops the record and the registry entry (later writes to the run fail), then every key of the run. */
  async removeRun(id: string): Promise<void> {
    checkRunId(id);
    const r = this.runKey(id);
    await this.read((c) => c.multi().unlink(`${r}record`).zrem(`${this.prefix}runs`, id).exec());
    const match = `${globEscape(r)}*`;
    let cursor = '0';
    do {
      const at = cursor;
      const [next, keys] = await this.read((c) => c.scan(at, 'MATCH', match, 'COUNT', UNLINK_BATCH));
      for (let i = 0; i < keys.length; i += UNLINK_BATCH) {
        const batch = keys.slice(i, i + UNLINK_BATCH);
        await this.read((c) => c.unlink(...batch));
      }
      cursor = next;
    } while (cursor !== '0');
  }

  /** Waits for queued events, then ends both connections and every timer. */
  /** This host's directory of run `id` (see `home`). */
  runDir(id: string): string {
    if (!ID_PATTERN.test(id)) throw new Error(`bad run id "${id}"`);
    return join(this.home, 'runs', id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.eventQueues.values()].map((q) => q.running));
    this.closed = true;
    if (this.failedTimer) clearTimeout(this.failedTimer);
    this.failedTimer = null;
    for (const w of this.waiting) {
      clearTimeout(w.timer);
      w.reject(new Error(`the Redis backend at ${this.where} is closed`));
    }
    this.waiting.clear();
    this.watchers.clear();
    await Promise.all([end(this.conn), this.sub ? end(this.sub) : Promise.resolve()]);
    this.sub = null;
  }
}

/** QUIT when connected, else drop the connection attempt; resolves when the socket is gone. */
async function end(c: Redis): Promise<void> {
  if (c.status !== 'ready' && c.status !== 'connect' && c.status !== 'connecting') {
    // no socket: only a reconnect timer, which this clears
    c.disconnect();
    return;
  }
  const gone = new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 1000);
    t.unref();
    c.once('end', () => {
      clearTimeout(t);
      resolve();
    });
  });
  if (c.status === 'ready') {
    try {
      await c.quit();
    } catch {
      c.disconnect();
    }
  } else c.disconnect();
  await gone;
}
