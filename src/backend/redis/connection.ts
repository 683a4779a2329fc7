/**
 * The Redis backend's resilient command connection: one ioredis connection, re-established
 * with backoff (50 ms doubling to 2 s) while the server is away. Each outage is told once to
 * the owner's listener (`onConnection`): when the connection is lost, when it is back, and
 * when it has been away for `giveUpMs`. The backend prints nothing itself; the CLI's listener
 * writes those lines to stderr (src/report/connection.ts).
 *
 * Commands in flight when the connection drops are not resent by the client library
 * (autoResendUnfulfilledCommands off, and maxRetriesPerRequest 0 so that ioredis rejects them
 * instead of leaving them pending) and nothing is queued while disconnected
 * (enableOfflineQueue off): `call` waits for the connection and sends the failed command
 * again. That is safe because every write carries a nonce made once per call (`writeScript`),
 * and its script records a receipt: a write sent again after its first attempt did land (only
 * the reply was lost) finds its nonce and returns the first attempt's result (the version or
 * entry number it made, "created", …) without applying anything twice. Receipts are kept for
 * the newest 10 000 writes of each run, far more than can land between a write and its resend
 * right after a reconnect. After `giveUpMs` without a connection, calls reject with an error
 * naming the server (a write that was sent and not confirmed says that it may or may not have
 * been applied), and fail at once until the connection is back; reconnecting goes on
 * meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisBackendUrl } from '../url.js';
import type { Script } from './scripts.js';

/** What the owner of a Redis backend is told about its connection (see the module comment). */
export interface ConnectionEvent {
  state: 'lost' | 'restored' | 'failed';
  /** The server, without credentials. */
  where: string;
  /** Why the connection went (lost, failed). */
  error?: string;
  /** Reconnection attempts so far. */
  attempt?: number;
  /** lost: whether this backend had been connected before (false: it never got a connection). */
  wasConnected?: boolean;
  /** failed: how long the connection has been away, in milliseconds (the backend's `giveUpMs`). */
  awayMs?: number;
}

/** An argument of a command or script. */
export type Arg = string | number;

export const DEFAULT_GIVE_UP_MS = 60_000;

/** Errors after which a command is sent again once the connection is back. */
const TRANSIENT = /^(Connection is closed|Stream isn't writeable|Reached the max retries per request|LOADING|BUSY |MASTERDOWN|TRYAGAIN)/;
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/** An error the server replied with (as opposed to one of the connection). */
export function isReplyError(e: unknown): e is Error {
  return e instanceof Error && e.name === 'ReplyError';
}

function isTransient(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (TRANSIENT.test(e.message)) return true;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  const code = (e as NodeJS.ErrnoException).code;
  return !isReplyError(e) && code !== undefined && TRANSIENT_CODES.has(code);
}

/** A write's nonce: made once per call, the same on every resend. */
export function nonce(): string {
  return randomBytes(12).toString('base64url');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A connection with the reconnect rules above (lazy: it connects on first use). */
export function newRedis(target: RedisBackendUrl, giveUpMs: number): Redis {
  return new Redis({
    host: target.host,
    port: target.port,
    db: target.db,
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    // 0: commands in flight when the connection drops are rejected at once (and sent again here)
    maxRetriesPerRequest: 0,
    connectTimeout: Math.max(1000, Math.min(giveUpMs, 5000)),
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times - 1, 6), 2000),
    // how long a closing socket may stay half-open before it is destroyed (2 s by default,
    // which would hold every short command that closes without a connection)
    disconnectTimeout: 100,
    connectionName: 'coord',
  });
}

/** QUIT when connected, else drop the connection attempt; resolves when the socket is gone. */
export async function endRedis(c: Redis): Promise<void> {
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

/** The command connection of one backend, with its outage bookkeeping (see the module comment). */
export class ResilientConnection {
  private readonly conn: Redis;
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
  private isClosed = false;

  constructor(
    private readonly target: RedisBackendUrl,
    readonly giveUpMs: number,
    private readonly report: (e: ConnectionEvent) => void,
  ) {
    this.conn = newRedis(target, giveUpMs);
    this.conn.on('error', (e: Error) => {
      this.lastError = e.message || String(e);
    });
    this.conn.on('close', () => this.onClose());
    this.conn.on('reconnecting', () => this.reconnects++);
    this.conn.on('ready', () => this.onReady());
  }

  /** The server, without credentials. */
  get where(): string {
    return this.target.display;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** The error of calls made after close(). */
  closedError(): Error {
    return new Error(`the Redis backend at ${this.where} is closed`);
  }

  /** Another connection to the same server with the same rules (the subscriber). */
  another(): Redis {
    return newRedis(this.target, this.giveUpMs);
  }

  private onClose(): void {
    if (this.isClosed) return;
    if (this.downSince === null) this.outage();
    if (!this.outageReported) {
      this.outageReported = true;
      const error = this.lastError || (this.connectedOnce ? 'the server closed the connection' : 'connection closed');
      this.report({ state: 'lost', where: this.where, wasConnected: this.connectedOnce, error });
    }
  }

  /** Marks the start of an outage and arms the report of its passing `giveUpMs`. */
  private outage(): void {
    this.downSince = Date.now();
    if (this.failedTimer) clearTimeout(this.failedTimer);
    this.failedTimer = setTimeout(() => {
      this.failedTimer = null;
      if (this.downSince === null || this.isClosed) return;
      this.report({ state: 'failed', where: this.where, awayMs: this.giveUpMs, error: this.lastError || 'connection closed', attempt: this.reconnects });
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
      this.report({ state: 'restored', where: this.where, attempt });
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
    if (this.isClosed) return Promise.reject(this.closedError());
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
   * back, until `giveUpMs` has passed. Writes are safe to send again: see the module comment.
   */
  async call<R>(write: boolean, op: (c: Redis) => Promise<R>): Promise<R> {
    const started = Date.now();
    let retried = false;
    let pause = 20;
    for (;;) {
      await this.ready(write && retried);
      try {
        return await op(this.conn);
      } catch (e) {
        if (!isTransient(e) || this.isClosed) throw e;
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

  /** A read: sent again after a lost connection like any command. */
  read<R>(op: (c: Redis) => Promise<R>): Promise<R> {
    return this.call(false, op);
  }

  /** Runs a script by its digest, loading it when the server does not have it yet. */
  async evalScript(c: Redis, s: Script, keys: string[], args: Arg[]): Promise<unknown> {
    try {
      return await c.evalsha(s.sha, keys.length, ...keys, ...args);
    } catch (e) {
      if (isReplyError(e) && e.message.startsWith('NOSCRIPT')) return c.eval(s.source, keys.length, ...keys, ...args);
      throw e;
    }
  }

  /** A write script of run `runId` with a fresh nonce (the same on every retry); errors of the script name the run. */
  async writeScript(s: Script, runId: string, keys: string[], args: Arg[]): Promise<unknown> {
    const n = nonce();
    try {
      return await this.call(true, (c) => this.evalScript(c, s, keys, [n, ...args]));
    } catch (e) {
      if (isReplyError(e) && e.message.startsWith('NORUN')) throw new Error(`no run "${runId}"`);
      if (isReplyError(e) && e.message.startsWith('EXISTS')) throw new Error(`run "${runId}" exists already`);
      throw e;
    }
  }

  /** Rejects the calls waiting for the connection and stops its timers (the first step of closing). */
  shut(): void {
    this.isClosed = true;
    if (this.failedTimer) clearTimeout(this.failedTimer);
    this.failedTimer = null;
    for (const w of this.waiting) {
      clearTimeout(w.timer);
      w.reject(this.closedError());
    }
    this.waiting.clear();
  }

  /** Ends the connection (after shut()). */
  end(): Promise<void> {
    return endRedis(this.conn);
  }
}
