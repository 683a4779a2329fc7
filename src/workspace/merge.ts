/**
 * The merge engine of convergence points (SPEC §2 "Merge"): streams' selected outputs are
 * brought into one target directory.
 *
 * - {@link mergeAll} (barrier): all-or-nothing. Everything is planned first, written into a
 *   staging directory next to the target, then renamed into place: readers see no target
 *   or a complete one.
 * - {@link mergeOne} (progressive): one stream into a target that may already hold earlier
 *   streams' content; each file appears atomically (temp name + rename).
 *
 *   walk (collect.ts, walk.ts) ─► claims (claims.ts) ─► plan (resolve.ts)
 *     ─► three-way text merges (textmerge.ts, threeway.ts) ─► write (apply.ts)
 *
 * Conflicts (same path, different content or kind) follow the policy (resolve.ts): one for
 * the whole merge, or {@link ConflictRules} choosing one per path (rules.ts). Under
 * `three-way`, differing text files are merged line by line against `opts.base`. Nothing is
 * written outside the target and nothing through a symbolic link. Merges into one target
 * are serialized within this process; merging into one target from several processes at
 * once is not supported.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ConflictPolicy } from '../plan/types.js';
import { applyWrites, removeAll, type ApplyOutcome } from './apply.js';
import { collectWithin, type Collected, type MergeLimits, type MergeSource } from './collect.js';
import { addSourceClaims, addTargetClaims, settleContent, type Groups, type Listing } from './claims.js';
import { foldName, probeCaseInsensitive } from './content.js';
import { planMerge, type Claim, type MergePlan } from './resolve.js';
import { fsErrorCode, WorkspaceError } from './root.js';
import { compilePolicy, type ConflictRules, type PolicyOf } from './rules.js';
import { runTextMerges, TextSource } from './textmerge.js';
import { Ticker } from './ticker.js';
import type { Skipped } from './walk.js';

export { DEFAULT_MERGE_LIMITS, MergeLimitError, type MergeLimits, type MergeSource } from './collect.js';
export type { ConflictRules } from './rules.js';

/** A path the streams disagree on, and every stream that had something there. */
export interface Conflict {
  path: string;
  streams: string[];
}

/**
 * What a merge did. `ok` is false when a conflict was left unresolved: under `fail`, or under
 * `three-way` one that could not be merged as text (then nothing was written), or a text
 * merge that left conflict markers (then everything was written, markers included) — the
 * last two only without `allowConflicts`.
 */
export interface MergeResult {
  ok: boolean;
  /** Stream ids whose content is in the target (all of it, or what the policy kept); [] when not ok. */
  merged: string[];
  /** Entries written by this merge (files, links, empty directories). */
  files: number;
  /** Every conflicting path except those a three-way text merge resolved cleanly. */
  conflicts: Conflict[];
  skipped: Array<Skipped & { stream: string }>;
  /** keep-both: later differing versions and where they went. */
  renamed: Array<{ path: string; stream: string; as: string }>;
  /** three-way: paths written with conflict markers in them. */
  markers: string[];
}

/** Options of {@link mergeAll} and {@link mergeOne}. */
export interface MergeOptions {
  /** Treat names differing only by case as the same path; probed on the target when left out. */
  caseInsensitive?: boolean;
  /** Overrides of {@link DEFAULT_MERGE_LIMITS}. */
  limits?: Partial<MergeLimits>;
  /**
   * three-way: the common ancestor tree (the directory the workspaces were seeded from);
   * `<base>/<path>` is the base version of a path (absent there: empty). Without it every
   * base is empty, as if both sides had added the file: lines the versions share are kept
   * once and every difference between them is a conflict with markers.
   */
  base?: string;
  /**
   * three-way: conflicts do not fail the merge. Files with conflict markers are written and
   * an unmergeable conflict (binary, file against directory or link) keeps the earlier
   * version; all are still listed. Does not apply to `fail`, which always fails.
   */
  allowConflicts?: boolean;
}

/** Who wrote what into each target (this process only): names the earlier side of a conflict. */
const provenance = new Map<string, Map<string, string>>();
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
  const text = policyOf.policies.has('three-way') ? new TextSource(opts.base) : undefined;
  return { policyOf, text, allowConflicts: opts.allowConflicts === true };
}

/** Plans the merge and runs its text merges; `markers`: paths whose merged text has conflict markers. */
async function plan(
  groups: Groups,
  collected: readonly Collected[],
  how: Resolution,
  fold: (n: string) => string,
  owners: Map<string, string> | undefined,
  listings: Map<string, Listing>,
): Promise<{ p: MergePlan; markers: string[] }> {
  const { text } = how;
  const streamsOf = (c: Claim): string[] => {
    if (c.src >= 0) return [collected[c.src]?.source.stream ?? `source${c.src}`];
    const owner = owners?.get(c.rel);
    return owner === undefined ? [] : [owner];
  };
  const p = planMerge({
    groups,
    policyOf: how.policyOf,
    allowConflicts: how.allowConflicts,
    canMergeText: (rel, a, b) => text?.canMerge(rel, a, b) ?? false,
    fold,
    streamsOf,
    nameTaken: (parent, folded) => listings.get(parent)?.has(folded) ?? false,
  });
  if (text === undefined || p.textMerges.length === 0) return { p, markers: [] };
  const markers = await runTextMerges(p, text, (c) => streamsOf(c)[0] ?? 'merged', new Ticker());
  return { p, markers };
}

/** The result of a merge that wrote `outcome` (undefined: nothing written, it was blocked). */
function result(
  collected: readonly Collected[],
  p: MergePlan,
  outcome: ApplyOutcome | undefined,
  markers: string[],
  how: Resolution,
): MergeResult {
  const skipped = collected.flatMap((c) => c.skipped.map((s) => ({ ...s, stream: c.source.stream })));
  for (const w of outcome?.outside ?? []) {
    skipped.push({ rel: w.entry.rel, reason: 'symlink-outside', stream: collected[w.src]?.source.stream ?? '' });
  }
  const written = outcome !== undefined;
  const ok = written && (markers.length === 0 || how.allowConflicts);
  return {
    ok,
    merged: ok ? collected.map((c) => c.source.stream) : [],
    files: outcome?.written.length ?? 0,
    conflicts: p.conflicts,
    skipped,
    renamed: written ? p.renamed : [],
    markers: written ? markers : [],
  };
}

function record(target: string, collected: readonly Collected[], outcome: ApplyOutcome, fresh: boolean): void {
  let owners = fresh ? undefined : provenance.get(target);
  if (owners === undefined) provenance.set(target, (owners = new Map()));
  for (const w of outcome.written) owners.set(w.outRel, collected[w.src]?.source.stream ?? '');
}

/**
 * Barrier merge of `sources` (in completion order) into `target`, all or nothing. `target`
 * must not exist (its parent is created, mode 0700). `policy` is one policy or per-path
 * {@link ConflictRules}. An unresolved conflict (see {@link MergeResult}) means nothing is
 * written (no target, no staging directory) and `ok: false` with the conflicts; three-way
 * text merges fold left in completion order. Throws {@link MergeLimitError} over a limit, and
 * an Error for an unknown policy or a `base` that is not a directory, writing nothing.
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
    const collected = await collectWithin(sources, opts);
    const parent = path.dirname(abs);
    fs.mkdirSync(parent, { recursive: true, mode: 0o700 });
    const staging = fs.mkdtempSync(path.join(parent, `.${path.basename(abs)}.staging-`));
    try {
      const ci = opts.caseInsensitive ?? probeCaseInsensitive(staging);
      const fold = (n: string): string => foldName(n, ci);
      const groups: Groups = new Map();
      collected.forEach((c, i) => addSourceClaims(groups, i, c.entries, fold));
      await settleContent(groups, new Ticker());
      const { p, markers } = await plan(groups, collected, how, fold, undefined, new Map());
      if (p.blocked.length > 0) {
        fs.rmSync(staging, { recursive: true, force: true });
        return result(collected, p, undefined, markers, how);
      }
      const outcome = await applyWrites(staging, p.writes, { atomic: false });
      try {
        fs.renameSync(staging, abs);
      } catch (e) {
        throw new WorkspaceError(`cannot move the merge into ${abs}: ${(e as Error).message}`, abs);
      }
      record(abs, collected, outcome, true);
      return result(collected, p, outcome, markers, how);
    } catch (e) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw e;
    }
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
 * Progressive merge of one stream into `target` (created, mode 0700, when missing), which may
 * already hold earlier streams' content: conflicts are judged against it, and under
 * `three-way` a text file is merged with what the target holds (`merged(target) ⊕ stream`).
 * On an unresolved conflict (see {@link MergeResult}) the stream contributes nothing and the
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
      fs.mkdirSync(abs, { recursive: true, mode: 0o700 });
    }
    const collected = await collectWithin([source], opts);
    const ci = opts.caseInsensitive ?? probeCaseInsensitive(abs);
    const fold = (n: string): string => foldName(n, ci);
    const groups: Groups = new Map();
    addSourceClaims(groups, 0, collected[0]?.entries ?? [], fold);
    const listings = addTargetClaims(groups, abs, fold);
    await settleContent(groups, new Ticker());
    const { p, markers } = await plan(groups, collected, how, fold, provenance.get(abs), listings);
    if (p.blocked.length > 0) return result(collected, p, undefined, markers, how);
    removeAll(abs, p.removals);
    const outcome = await applyWrites(abs, p.writes, { atomic: true });
    record(abs, collected, outcome, false);
    return result(collected, p, outcome, markers, how);
  });
}
