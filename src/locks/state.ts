/**
 * The state of one read/write lock and the pure rules that change it. Every change is made
 * by compare-and-set on the lock's store (store.ts: a VersionedDir, or a key on a Redis
 * server), so these functions never see a half-done change.
 *
 * Lifecycle of one request (a ticket):
 *
 *     (new) ──compatible, nobody queued──> holder ──release──> (gone)
 *       │                                    ▲  │
 *       └──otherwise──> waiter ──its turn────┘  └──pid gone / lease expired──> (reclaimed)
 *                         │
 *                         └──timeout / deadlock / pid gone / lease expired──> (gone)
 *
 * Fairness: waiters are served in arrival order. A writer is granted when nobody holds the
 * lock and it heads the queue; a reader when no writer holds it and only readers are ahead
 * of it. A reader arriving while anyone waits queues too, so readers cannot starve a writer.
 */

import type { LockMode } from '../events/types.js';

/** `read` (shared) or `write` (exclusive): named by the event schema, which lock events carry. */
export type { LockMode } from '../events/types.js';

/** Who a request is for: shown by `coord locks`, used to find dead holders. */
export interface Party {
  ticket: string;
  /** The stream id inside a run, else `pid:<pid>` of the outermost `coord lock`. */
  owner: string;
  /** Run id when the requester runs inside a run. */
  run: string | null;
  pid: number;
  host: string;
  /** Start time of `pid` (clock ticks since boot, /proc) to tell a reused pid apart. */
  procStart: number | null;
  mode: LockMode;
  /** Epoch milliseconds the request was made. */
  since: number;
  /** Epoch milliseconds after which the entry is stale unless renewed. */
  expires: number;
  /**
   * The watchdog of a `coord lock` (pid and start time): it outlives a killed `coord lock` until
   * it has stopped CMD's process tree, and the grant is not reclaimed before it has (processGone).
   */
  watchdog?: { pid: number; procStart: number | null };
}

export interface Holder extends Party {
  /** Fencing token of this grant. */
  token: number;
  /** Epoch milliseconds of the grant. */
  grantedAt: number;
}

export interface Waiter extends Party {
  /** Tickets the requester holds while it waits (its enclosing `coord lock`s): edges of the wait-for graph. */
  chain: string[];
}

export interface LockStats {
  acquisitions: number;
  contended: number;
  waitMsTotal: number;
  waitMsMax: number;
}

export interface LockState {
  path: string;
  /** The last fencing token granted; grows with every grant. */
  token: number;
  holders: Holder[];
  waiters: Waiter[];
  stats: LockStats;
}

export function emptyLockState(path: string): LockState {
  return { path, token: 0, holders: [], waiters: [], stats: { acquisitions: 0, contended: 0, waitMsTotal: 0, waitMsMax: 0 } };
}

/** Tells whether a party is gone: its process ended on this host, or its lease ran out. */
export type IsGone = (p: Party, now: number) => boolean;

/** Removes holders and waiters that are gone; returns the new state (or the same) and who was removed. */
export function prune(s: LockState, now: number, gone: IsGone): { state: LockState; removed: Party[] } {
  const removed: Party[] = [];
  const holders = s.holders.filter((h) => (gone(h, now) ? (removed.push(h), false) : true));
  const waiters = s.waiters.filter((w) => (gone(w, now) ? (removed.push(w), false) : true));
  if (!removed.length) return { state: s, removed };
  return { state: { ...s, holders, waiters }, removed };
}

/** Can `mode` be granted alongside the current holders? */
function compatible(s: LockState, mode: LockMode): boolean {
  if (mode === 'write') return s.holders.length === 0;
  return !s.holders.some((h) => h.mode === 'write');
}

/** Is it the turn of the queued ticket? */
export function isTurn(s: LockState, ticket: string): boolean {
  const idx = s.waiters.findIndex((w) => w.ticket === ticket);
  if (idx < 0) return false;
  const w = s.waiters[idx]!;
  if (w.mode === 'write') return idx === 0 && s.holders.length === 0;
  // Stryker disable next-line StringLiteral: compatible() tells only write from not write
  return compatible(s, 'read') && s.waiters.slice(0, idx).every((a) => a.mode === 'read');
}

export type AcquireStep = { kind: 'granted'; state: LockState; holder: Holder } | { kind: 'queued'; state: LockState } | { kind: 'waiting'; state: LockState };

/**
 * One step of an acquisition: grant when the request may have the lock now, else queue it
 * (or leave it queued). `lease` is how long the entry lives without renewal.
 */
export function acquireStep(s: LockState, req: Waiter, now: number, lease: number): AcquireStep {
  const held = s.holders.find((h) => h.ticket === req.ticket);
  if (held) return { kind: 'granted', state: s, holder: held };
  const queued = s.waiters.find((w) => w.ticket === req.ticket);
  if (!queued) {
    if (s.waiters.length === 0 && compatible(s, req.mode)) return grant(s, req, now, lease, false);
    return { kind: 'queued', state: { ...s, waiters: [...s.waiters, { ...req, expires: now + lease }] } };
  }
  if (isTurn(s, req.ticket)) return grant({ ...s, waiters: s.waiters.filter((w) => w.ticket !== req.ticket) }, queued, now, lease, true);
  return { kind: 'waiting', state: s };
}

function grant(s: LockState, req: Party, now: number, lease: number, contended: boolean): AcquireStep {
  const token = s.token + 1;
  const { chain: _chain, ...party } = req as Waiter;
  const holder: Holder = { ...party, token, grantedAt: now, expires: now + lease };
  const wait = contended ? Math.max(0, now - req.since) : 0;
  const stats: LockStats = {
    acquisitions: s.stats.acquisitions + 1,
    contended: s.stats.contended + (contended ? 1 : 0),
    waitMsTotal: s.stats.waitMsTotal + wait,
    waitMsMax: Math.max(s.stats.waitMsMax, wait),
  };
  return { kind: 'granted', state: { ...s, token, holders: [...s.holders, holder], stats }, holder };
}

/** Extends the lease of a holder or waiter; `undefined` when the ticket is no longer there (lost). */
export function renew(s: LockState, ticket: string, now: number, lease: number): LockState | undefined {
  let found = false;
  const holders = s.holders.map((h) => (h.ticket === ticket ? ((found = true), { ...h, expires: now + lease }) : h));
  const waiters = s.waiters.map((w) => (w.ticket === ticket ? ((found = true), { ...w, expires: now + lease }) : w));
  return found ? { ...s, holders, waiters } : undefined;
}

/**
 * Grants the lock to the waiters whose turn it is (the head writer, or the readers at the
 * head of the queue): the direct hand-off a release makes, so that the next holder only has
 * to notice it holds the lock.
 */
export function handOff(s: LockState, now: number, lease: number): LockState {
  let state = s;
  for (;;) {
    const next = state.waiters[0];
    if (!next || !isTurn(state, next.ticket)) return state;
    const r = grant({ ...state, waiters: state.waiters.slice(1) }, next, now, lease, true);
    state = r.state;
  }
}

/** Removes a ticket (release or give up). Never touches another ticket: that is the owner check. */
export function removeTicket(s: LockState, ticket: string): { state: LockState; was: 'holder' | 'waiter' | null } {
  if (s.holders.some((h) => h.ticket === ticket)) return { state: { ...s, holders: s.holders.filter((h) => h.ticket !== ticket) }, was: 'holder' };
  if (s.waiters.some((w) => w.ticket === ticket)) return { state: { ...s, waiters: s.waiters.filter((w) => w.ticket !== ticket) }, was: 'waiter' };
  return { state: s, was: null };
}
