/**
 * The steps of one merge up to what is written (merge.ts runs them and writes): collected
 * sources through deletions (deletions.ts), claims (claims.ts), the plan (resolve.ts) and its
 * three-way text merges (textmerge.ts); then what the result reports, each conflict's
 * material, and the base layer of a target built on a base.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ConflictPolicy } from '../plan/types.js';
import type { ApplyOutcome } from './apply.js';
import { basePath, type BaseTree } from '../workspace/basetree.js';
import type { Collected, MergeLimits } from './collect.js';
import { addSourceClaims, addTargetClaims, settleContent, type Groups, type Listing } from './claims.js';
import { foldName } from '../workspace/content.js';
import { settleDeletions, type DeletionOutcome } from './deletions.js';
import type { MergedPaths } from './merged-paths.js';
import { planMerge, type Claim, type MergePlan, type PlannedWrite } from './resolve.js';
import { compilePolicy, type ConflictRules, type PolicyOf } from './rules.js';
import { runTextMerges, TextSource } from './textmerge.js';
import { Ticker } from '../workspace/ticker.js';
import type { Skipped } from '../workspace/walk.js';

/** A path the streams disagree on, and every stream that changed it. */
export interface Conflict {
  path: string;
  streams: string[];
}

/** One side of a conflict: what a stream (or an earlier merge) has at the path. */
export interface ConflictVersion {
  stream: string;
  kind: 'file' | 'symlink' | 'dir' | 'special' | 'deleted';
  /** Where that version is (a file, link or directory), absent for a deletion. */
  abs?: string;
}

/** What a conflict is made of: each side, the base version, and the text with markers. */
export interface ConflictDetail {
  path: string;
  streams: string[];
  versions: ConflictVersion[];
  /** The base version (absolute), when the base has one. */
  base?: string;
  /** three-way: the merged text with conflict markers. */
  text?: Buffer;
}

/**
 * What a merge did. `ok` is false when a conflict was left unresolved: under `fail`, or under
 * `three-way` one that could not be merged as text or a text merge that left conflict
 * markers — the last two only without `allowConflicts`. Then nothing was written.
 */
export interface MergeResult {
  ok: boolean;
  /** Stream ids whose content is in the target (all of it, or what the policy kept); [] when not ok. */
  merged: string[];
  /** Entries of the streams written by this merge (files, links, empty directories; not the base). */
  files: number;
  /** Every conflicting path except those a three-way text merge resolved cleanly. */
  conflicts: Conflict[];
  skipped: Array<Skipped & { stream: string }>;
  /** keep-both: later differing versions and where they went. */
  renamed: Array<{ path: string; stream: string; as: string }>;
  /** three-way: paths with conflict markers in their merged text. */
  markers: string[];
  /** Base paths this merge deleted. */
  deleted: string[];
  /** The material of each conflict (for `conflicts/<point>/`). */
  details: ConflictDetail[];
  /** With `linkBaseFrom`: the base files hard-linked into the target (the others were copied). */
  linked?: string[];
}

/** Options of {@link mergeAll} and {@link mergeOne}. */
export interface MergeOptions {
  /** Treat names differing only by case as the same path; probed on the target when left out. */
  caseInsensitive?: boolean;
  /** Overrides of {@link DEFAULT_MERGE_LIMITS}. */
  limits?: Partial<MergeLimits>;
  /**
   * three-way: the common ancestor tree (the directory the workspaces were seeded from);
   * `<base>/<path>` is the base version of a path (absent there: empty). Without it (and
   * without `baseTree`) every base is empty, as if both sides had added the file: lines the
   * versions share are kept once and every difference between them is a conflict with markers.
   */
  base?: string;
  /**
   * The base the sources' change sets are against: the target is this base plus the merged
   * changes, and it is the three-way base (unless `base` is given).
   */
  baseTree?: BaseTree;
  /**
   * What earlier merges into this target wrote and deleted (progressive points; updated by
   * each merge). Defaults to a registry of this process, per target.
   */
  prior?: MergedPaths;
  /**
   * three-way: conflicts do not fail the merge. Files with conflict markers are written and
   * an unmergeable conflict (binary, file against directory or link, modify/delete) keeps the
   * earlier version; all are still listed. Does not apply to `fail`, which always fails.
   */
  allowConflicts?: boolean;
  /**
   * With `baseTree`, for a target built whole: a directory holding the same entries as
   * `baseTree.tree` (a check pool), whose files are hard-linked into the target instead of
   * copying the base's. Files the streams changed are still copied; a file that cannot be
   * linked (another file system, too many links, not permitted) is copied. Only for private
   * trees nobody publishes: whatever writes into a linked file writes into that directory.
   */
  linkBaseFrom?: string;
}

/** How one merge resolves conflicts: the policy per path, and text access when three-way can occur. */
export interface Resolution {
  policyOf: PolicyOf;
  text: TextSource | undefined;
  allowConflicts: boolean;
}

/** Checks the policy and options before anything is read or written. */
export function resolution(policy: ConflictPolicy | ConflictRules, opts: MergeOptions): Resolution {
  const policyOf = compilePolicy(policy);
  const text = policyOf.policies.has('three-way') ? new TextSource(opts.base ?? opts.baseTree?.tree) : undefined;
  return { policyOf, text, allowConflicts: opts.allowConflicts === true };
}

/** One merge's working set: the sources, how names fold, and what the steps decided. */
export interface Work {
  collected: Collected[];
  how: Resolution;
  fold: (n: string) => string;
  foldRel: (rel: string) => string;
  prior: MergedPaths;
  groups: Groups;
  deletions: DeletionOutcome;
  p: MergePlan;
  markers: string[];
  /** Paths whose conflict leaves the merge unresolved. */
  blocked: string[];
}

/** Runs every step up to the plan: deletions, claims (and the target's, for progressive), content, text merges. */
export async function planWork(
  collected: Collected[],
  how: Resolution,
  ci: boolean,
  prior: MergedPaths,
  target: { abs: string; keep: ((key: string) => boolean) | undefined } | undefined,
): Promise<Work> {
  const fold = (n: string): string => foldName(n, ci);
  const foldRel = (rel: string): string => (ci ? rel.split('/').map(fold).join('/') : rel);
  const deletions = settleDeletions(
    collected.map((c) => ({ stream: c.source.stream, entries: c.entries, deleted: c.deleted })),
    target === undefined ? undefined : prior,
    how.policyOf,
    foldRel,
    how.allowConflicts,
  );
  const groups: Groups = new Map();
  collected.forEach((c, i) => {
    const dropped = deletions.dropped[i];
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: `dropped` is set for every source, and filtering by an empty set keeps every entry
    addSourceClaims(groups, i, dropped && dropped.size > 0 ? c.entries.filter((e) => !dropped.has(e.rel)) : c.entries, fold);
  });
  const listings = target === undefined ? new Map<string, Listing>() : addTargetClaims(groups, target.abs, fold, target.keep);
  await settleContent(groups, new Ticker());
  // Stryker disable next-line OptionalChaining,StringLiteral: a claim's src >= 0 indexes `collected`, so the fallback is never taken
  const streamsOf = (c: Claim): string[] => (c.src >= 0 ? [collected[c.src]?.source.stream ?? `source${c.src}`] : prior.streamsAt(foldRel(c.rel)));
  const p = planMerge({
    groups,
    policyOf: how.policyOf,
    allowConflicts: how.allowConflicts,
    // Stryker disable next-line OptionalChaining,BooleanLiteral: planMerge asks only for a three-way path, and `how.text` is set whenever a policy is three-way
    canMergeText: (rel, a, b) => how.text?.canMerge(rel, a, b) ?? false,
    fold,
    streamsOf,
    nameTaken: (parent, folded) => listings.get(parent)?.has(folded) ?? false,
  });
  const labelOf = (c: Claim): string => streamsOf(c).join('+') || 'merged';
  // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: text merges are planned only under three-way, where `how.text` is set, and runTextMerges over none returns none
  const markers = how.text !== undefined && p.textMerges.length > 0 ? await runTextMerges(p, how.text, labelOf, new Ticker()) : [];
  const blocked = [...p.blocked, ...deletions.blocked, ...(how.allowConflicts ? [] : markers)];
  return { collected, how, fold, foldRel, prior, groups, deletions, p, markers, blocked };
}

/** The conflicts of the plan and of the deletions, one entry per path (streams in the order met). */
function allConflicts(w: Work): Conflict[] {
  const byPath = new Map<string, Conflict>();
  for (const c of [...w.p.conflicts, ...w.deletions.conflicts]) {
    const had = byPath.get(c.path);
    if (had === undefined) byPath.set(c.path, { path: c.path, streams: [...c.streams] });
    else for (const s of c.streams) if (!had.streams.includes(s)) had.streams.push(s);
  }
  return [...byPath.values()];
}

/** Each conflict's sides, base version and marker text (what `conflicts/<point>/` is made of). */
function conflictDetails(w: Work, conflicts: Conflict[], opts: MergeOptions): ConflictDetail[] {
  return conflicts.map((c) => {
    const key = w.foldRel(c.path);
    const versions: ConflictVersion[] = [];
    for (const claim of w.groups.get(key) ?? []) {
      if (claim.src < 0) {
        for (const stream of w.prior.streamsAt(key)) versions.push({ stream, kind: claim.kind, ...(claim.abs ? { abs: claim.abs } : {}) });
        continue;
      }
      const src = w.collected[claim.src];
      if (src === undefined) continue;
      const abs = claim.entry?.abs ?? path.join(src.source.dir, ...claim.rel.split('/'));
      versions.push({ stream: src.source.stream, kind: claim.kind, abs });
    }
    w.collected.forEach((src) => {
      if (src.deleted.some((d) => w.foldRel(d) === key)) versions.push({ stream: src.source.stream, kind: 'deleted' });
    });
    for (const stream of w.prior.deleted.get(key)?.streams ?? []) versions.unshift({ stream, kind: 'deleted' });
    const base = opts.baseTree
      ? basePath(opts.baseTree, c.path)
      : opts.base && fs.existsSync(path.join(opts.base, c.path))
        ? path.join(opts.base, c.path)
        : undefined;
    const text = w.p.textMerges.find((m) => m.write.outRel === c.path && w.markers.includes(c.path))?.write.data;
    return { path: c.path, streams: c.streams, versions, ...(base !== undefined ? { base } : {}), ...(text !== undefined ? { text } : {}) };
  });
}

/** The result of a merge that wrote `outcome` (undefined: nothing written, it was blocked). */
export function result(w: Work, outcome: ApplyOutcome | undefined, opts: MergeOptions): MergeResult {
  const { collected, p, markers } = w;
  const skipped = collected.flatMap((c) => c.skipped.map((s) => ({ ...s, stream: c.source.stream })));
  for (const o of outcome?.outside ?? []) {
    // Stryker disable next-line OptionalChaining,StringLiteral: an outside link's src >= 0 indexes `collected`, so the fallback is never taken
    if (o.src >= 0) skipped.push({ rel: o.entry.rel, reason: 'symlink-outside', stream: collected[o.src]?.source.stream ?? '' });
  }
  const written = outcome !== undefined;
  const conflicts = allConflicts(w);
  return {
    ok: written,
    merged: written ? collected.map((c) => c.source.stream) : [],
    files: outcome?.written.filter((x) => x.src >= 0).length ?? 0,
    conflicts,
    skipped,
    renamed: written ? p.renamed : [],
    markers,
    deleted: written ? w.deletions.effective.map((d) => d.rel) : [],
    details: conflictDetails(w, conflicts, opts),
    ...(opts.linkBaseFrom !== undefined && opts.baseTree !== undefined ? { linked: outcome?.linked ?? [] } : {}),
  };
}

/** Remembers what this merge wrote and deleted, for later merges into the same target and for `coord apply`. */
export function record(w: Work, outcome: ApplyOutcome): void {
  for (const x of outcome.written) {
    if (x.src < 0) continue;
    // Stryker disable next-line OptionalChaining,StringLiteral: every written entry's src >= 0 indexes `collected`, so the fallback is never taken
    w.prior.wrote(w.foldRel(x.outRel), x.outRel, w.collected[x.src]?.source.stream ?? '');
  }
  for (const d of w.deletions.effective) w.prior.deletedBy(d.key, d.rel, d.streams);
}

/**
 * The base's entries that stay in a target built from `base`: all but those a change
 * deleted, replaced, or turned into (or put below) something else. With `linkFrom` (a
 * directory mirroring `base.tree`) the files are to be hard-linked from there.
 */
export function baseLayer(base: BaseTree, w: Work, linkFrom?: string): PlannedWrite[] {
  const written = new Map<string, PlannedWrite['entry']['kind']>();
  const below = new Set<string>();
  for (const x of w.p.writes) {
    const key = w.foldRel(x.outRel);
    written.set(key, x.entry.kind);
    for (let cut = key.lastIndexOf('/'); cut > 0; cut = key.lastIndexOf('/', cut - 1)) below.add(key.slice(0, cut));
  }
  const deleted = new Set(w.deletions.effective.map((d) => d.key));
  const replacedAbove = (key: string): boolean => {
    for (let cut = key.lastIndexOf('/'); cut > 0; cut = key.lastIndexOf('/', cut - 1)) {
      const anc = key.slice(0, cut);
      if (deleted.has(anc)) return true;
      const kind = written.get(anc);
      if (kind !== undefined && kind !== 'dir') return true;
    }
    return false;
  };
  const out: PlannedWrite[] = [];
  for (const e of base.entries) {
    const key = w.foldRel(e.rel);
    if (deleted.has(key) || written.has(key) || replacedAbove(key)) continue;
    if (e.kind !== 'dir' && below.has(key)) continue;
    const link = linkFrom !== undefined && e.kind === 'file';
    out.push({
      entry: {
        rel: e.rel,
        abs: path.join(link ? linkFrom : base.tree, ...e.rel.split('/')),
        kind: e.kind,
        size: e.size,
        mode: e.mode,
        ...(e.link !== undefined ? { linkTarget: e.link } : {}),
      },
      outRel: e.rel,
      src: -2,
      ...(link ? { link } : {}),
    });
  }
  return out;
}
