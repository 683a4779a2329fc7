/**
 * What FileLockManager (manager.ts) keeps running around a request and a grant: the clock it
 * reads, the Waker a waiting request sleeps on, and the handle of a grant with its renewal loop.
 */
import { formatDuration } from '../util/duration.js';
import { CoordError } from '../core/errors.js';
import type { LockEvent } from '../events/types.js';
import { handOff, removeTicket, renew, type Holder, type LockMode } from './state.js';
import type { LockStore } from './store.js';

/** A granted lock. `release()` checks ownership: it only ever removes this grant. */
export interface LockHandle extends AsyncDisposable {
  readonly path: string;
  readonly mode: LockMode;
  /** Fencing token: grows with every grant of this lock. */
  readonly token: number;
  readonly ticket: string;
  /** Aborted (with a LockLostError as reason) when the grant is lost while held. */
  readonly lost: AbortSignal;
  /** Releases the grant; `false` when it had already been lost. */
  release(): Promise<boolean>;
}

/** The time and the timers of a lock manager (default: realClock; tests give a clock they move). */
export interface LockClock {
  now(): number;
  /** Calls `fn` once after `ms`; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
  /** Calls `fn` every `ms` without keeping the process alive; the returned function stops it. */
  every(ms: number, fn: () => void): () => void;
}

export const realClock: LockClock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
};

/** A lock held that was lost (code `lock-lost`). */
export class LockLostError extends CoordError {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super('lock-lost', `lock lost on ${path}: ${reason}`);
    this.name = 'LockLostError';
  }
}

/** Sleeps until the store reports a change of the lock, the time passes, or `wake()` is called. */
export class Waker {
  private stop: (() => void) | null = null;
  private pending: (() => void) | null = null;
  private dirty = false;

  constructor(
    watch: (onChange: () => void) => () => void,
    private readonly clock: LockClock = realClock,
  ) {
    try {
      this.stop = watch(() => this.wake());
    } catch {
      /* no change notification: the timer alone */
    }
  }

  wake(): void {
    this.dirty = true;
    const p = this.pending;
    this.pending = null;
    p?.();
  }

  next(ms: number): Promise<void> {
    if (this.dirty) {
      this.dirty = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const cancel = this.clock.after(Math.max(0, ms), () => {
        this.pending = null;
        resolve();
      });
      this.pending = () => {
        cancel();
        this.dirty = false;
        resolve();
      };
    });
  }

  close(): void {
    this.stop?.();
    this.stop = null;
  }
}

/** What a grant's handle needs of its manager. */
export interface GrantContext {
  readonly store: LockStore;
  readonly clock: LockClock;
  readonly owner: string;
  readonly leaseMs: number;
  readonly onEvent: (e: LockEvent) => void;
}

/**
 * The handle of the grant `holder` of the lock `path`: announces it, renews its lease every
 * third of it (one renewal at a time), reports its loss through `lost`, and releases it once.
 */
export function grantHandle(ctx: GrantContext, path: string, holder: Holder, contended: boolean): LockHandle {
  const { store, clock, owner, leaseMs, onEvent } = ctx;
  const lostCtl = new AbortController();
  const waitMs = contended ? Math.max(0, holder.grantedAt - holder.since) : 0;
  onEvent({ type: 'lock-granted', path, owner, pid: process.pid, mode: holder.mode, token: holder.token, waitMs, contended });
  let done = false;
  let stopTimer: () => void = () => {};
  const lose = (reason: string, atRelease = false) => {
    if ((done && !atRelease) || lostCtl.signal.aborted) return;
    stopTimer();
    onEvent({ type: 'lock-lost', path, owner, pid: process.pid, mode: holder.mode, token: holder.token, reason });
    lostCtl.abort(new LockLostError(path, reason));
  };
  const whyGone = async (): Promise<string> => {
    const s = await store.read(path);
    return s.token > holder.token
      ? `token ${s.token} was granted since (its lease of ${formatDuration(leaseMs)} ran out, or the lock was removed)`
      : 'the lock was removed';
  };
  // one renewal at a time: against a server that is away, a renewal waits for it
  let renewing = false;
  stopTimer = clock.every(Math.max(10, Math.floor(leaseMs / 3)), () => {
    if (renewing) return;
    renewing = true;
    void (async () => {
      try {
        let found = true;
        await store.update(path, (s) => {
          // a holder, with this grant's token: a state set back may list the ticket as a waiter
          const holds = s.holders.some((h) => h.ticket === holder.ticket && h.token === holder.token);
          const next = holds ? renew(s, holder.ticket, clock.now(), leaseMs) : undefined;
          found = next !== undefined;
          return next;
        });
        if (!found) lose(await whyGone());
      } catch (e) {
        lose(`the lease could not be renewed: ${(e as Error).message}`);
      } finally {
        renewing = false;
      }
    })();
  });
  const release = async (): Promise<boolean> => {
    if (done) return false;
    done = true;
    stopTimer();
    let was: 'holder' | 'waiter' | null = null;
    await store.update(path, (s) => {
      const r = removeTicket(s, holder.ticket);
      was = r.was;
      return r.was ? handOff(r.state, clock.now(), leaseMs) : undefined;
    });
    if (was === 'holder')
      onEvent({ type: 'lock-released', path, owner, pid: process.pid, mode: holder.mode, token: holder.token, heldMs: clock.now() - holder.grantedAt });
    // the grant was gone before the renewal timer noticed (a renewal waits for a round trip
    // to a lock server): it was lost while held, and `lost` says so
    else if (!lostCtl.signal.aborted) lose(await whyGone().catch((e: unknown) => `the lock could not be read: ${(e as Error).message}`), true);
    return was === 'holder';
  };
  return {
    path,
    mode: holder.mode,
    token: holder.token,
    ticket: holder.ticket,
    lost: lostCtl.signal,
    release,
    [Symbol.asyncDispose]: async () => {
      await release();
    },
  };
}
