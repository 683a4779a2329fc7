/**
 * The merge engine of convergence points (SPEC §2 "Merge", §7 "Change sets"): streams'
 * contributions are brought into one target directory.
 *
 * - {@link mergeAll} (barrier): all-or-nothing. Everything is planned first, written into a
 *   staging directory next to the target, then renamed into place: readers see no target
 *   or a complete one. A merge that leaves any conflict unresolved writes nothing.
 * - {@link mergeOne} (progressive): one stream into a target that may already hold earlier
 *   streams' content; each file appears atomically (temp name + rename).
 *
 * A source seeded from a base brings its change set (changes.ts): what it added, modified
 * and deleted. With `baseTree`, the target is the base plus the merged changes, and a path
 * only one stream changed is never a conflict; two streams changing one path differently
 * are (deletions included, deletions.ts). A source without a change set contributes every
 * entry it has, as an addition.
 *
 *   collect (collect.ts: change sets or walks) ─► deletions (deletions.ts) ─► claims (claims.ts)
 *     ─► plan (resolve.ts) ─► three-way text merges (textmerge.ts) ─► base layer + write (apply.ts)
 *
 * Conflicts follow the policy (resolve.ts): one for the whole merge, or {@link ConflictRules}
 * choosing one per path (rules.ts). Under `three-way`, differing text files are merged line by
 * line against the base (`baseTree`, or `opts.base`). Nothing is written outside the target
 * and nothing through a symbolic link. Merges into one target are serialized within this
 * process; merging into one target from several processes at once is not supported.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ConflictPolicy } from '../plan/types.js';
import { applyWrites, removeAll, removeAndPrune, type ApplyOutcome } from './apply.js';
import { basePath, type BaseTree } from './basetree.js';
import { collectWithin, type Collected, type MergeLimits, type MergeSource } from './collect.js';
import { addSourceClaims, addTargetClaims, settleContent, type Groups, type Listing } from './claims.js';
import { foldName, probeCaseInsensitive } from './content.js';
import { settleDeletions, type DeletionOutcome } from './deletions.js';
import { MergedPaths } from './merged-paths.js';
import { planMerge, type Claim, type MergePlan, type PlannedWrite } from './resolve.js';
import { fsErrorCode, WorkspaceError } from './root.js';
import { compilePolicy, type ConflictRules, type PolicyOf } from './rules.js';
import { runTextMerges, TextSource } from './textmerge.js';
import { Ticker } from './ticker.js';
import type { Skipped } from './walk.js';

export { DEFAULT_MERGE_LIMITS, MergeLimitError, type MergeLimits, type MergeSource } from './collect.js';
export type { ConflictRules } from './rules.js';
export { MergedPaths } from './merged-paths.js';

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
}

/** What earlier merges wrote into each target (this process), when the caller keeps no record of its own. */
const registries = new Map<string, MergedPaths>();
/** Merges into one target run one at a time. */
const targetQueues = new Map<string, Promise<unknown>>();

async function serialized<T>(target: string, fn: () => Promise<T>): Promise<T> {
  const before = targetQueues.get(target) ?? Promise.resolve();
  const run = before.then(fn, fn);
  const tail = run.catch(() => undefined);
  targetQueues.set(target, tail);
  try {
    return await run;
  } finally {
    if (targetQueues.get(target) === tail) targetQueues.delete(target);
  }
}

/** How one merge resolves conflicts: the policy per path, and text access when three-way can occur. */
interface Resolution {
  policyOf: PolicyOf;
  text: TextSource | undefined;
  allowConflicts: boolean;
}

/** Checks the policy and options before anything is read or written. */
function resolution(policy: ConflictPolicy | ConflictRules, opts: MergeOptions): Resolution {
  const policyOf = compilePolicy(policy);
  const text = policyOf.policies.has('three-way') ? new TextSource(opts.base ?? opts.baseTree?.tree) : undefined;
  return { policyOf, text, allowConflicts: opts.allowConflicts === true };
}

/** One merge's working set: the sources, how names fold, and what the steps decided. */
interface Work {
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
async function planWork(
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
    addSourceClaims(groups, i, dropped && dropped.size > 0 ? c.entries.filter((e) => !dropped.has(e.rel)) : c.entries, fold);
  });
  const listings = target === undefined ? new Map<string, Listing>() : addTargetClaims(groups, target.abs, fold, target.keep);
  await settleContent(groups, new Ticker());
  const streamsOf = (c: Claim): string[] => (c.src >= 0 ? [collected[c.src]?.source.stream ?? `source${c.src}`] : prior.streamsAt(foldRel(c.rel)));
  const p = planMerge({
    groups,
    policyOf: how.policyOf,
    allowConflicts: how.allowConflicts,
    canMergeText: (rel, a, b) => how.text?.canMerge(rel, a, b) ?? false,
    fold,
    streamsOf,
    nameTaken: (parent, folded) => listings.get(parent)?.has(folded) ?? false,
  });
  const markers = how.text !== undefined && p.textMerges.length > 0 ? await runTextMerges(p, how.text, (c) => streamsOf(c).join('+') || 'merged', new Ticker()) : [];
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
    const base = opts.baseTree ? basePath(opts.baseTree, c.path) : opts.base && fs.existsSync(path.join(opts.base, c.path)) ? path.join(opts.base, c.path) : undefined;
    const text = w.p.textMerges.find((m) => m.write.outRel === c.path && w.markers.includes(c.path))?.write.data;
    return { path: c.path, streams: c.streams, versions, ...(base !== undefined ? { base } : {}), ...(text !== undefined ? { text } : {}) };
  });
}

/** The result of a merge that wrote `outcome` (undefined: nothing written, it was blocked). */
function result(w: Work, outcome: ApplyOutcome | undefined, opts: MergeOptions): MergeResult {
  const { collected, p, markers } = w;
  const skipped = collected.flatMap((c) => c.skipped.map((s) => ({ ...s, stream: c.source.stream })));
  for (const o of outcome?.outside ?? []) {
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
  };
}

/** Remembers what this merge wrote and deleted, for later merges into the same target and for `coord apply`. */
function record(w: Work, outcome: ApplyOutcome): void {
  for (const x of outcome.written) {
    if (x.src < 0) continue;
    w.prior.wrote(w.foldRel(x.outRel), x.outRel, w.collected[x.src]?.source.stream ?? '');
  }
  for (const d of w.deletions.effective) w.prior.deletedBy(d.key, d.rel, d.streams);
}

/**
 * The base's entries that stay in a target built from `base`: all but those a change
 * deleted, replaced, or turned into (or put below) something else.
 */
function baseLayer(base: BaseTree, w: Work): PlannedWrite[] {
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
    out.push({
      entry: { rel: e.rel, abs: path.join(base.tree, ...e.rel.split('/')), kind: e.kind, size: e.size, mode: e.mode, ...(e.link !== undefined ? { linkTarget: e.link } : {}) },
      outRel: e.rel,
      src: -2,
    });
  }
  return out;
}

function registryOf(abs: string, opts: MergeOptions, fresh: boolean): MergedPaths {
  if (opts.prior !== undefined) return opts.prior;
  let r = registries.get(abs);
  if (r === undefined || fresh) registries.set(abs, (r = new MergedPaths()));
  return r;
}

/** Builds `base` plus the planned writes in a new staging directory and renames it to `abs`; undefined when blocked. */
async function publishWhole(abs: string, sources: MergeSource[], how: Resolution, opts: MergeOptions): Promise<MergeResult> {
  const collected = await collectWithin(sources, opts);
  const parent = path.dirname(abs);
  fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
  const staging = fs.mkdtempSync(path.join(parent, `.${path.basename(abs)}.staging-`));
  try {
    const ci = opts.caseInsensitive ?? probeCaseInsensitive(staging);
    const prior = new MergedPaths();
    const w = await planWork(collected, how, ci, prior, undefined);
    if (w.blocked.length > 0) {
      fs.rmSync(staging, { recursive: true, force: true });
      return result(w, undefined, opts);
    }
    const writes = opts.baseTree ? [...baseLayer(opts.baseTree, w), ...w.p.writes] : w.p.writes;
    const outcome = await applyWrites(staging, writes, { atomic: false });
    try {
      fs.renameSync(staging, abs);
    } catch (e) {
      throw new WorkspaceError(`cannot move the merge into ${abs}: ${(e as Error).message}`, abs);
    }
    record(w, outcome);
    registryOf(abs, opts, true).replaceWith(prior);
    return result(w, outcome, opts);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Barrier merge of `sources` (in completion order) into `target`, all or nothing. `target`
 * must not exist (its parent is created, mode 0700). `policy` is one policy or per-path
 * {@link ConflictRules}. An unresolved conflict (see {@link MergeResult}) means nothing is
 * written (no target, no staging directory) and `ok: false` with the conflicts and their
 * {@link ConflictDetail}s; three-way text merges fold left in completion order. Throws
 * {@link MergeLimitError} over a limit, and an Error for an unknown policy or a `base` that
 * is not a directory, writing nothing.
 */
export async function mergeAll(
  target: string,
  sources: MergeSource[],
  policy: ConflictPolicy | ConflictRules,
  opts: MergeOptions = {},
): Promise<MergeResult> {
  const how = resolution(policy, opts);
  const abs = path.resolve(target);
  return serialized(abs, async () => {
    if (fs.existsSync(abs) || isLink(abs)) throw new WorkspaceError(`merge target ${abs} already exists`, abs);
    return publishWhole(abs, sources, how, opts);
  });
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Progressive merge of one stream into `target`, which may already hold earlier streams'
 * content. With `baseTree` the first merge builds the target as the base plus this stream's
 * changes (all at once, like {@link mergeAll}); later ones are judged against what earlier
 * merges changed (`prior`), never against the base, which any change replaces. Without a
 * base, conflicts are judged against everything the target holds, and under `three-way` a
 * text file is merged with what the target holds (`merged(target) ⊕ stream`). On an
 * unresolved conflict (see {@link MergeResult}) the stream contributes nothing and the
 * earlier content stays. Throws {@link MergeLimitError} over a limit (nothing of this stream
 * written). Each file, link and new directory appears atomically; an I/O error part-way (disk
 * full) can leave part of the stream merged, and is thrown.
 */
export async function mergeOne(
  target: string,
  source: MergeSource,
  policy: ConflictPolicy | ConflictRules,
  opts: MergeOptions = {},
): Promise<MergeResult> {
  const how = resolution(policy, opts);
  const abs = path.resolve(target);
  return serialized(abs, async () => {
    try {
      const st = fs.lstatSync(abs);
      if (st.isSymbolicLink() || !st.isDirectory()) {
        throw new WorkspaceError(`merge target ${abs} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}`, abs);
      }
    } catch (e) {
      if (fsErrorCode(e) !== 'ENOENT') throw e;
      if (opts.baseTree !== undefined) return publishWhole(abs, [source], how, opts);
      fs.mkdirSync(abs, { recursive: true, mode: 0o700 });
    }
    const collected = await collectWithin([source], opts);
    const ci = opts.caseInsensitive ?? probeCaseInsensitive(abs);
    const prior = registryOf(abs, opts, false);
    // On a base, the target's content is the base except where earlier merges changed it.
    const keep = opts.baseTree !== undefined ? prior.claimable() : undefined;
    const w = await planWork(collected, how, ci, prior, { abs, keep });
    if (w.blocked.length > 0) return result(w, undefined, opts);
    removeAll(abs, w.p.removals);
    removeAndPrune(abs, w.deletions.effective.map((d) => d.rel));
    const outcome = await applyWrites(abs, w.p.writes, { atomic: true });
    record(w, outcome);
    return result(w, outcome, opts);
  });
}
