/**
 * Deadlock detection over the whole registry. The wait-for graph has a node per ticket:
 * a waiter points at the holders of its lock and at the waiters queued ahead of it (they are
 * served first); a holder points at every waiter whose `chain` contains it (the holder's
 * command is itself waiting for another lock, e.g. `coord lock a -- coord lock b -- …`).
 * A cycle through a request means no member can ever proceed; the newest request of the
 * cycle gives up so that the others can.
 */
import type { LockState, Party } from './state.js';

export interface CycleLink {
  /** The ticket that waits … */
  waiter: Party;
  /** … for this lock … */
  path: string;
  /** … held (or queued ahead) by this ticket. */
  blocker: Party;
  kind: 'held' | 'queued' | 'enclosing';
}

/** A cycle through `ticket`, as the list of wait links, or null. */
export function findCycle(locks: LockState[], ticket: string): CycleLink[] | null {
  const parties = new Map<string, Party>();
  const edges = new Map<string, Array<{ to: string; path: string; kind: CycleLink['kind'] }>>();
  const add = (from: string, to: string, path: string, kind: CycleLink['kind']) => {
    let list = edges.get(from);
    // Stryker disable next-line ArrayDeclaration: an element that is not an edge leads nowhere (its `to` is no ticket)
    if (!list) edges.set(from, (list = []));
    list.push({ to, path, kind });
  };
  for (const l of locks) {
    for (const h of l.holders) parties.set(h.ticket, h);
    l.waiters.forEach((w, i) => {
      parties.set(w.ticket, w);
      for (const h of l.holders) if (h.ticket !== w.ticket) add(w.ticket, h.ticket, l.path, w.chain.includes(h.ticket) ? 'enclosing' : 'held');
      for (const a of l.waiters.slice(0, i)) if (w.mode === 'write' || a.mode === 'write') add(w.ticket, a.ticket, l.path, 'queued');
      // Stryker disable next-line StringLiteral: the kind of a chain edge is never shown (it has no path and is left out of the links)
      for (const held of w.chain) add(held, w.ticket, '', 'held');
    });
  }
  // depth-first search from `ticket` back to itself
  // Stryker disable next-line ArrayDeclaration: a step that is not an edge has no path and is left out of the links
  const path: Array<{ from: string; to: string; path: string; kind: CycleLink['kind'] }> = [];
  // Stryker disable next-line ArrayDeclaration: a seen mark on a name no ticket has changes nothing
  const seen = new Set<string>();
  const dfs = (node: string): boolean => {
    for (const e of edges.get(node) ?? []) {
      path.push({ from: node, ...e });
      if (e.to === ticket) return true;
      if (!seen.has(e.to)) {
        seen.add(e.to);
        if (dfs(e.to)) return true;
      }
      path.pop();
    }
    return false;
  };
  if (!dfs(ticket)) return null;
  // keep the waits on locks; the chain edges (holder → its own nested request) only link them
  const links: CycleLink[] = [];
  for (const step of path) {
    if (!step.path) continue;
    const waiter = parties.get(step.from);
    const blocker = parties.get(step.to);
    // Stryker disable next-line ConditionalExpression,LogicalOperator: every step with a path is between two tickets of the listed locks
    if (waiter && blocker) links.push({ waiter, path: step.path, blocker, kind: step.kind });
  }
  return links;
}

/** The request of the cycle that gives up: the most recent one (ties broken by ticket). */
export function newestInCycle(links: CycleLink[]): string {
  let newest = links[0]!.waiter;
  for (const l of links) {
    const w = l.waiter;
    // Stryker disable next-line EqualityOperator: an equal ticket is the same request
    if (w.since > newest.since || (w.since === newest.since && w.ticket > newest.ticket)) newest = w;
  }
  return newest.ticket;
}

function who(p: Party): string {
  return `${p.owner} (pid ${p.pid})`;
}

/** "a (pid 1) waits for /x held by b (pid 2), b (pid 2) waits for /y held by a (pid 1)". */
export function describeCycle(links: CycleLink[]): string {
  return links
    .map((l) => {
      const by =
        l.kind === 'enclosing'
          ? `held by its own enclosing lock (${who(l.blocker)})`
          : l.kind === 'queued'
            ? `where ${who(l.blocker)} is queued ahead of it`
            : `held by ${who(l.blocker)}`;
      return `${who(l.waiter)} waits for ${l.path} ${by}`;
    })
    .join(', ');
}
