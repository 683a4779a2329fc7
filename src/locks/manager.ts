/**
 * FileLockManager: fair read/write locks between processes of one machine, with fencing
 * tokens, owner-checked release, leases, dead-holder reclaim and deadlock detection (SPEC §6).
 *
 * A lock is a LockState in a LockStore (store.ts): by default a VersionedDir in the registry
 * of this machine (see registry.ts), or a key on a Redis server shared by several hosts
 * (redis-store.ts). Every change is a compare-and-set, so two contenders can never both win a
 * stale lock: the one whose change lands first is the holder and the other re-reads a state
 * that already shows it.
 *
 * Waiting costs no busy loop: a waiter sleeps until the store says the lock changed (inotify
 * through fs.watch, or Redis pub/sub; a hint only) or a short timer fires (to notice a holder
 * whose process died, which changes nothing in the store). Holders renew their lease on a
 * timer; a holder that finds its ticket gone (lease ran out while it was paused, or the lock was
 * removed by hand) learns it through `handle.lost` — it is never thrown from a timer.
 */
import { randomBytes } from 'node:crypto';
import { CoordError } from '../core/errors.js';
import { processStartTime } from '../util/proc.js';
import { formatDuration } from '../util/duration.js';
import { grantHandle, realClock, Waker, type LockClock, type LockHandle } from './grant.js';
import { canonicalPath, HOST, lockRegistryDir, partyGone } from './registry.js';
import { acquireStep, handOff, prune, removeTicket, renew, type Holder, type LockMode, type LockState, type Party, type Waiter } from './state.js';
import { describeCycle, findCycle, newestInCycle } from './deadlock.js';
import { FileLockStore, type LockStore } from './store.js';
import type { LockEvent } from '../events/types.js';

/** What a lock does, for `events.jsonl`: defined with the event schema (src/events/types.ts). */
export type { LockEvent } from '../events/types.js';

export interface FileLockManagerOptions {
  /** Registry directory (default: see lockRegistryDir); ignored when `store` is given. */
  registry?: string;
  /** Where the lock states live (default: a FileLockStore on `registry`). */
  store?: LockStore;
  /** Shown as the holder: the stream id in a run (default `pid:<pid>`). */
  owner?: string;
  run?: string | null;
  /** Lease of a grant and of a queued request, renewed every third of it (default 10 s). */
  leaseMs?: number;
  /** Longest sleep between two looks while waiting (default 100 ms). */
  pollMs?: number;
  /** The time and the timers (default: the real ones). */
  clock?: LockClock;
  onEvent?: (e: LockEvent) => void;
}

export interface AcquireOptions {
  mode?: LockMode;
  /** Give up after this many milliseconds (default: wait for ever). */
  timeout?: number;
  signal?: AbortSignal;
  /** Tickets this requester holds while it waits (enclosing locks): lets deadlocks be found. */
  holding?: string[];
  /** The requester's watchdog (`coord lock`'s): the grant is not reclaimed while it lives, see processGone. */
  watchdog?: { pid: number; procStart: number | null };
}

export interface LockContention {
  path: string;
  acquisitions: number;
  contended: number;
  waitMsTotal: number;
  waitMsMax: number;
}

/** A lock not granted in time (code `timeout`; like the other two, a failure a retry may cure). */
export class LockTimeoutError extends CoordError {
  constructor(
    readonly path: string,
    readonly waitedMs: number,
    readonly holders: Party[],
    mode: LockMode,
  ) {
    super(
      'timeout',
      `timed out after ${formatDuration(waitedMs)} waiting for a ${mode} lock on ${path}: ${holders.length ? 'held by ' + holders.map(describeParty).join(', ') : 'queued behind other waiters'}`,
    );
    this.name = 'LockTimeoutError';
  }
}

/** A request that would close a cycle of waiters (code `deadlock`). */
export class DeadlockError extends CoordError {
  constructor(
    readonly path: string,
    readonly cycle: string,
  ) {
    super('deadlock', `deadlock: ${cycle}; this request (the newest) gives up`);
    this.name = 'DeadlockError';
  }
}

export { LockLostError, realClock, type LockClock, type LockHandle } from './grant.js';

const contentionOf = (locks: LockState[]): LockContention[] => locks.map((l) => ({ path: l.path, ...l.stats }));

export function describeParty(p: Party): string {
  const tok = 'token' in p ? `, token ${(p as Holder).token}` : '';
  return `${p.owner} (pid ${p.pid}${p.host !== HOST ? ` on ${p.host}` : ''}, ${p.mode}${tok}, since ${new Date('grantedAt' in p ? (p as Holder).grantedAt : p.since).toISOString()})`;
}

/** This process's start time (null where there is no /proc): with the pid, it names the requester. */
const OWN_START = processStartTime(process.pid);

export class FileLockManager {
  /** Where the locks are: the registry directory, or the server of a Redis store. */
  readonly registry: string;
  readonly store: LockStore;
  readonly owner: string;
  readonly run: string | null;
  readonly leaseMs: number;
  readonly clock: LockClock;
  private readonly pollMs: number;
  private readonly onEvent: (e: LockEvent) => void;

  constructor(opts: FileLockManagerOptions = {}) {
    this.store = opts.store ?? new FileLockStore(opts.registry ?? lockRegistryDir());
    this.registry = this.store.where;
    this.owner = opts.owner ?? `pid:${process.pid}`;
    this.run = opts.run ?? null;
    this.leaseMs = opts.leaseMs ?? 10_000;
    this.pollMs = opts.pollMs ?? 100;
    // Stryker disable next-line ArrowFunction: a listener that returns undefined is the one that does nothing
    this.onEvent = opts.onEvent ?? (() => {});
    this.clock = opts.clock ?? realClock;
  }

  private fileStore(what: string): FileLockStore {
    if (this.store instanceof FileLockStore) return this.store;
    throw new Error(`${what}() reads the lock registry of this machine; use ${what}Async() with the locks on ${this.store.where}`);
  }

  /** The lock's current state (holders, waiters, last token, figures); file store only, see inspectAsync. */
  inspect(path: string): LockState {
    return this.fileStore('inspect').readSync(canonicalPath(path));
  }

  /** Every lock of the registry, now; file store only, see locksAsync. */
  locks(): LockState[] {
    return this.fileStore('locks').listSync();
  }

  /** Contention figures of every lock of the registry (SPEC §5 `contention`); file store only, see contentionsAsync. */
  contentions(): LockContention[] {
    return contentionOf(this.locks());
  }

  /** The lock's current state, from any store. */
  inspectAsync(path: string): Promise<LockState> {
    return this.store.read(canonicalPath(path));
  }

  /** Every lock of the store, now. */
  locksAsync(): Promise<LockState[]> {
    return this.store.list();
  }

  /** Contention figures of every lock of the store. */
  async contentionsAsync(): Promise<LockContention[]> {
    return contentionOf(await this.locksAsync());
  }

  /** Acquires a lock on `path`; see AcquireOptions. Throws LockTimeoutError / DeadlockError. */
  async acquire(path: string, opts: AcquireOptions = {}): Promise<LockHandle> {
    const mode = opts.mode ?? 'write';
    const canonical = canonicalPath(path);
    const started = this.clock.now();
    const req: Waiter = {
      ticket: randomBytes(8).toString('hex'),
      owner: this.owner,
      run: this.run,
      pid: process.pid,
      host: HOST,
      procStart: OWN_START,
      mode,
      since: started,
      expires: started + this.leaseMs,
      chain: opts.holding ?? [],
      ...(opts.watchdog ? { watchdog: opts.watchdog } : {}),
    };
    const deadline = opts.timeout === undefined || !Number.isFinite(opts.timeout) ? Infinity : started + Math.max(0, opts.timeout);

    let holder = await this.step(req, canonical);
    if (holder) return this.handle(canonical, holder, false);

    const waker = new Waker((onChange) => this.store.watch(canonical, onChange), this.clock);
    let announced = false;
    let nextDeadlockCheck = 0;
    let sleep = 5;
    try {
      for (;;) {
        if (!announced) {
          announced = true;
          this.onEvent({
            type: 'lock-waiting',
            path: canonical,
            owner: this.owner,
            pid: process.pid,
            mode,
            holders: (await this.store.read(canonical)).holders.map(describeParty),
          });
        }
        const now = this.clock.now();
        if (opts.signal?.aborted) {
          await this.giveUp(canonical, req.ticket);
          throw opts.signal.reason instanceof Error ? opts.signal.reason : new Error('lock request aborted');
        }
        if (now >= deadline) {
          await this.giveUp(canonical, req.ticket);
          const s = await this.store.read(canonical);
          this.onEvent({
            type: 'lock-timeout',
            path: canonical,
            owner: this.owner,
            pid: process.pid,
            mode,
            waitMs: now - started,
            holders: s.holders.map(describeParty),
          });
          throw new LockTimeoutError(canonical, now - started, s.holders, mode);
        }
        if (req.chain.length && now >= nextDeadlockCheck) {
          nextDeadlockCheck = now + 250;
          const cycle = findCycle(await this.store.list(), req.ticket);
          if (cycle?.length && newestInCycle(cycle) === req.ticket) {
            await this.giveUp(canonical, req.ticket);
            const text = describeCycle(cycle);
            this.onEvent({ type: 'lock-deadlock', path: canonical, owner: this.owner, pid: process.pid, mode, cycle: text });
            throw new DeadlockError(canonical, text);
          }
        }
        const onAbort = () => waker.wake();
        // Stryker disable next-line ObjectLiteral,BooleanLiteral: a signal aborts once, and the listener goes right after the sleep it may end
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        await waker.next(Math.min(sleep, deadline - now, req.chain.length ? 250 : Infinity));
        opts.signal?.removeEventListener('abort', onAbort);
        sleep = Math.min(this.pollMs, sleep * 2);
        holder = await this.step(req, canonical);
        if (holder) return this.handle(canonical, holder, true);
      }
    } finally {
      waker.close();
    }
  }

  /** Runs `fn` holding the lock, releasing it however `fn` ends. */
  async withLock<T>(path: string, fn: (handle: LockHandle) => Promise<T> | T, opts: AcquireOptions = {}): Promise<T> {
    const handle = await this.acquire(path, opts);
    try {
      return await fn(handle);
    } finally {
      await handle.release();
    }
  }

  /**
   * One compare-and-set step: grant, queue, renew the queued entry, or reclaim from parties
   * that are gone. Returns the grant when the request holds the lock.
   */
  private async step(req: Waiter, path: string): Promise<Holder | undefined> {
    let granted: Holder | undefined;
    let removed: Party[] = [];
    await this.store.update(path, (s) => {
      granted = undefined;
      removed = [];
      const now = this.clock.now();
      let r = acquireStep(s, req, now, this.leaseMs);
      if (r.kind !== 'granted') {
        // blocked: parties that are gone are removed, and the request tried again without them
        const p = prune(s, now, partyGone);
        removed = p.removed;
        r = acquireStep(p.state, req, now, this.leaseMs);
      }
      if (r.kind === 'granted') {
        granted = r.holder;
        return r.state === s ? undefined : r.state;
      }
      if (r.kind === 'waiting') {
        const mine = r.state.waiters.find((w) => w.ticket === req.ticket);
        if (mine && mine.expires - now < (this.leaseMs * 2) / 3) return renew(r.state, req.ticket, now, this.leaseMs);
        return r.state === s ? undefined : r.state;
      }
      return r.state;
    });
    for (const p of removed) {
      if (p.ticket === req.ticket) continue;
      this.onEvent({
        type: 'lock-reclaimed',
        path,
        owner: this.owner,
        pid: process.pid,
        from: p.owner,
        fromPid: p.pid,
        why: p.expires < this.clock.now() ? 'lease-expired' : 'process-gone',
      });
    }
    return granted;
  }

  private async giveUp(path: string, ticket: string): Promise<void> {
    await this.store.update(path, (s) => {
      const r = removeTicket(s, ticket);
      return r.was ? handOff(r.state, this.clock.now(), this.leaseMs) : undefined;
    });
  }

  private handle(path: string, holder: Holder, contended: boolean): LockHandle {
    return grantHandle({ store: this.store, clock: this.clock, owner: this.owner, leaseMs: this.leaseMs, onEvent: this.onEvent }, path, holder, contended);
  }
}
