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
import { applyWrites, removeAll, removeAndPrune } from './apply.js';
import { collectWithin, type MergeSource } from './collect.js';
import { probeCaseInsensitive } from '../workspace/content.js';
import { MergedPaths } from './merged-paths.js';
import { baseLayer, planWork, record, resolution, result, type MergeOptions, type MergeResult, type Resolution } from './merge-work.js';
import { fsErrorCode, WorkspaceError } from '../workspace/root.js';
import type { ConflictRules } from './rules.js';

export { DEFAULT_MERGE_LIMITS, MergeLimitError, type MergeLimits, type MergeSource } from './collect.js';
export type { ConflictRules } from './rules.js';
export { MergedPaths } from './merged-paths.js';

export type { Conflict, ConflictDetail, ConflictVersion, MergeOptions, MergeResult } from './merge-work.js';

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
    // Stryker disable next-line BlockStatement: the settled tail is dropped only to free memory; a kept one delays no later merge
  } finally {
    if (targetQueues.get(target) === tail) targetQueues.delete(target);
  }
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
      // Stryker disable next-line BooleanLiteral: the staging directory was made by mkdtemp just above and is still there
      fs.rmSync(staging, { recursive: true, force: true });
      return result(w, undefined, opts);
    }
    const writes = opts.baseTree ? [...baseLayer(opts.baseTree, w, opts.linkBaseFrom), ...w.p.writes] : w.p.writes;
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: nobody reads the private staging directory, so temp names and renames in it end the same
    const outcome = await applyWrites(staging, writes, { atomic: false });
    try {
      fs.renameSync(staging, abs);
    } catch (e) {
      throw new WorkspaceError(`cannot move the merge into ${abs}: ${(e as Error).message}`, abs);
    }
    record(w, outcome);
    // Stryker disable next-line BooleanLiteral: replaceWith clears a reused registry first, as a fresh one is
    registryOf(abs, opts, true).replaceWith(prior);
    return result(w, outcome, opts);
  } catch (e) {
    // Stryker disable next-line BooleanLiteral: the staging directory exists here (everything that can throw runs before the rename)
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
export async function mergeAll(target: string, sources: MergeSource[], policy: ConflictPolicy | ConflictRules, opts: MergeOptions = {}): Promise<MergeResult> {
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
    // Stryker disable next-line BlockStatement: an empty catch returns undefined, as falsy as false for the one caller's `||`
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
export async function mergeOne(target: string, source: MergeSource, policy: ConflictPolicy | ConflictRules, opts: MergeOptions = {}): Promise<MergeResult> {
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
    removeAndPrune(
      abs,
      w.deletions.effective.map((d) => d.rel),
    );
    const outcome = await applyWrites(abs, w.p.writes, { atomic: true });
    record(w, outcome);
    return result(w, outcome, opts);
  });
}
