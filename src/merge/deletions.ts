/**
 * Deletions in a change-set merge. A stream that deleted a base path and a stream that
 * changed it (or an earlier merge of a progressive point that wrote it) disagree: that is a
 * modify/delete conflict, settled by the path's policy before the rest of the merge is
 * planned (resolve.ts plans what is written):
 *
 *   fail                blocks the merge
 *   first / last        the earliest / latest of them in completion order wins; a winning
 *                       deletion drops the writers' entries, a losing one is forgotten
 *   keep-both           the content is kept (a deletion has nothing to keep)
 *   three-way           cannot be merged as text: blocks, or with `allowConflicts` the
 *                       earliest wins
 *
 * Deletions that nobody contests simply happen. Streams that agree on a deletion never
 * conflict.
 */
import type { ConflictPolicy } from '../plan/types.js';
import type { FileEntry } from '../workspace/walk.js';

/** What the deletion step needs of each source: its position in completion order, its stream, entries and deletions. */
export interface DeletionInput {
  stream: string;
  entries: readonly FileEntry[];
  deleted: readonly string[];
}

/** What earlier merges into a progressive target did at a path (folded key → rel and streams). */
export interface PriorPaths {
  written: ReadonlyMap<string, { rel: string; streams: string[] }>;
  deleted: ReadonlyMap<string, { rel: string; streams: string[] }>;
}

/** The outcome of the deletion step. */
export interface DeletionOutcome {
  /** Paths to delete (rel as written by the first deleter), with the streams that deleted them. */
  effective: Array<{ rel: string; key: string; streams: string[] }>;
  /** Per source index: rels of entries dropped because a deletion won over them. */
  dropped: Array<Set<string>>;
  conflicts: Array<{ path: string; streams: string[] }>;
  /** Conflicting paths that leave the merge unresolved. */
  blocked: string[];
}

interface Claimant {
  /** -1 for an earlier merge, else the source index (completion order). */
  pos: number;
  stream: string;
  deletes: boolean;
}

/** Settles every deletion of `sources` against the other sources and `prior` (see the module comment). */
export function settleDeletions(
  sources: readonly DeletionInput[],
  prior: PriorPaths | undefined,
  policyOf: (rel: string) => ConflictPolicy,
  fold: (rel: string) => string,
  allowConflicts: boolean,
): DeletionOutcome {
  const out: DeletionOutcome = { effective: [], dropped: sources.map(() => new Set<string>()), conflicts: [], blocked: [] };
  const deleters = new Map<string, { rel: string; claims: Claimant[] }>();
  sources.forEach((s, pos) => {
    for (const rel of s.deleted) {
      const key = fold(rel);
      const d = deleters.get(key) ?? { rel, claims: [] };
      d.claims.push({ pos, stream: s.stream, deletes: true });
      deleters.set(key, d);
    }
  });
  if (prior !== undefined) {
    for (const [key, d] of prior.deleted) {
      const mine = deleters.get(key);
      if (mine === undefined) continue; // only this merge's deletions are settled here
      mine.claims.unshift(...d.streams.map((stream) => ({ pos: -1, stream, deletes: true })));
    }
  }
  // Writers of a path some source deleted: a source entry exactly there, or an earlier merge's write.
  const writers = new Map<string, Claimant[]>([...deleters.keys()].map((key) => [key, []]));
  sources.forEach((s, pos) => {
    for (const e of s.entries) writers.get(fold(e.rel))?.push({ pos, stream: s.stream, deletes: false });
  });
  if (prior !== undefined) {
    for (const [key, list] of writers) {
      const w = prior.written.get(key);
      if (w) for (const stream of w.streams) list.push({ pos: -1, stream, deletes: false });
    }
  }
  // Prior deletions contested by this merge's writers (a later stream re-creating what an earlier one deleted).
  if (prior !== undefined) {
    sources.forEach((s, pos) => {
      for (const e of s.entries) {
        const key = fold(e.rel);
        const d = prior.deleted.get(key);
        if (d === undefined || deleters.has(key)) continue;
        const claims: Claimant[] = [...d.streams.map((stream) => ({ pos: -1, stream, deletes: true })), { pos, stream: s.stream, deletes: false }];
        settle(key, d.rel, claims, true);
      }
    });
  }

  function settle(key: string, rel: string, claims: Claimant[], priorDeletion: boolean): void {
    claims.sort((a, b) => a.pos - b.pos);
    const streams = [...new Set(claims.map((c) => c.stream))];
    out.conflicts.push({ path: rel, streams });
    const policy = policyOf(rel);
    if (policy === 'fail' || (policy === 'three-way' && !allowConflicts)) {
      out.blocked.push(rel);
      return;
    }
    // keep-both: the content stays, so no deletion wins
    const winner = policy === 'first' || policy === 'three-way' ? claims[0]! : policy === 'last' ? claims[claims.length - 1]! : undefined;
    if (winner === undefined || !winner.deletes) {
      return; // the writers go ahead; the deletion is forgotten (a prior one is overwritten by the write)
    }
    // The deletion wins: writers at this path drop their entries; a prior write is removed.
    for (const c of claims) {
      if (c.deletes || c.pos < 0) continue; // a deleter, or an earlier merge's write (removed with the path)
      out.dropped[c.pos]!.add(sources[c.pos]!.entries.find((e) => fold(e.rel) === key)!.rel); // its entry at the key
    }
    if (priorDeletion) return; // already deleted in the target
    // (a prior write at this path is removed from the target with it)
    out.effective.push({ rel, key, streams: claims.filter((c) => c.deletes && c.pos >= 0).map((c) => c.stream) });
  }

  for (const [key, d] of deleters) {
    const w = writers.get(key)!;
    if (w.length === 0) {
      // nobody contests it (a deleter entry always has a claim of this merge)
      out.effective.push({ rel: d.rel, key, streams: [...new Set(d.claims.filter((c) => c.pos >= 0).map((c) => c.stream))] });
      continue;
    }
    settle(key, d.rel, [...d.claims, ...w], false);
  }
  out.effective.sort((a, b) => (a.key < b.key ? -1 : 1)); // no two share a key
  return out;
}
