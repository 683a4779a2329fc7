/**
 * What `coord locks` and the dashboard show (SPEC §5 `coord locks --json`): the locks held or
 * waited for now, and contention figures per lock. For a run: the locks its streams hold or
 * wait for (with every holder and waiter of those locks, inside the run or not), and figures
 * counted from the run's own lock events. For the whole registry: every lock, with the
 * figures the registry has kept since each lock was first used.
 */
import type { CoordEvent } from '../events/types.js';
import { listLocks } from './registry.js';
import type { LockState } from './state.js';

export interface LocksView {
  locks: Array<{
    path: string;
    mode: 'read' | 'write' | null;
    holders: Array<{ owner: string; pid: number; since: string; token: number; run: string | null; host: string }>;
    waiters: Array<{ owner: string; pid: number; mode: 'read' | 'write'; since: string; run: string | null; host: string }>;
  }>;
  contention: Array<{ path: string; acquisitions: number; contended: number; waitMsTotal: number; waitMsMax: number }>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function shape(l: LockState): LocksView['locks'][number] {
  return {
    path: l.path,
    mode: l.holders.some((h) => h.mode === 'write') ? 'write' : l.holders.length ? 'read' : null,
    holders: l.holders.map((h) => ({ owner: h.owner, pid: h.pid, since: iso(h.grantedAt), token: h.token, run: h.run, host: h.host })),
    waiters: l.waiters.map((w) => ({ owner: w.owner, pid: w.pid, mode: w.mode, since: iso(w.since), run: w.run, host: w.host })),
  };
}

/** Locks in use now; with `runId`, only those a party of that run holds or waits for. */
export function locksView(registry: string, opts: { runId?: string; events?: CoordEvent[] } = {}): LocksView {
  return locksViewOf(listLocks(registry), opts);
}

/** locksView of lock states read from any store (a Redis server's locks). */
export function locksViewOf(all: LockState[], opts: { runId?: string; events?: CoordEvent[] } = {}): LocksView {
  const now = Date.now();
  const live = (l: LockState) => l.holders.some((h) => h.expires >= now) || l.waiters.some((w) => w.expires >= now);
  const inRun = (l: LockState) => opts.runId === undefined || l.holders.some((h) => h.run === opts.runId) || l.waiters.some((w) => w.run === opts.runId);
  const locks = all.filter((l) => live(l) && inRun(l)).map(shape);
  let contention: LocksView['contention'];
  if (opts.runId === undefined) {
    contention = all.map((l) => ({ path: l.path, ...l.stats }));
  } else {
    const by = new Map<string, LocksView['contention'][number]>();
    // Stryker disable next-line ArrayDeclaration: an element that is not an event is not a lock-granted one
    for (const e of opts.events ?? []) {
      if (e.type !== 'lock-granted') continue;
      const c = by.get(e.path) ?? { path: e.path, acquisitions: 0, contended: 0, waitMsTotal: 0, waitMsMax: 0 };
      c.acquisitions++;
      if (e.contended) c.contended++;
      c.waitMsTotal += e.waitMs;
      c.waitMsMax = Math.max(c.waitMsMax, e.waitMs);
      by.set(e.path, c);
    }
    // Stryker disable next-line EqualityOperator: the paths are the keys of a map, never equal
    contention = [...by.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  }
  return { locks, contention };
}
