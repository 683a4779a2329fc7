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
 *   walk (walk.ts) ─► claims (claims.ts) ─► plan (resolve.ts) ─► write (apply.ts)
 *
 * Conflicts (same path, different content or kind) follow the policy (resolve.ts). Nothing
 * is written outside the target and nothing through a symbolic link. Merges into one target
 * are serialized within this process; merging into one target from several processes at
 * once is not supported.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ConflictPolicy } from '../plan/types.js';
import { applyWrites, removeAll, type ApplyOutcome } from './apply.js';
import { addSourceClaims, addTargetClaims, settleContent, type Groups, type Listing } from './claims.js';
import { foldName, probeCaseInsensitive } from './content.js';
import { planMerge, type Claim, type MergePlan } from './resolve.js';
import { fsErrorCode, WorkspaceError } from './root.js';
import { Ticker } from './ticker.js';
import { collectOutputs, type FileEntry, type Skipped } from './walk.js';

/** One stream's contribution: its workspace and its `outputs:` globs (empty = everything). */
export interface MergeSource {
  stream: string;
  dir: string;
  outputs: string[];
}

/** A path the streams disagree on, and every stream that had something there. */
export interface Conflict {
  path: string;
  streams: string[];
}

/** What a merge did. */
export interface MergeResult {
  /** false only when the `fail` policy met a conflict (then nothing was written). */
  ok: boolean;
  /** Stream ids whose content is in the target (all of it, or what the policy kept). */
  merged: string[];
  /** Entries written by this merge (files, links, empty directories). */
  files: number;
  conflicts: Conflict[];
  skipped: Array<Skipped & { stream: string }>;
  /** keep-both: later differing versions and where they went. */
  renamed: Array<{ path: string; stream: string; as: string }>;
}

/** Per merge: entries (files, links, empty dirs) and bytes of file content. */
export interface MergeLimits {
  maxFiles: number;
  maxBytes: number;
}

/** 100,000 entries and 2 GiB per merge. */
export const DEFAULT_MERGE_LIMITS: Readonly<MergeLimits> = Object.freeze({ maxFiles: 100_000, maxBytes: 2 * 1024 ** 3 });

/** A merge would exceed its {@link MergeLimits}; thrown before anything of it was written. */
export class MergeLimitError extends Error {
  readonly stream: string;
  readonly limit: 'maxFiles' | 'maxBytes';
  readonly actual: number;
  readonly max: number;
  constructor(stream: string, limit: 'maxFiles' | 'maxBytes', actual: number, max: number) {
    const what = limit === 'maxFiles' ? 'files' : 'bytes';
    super(`merge limit: stream "${stream}" brings the merge to ${actual} ${what} (${limit} is ${max}); nothing was merged`);
    this.name = 'MergeLimitError';
    this.stream = stream;
    this.limit = limit;
    this.actual = actual;
    this.max = max;
  }
}

/** Options of {@link mergeAll} and {@link mergeOne}. */
export interface MergeOptions {
  /** Treat names differing only by case as the same path; probed on the target when left out. */
  caseInsensitive?: boolean;
  /** Overrides of {@link DEFAULT_MERGE_LIMITS}. */
  limits?: Partial<MergeLimits>;
}

interface Collected {
  source: MergeSource;
  entries: FileEntry[];
  skipped: Skipped[];
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

function assertPolicy(policy: ConflictPolicy): asserts policy is Exclude<ConflictPolicy, 'three-way'> {
  if (policy === 'three-way') {
    throw new Error("on_conflict 'three-way' is not supported by the workspace merge yet; use fail, first, last or keep-both");
  }
}

async function collectWithin(sources: readonly MergeSource[], opts: MergeOptions): Promise<Collected[]> {
  const limits = { ...DEFAULT_MERGE_LIMITS, ...opts.limits };
  const out: Collected[] = [];
  let files = 0;
  let bytes = 0;
  for (const source of sources) {
    const { entries, skipped } = await collectOutputs(source.dir, source.outputs);
    files += entries.length;
    for (const e of entries) bytes += e.size;
    if (files > limits.maxFiles) throw new MergeLimitError(source.stream, 'maxFiles', files, limits.maxFiles);
    if (bytes > limits.maxBytes) throw new MergeLimitError(source.stream, 'maxBytes', bytes, limits.maxBytes);
    out.push({ source, entries, skipped });
  }
  return out;
}

function plan(
  groups: Groups,
  collected: readonly Collected[],
  policy: Exclude<ConflictPolicy, 'three-way'>,
  fold: (n: string) => string,
  owners: Map<string, string> | undefined,
  listings: Map<string, Listing>,
): MergePlan {
  return planMerge({
    groups,
    policy,
    fold,
    streamsOf: (c: Claim) => {
      if (c.src >= 0) return [collected[c.src]?.source.stream ?? `source${c.src}`];
      const owner = owners?.get(c.rel);
      return owner === undefined ? [] : [owner];
    },
    nameTaken: (parent, folded) => listings.get(parent)?.has(folded) ?? false,
  });
}

function result(
  ok: boolean,
  collected: readonly Collected[],
  p: MergePlan,
  outcome: ApplyOutcome | undefined,
): MergeResult {
  const skipped = collected.flatMap((c) => c.skipped.map((s) => ({ ...s, stream: c.source.stream })));
  for (const w of outcome?.outside ?? []) {
    skipped.push({ rel: w.entry.rel, reason: 'symlink-outside', stream: collected[w.src]?.source.stream ?? '' });
  }
  return {
    ok,
    merged: ok ? collected.map((c) => c.source.stream) : [],
    files: outcome?.written.length ?? 0,
    conflicts: p.conflicts,
    skipped,
    renamed: ok ? p.renamed : [],
  };
}

function record(target: string, collected: readonly Collected[], outcome: ApplyOutcome, fresh: boolean): void {
  let owners = fresh ? undefined : provenance.get(target);
  if (owners === undefined) provenance.set(target, (owners = new Map()));
  for (const w of outcome.written) owners.set(w.outRel, collected[w.src]?.source.stream ?? '');
}

/**
 * Barrier merge of `sources` (in completion order) into `target`, all or nothing. `target`
 * must not exist (its parent is created, mode 0700). Under `fail`, any conflict means nothing
 * is written (no target, no staging directory) and `ok: false` with the conflicts. Throws
 * {@link MergeLimitError} over a limit and a plain Error for `three-way`, writing nothing.
 */
export async function mergeAll(
  target: string,
  sources: MergeSource[],
  policy: ConflictPolicy,
  opts: MergeOptions = {},
): Promise<MergeResult> {
  assertPolicy(policy);
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
      const p = plan(groups, collected, policy, fold, undefined, new Map());
      if (policy === 'fail' && p.conflicts.length > 0) {
        fs.rmSync(staging, { recursive: true, force: true });
        return result(false, collected, p, undefined);
      }
      const outcome = await applyWrites(staging, p.writes, { atomic: false });
      try {
        fs.renameSync(staging, abs);
      } catch (e) {
        throw new WorkspaceError(`cannot move the merge into ${abs}: ${(e as Error).message}`, abs);
      }
      record(abs, collected, outcome, true);
      return result(true, collected, p, outcome);
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
 * already hold earlier streams' content: conflicts are judged against it. Under `fail` a
 * conflicting stream contributes nothing and the earlier content stays. Throws
 * {@link MergeLimitError} over a limit (nothing of this stream written). Each file, link and
 * new directory appears atomically; an I/O error part-way (disk full) can leave part of the
 * stream merged, and is thrown.
 */
export async function mergeOne(
  target: string,
  source: MergeSource,
  policy: ConflictPolicy,
  opts: MergeOptions = {},
): Promise<MergeResult> {
  assertPolicy(policy);
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
    const p = plan(groups, collected, policy, fold, provenance.get(abs), listings);
    if (policy === 'fail' && p.conflicts.length > 0) return result(false, collected, p, undefined);
    removeAll(abs, p.removals);
    const outcome = await applyWrites(abs, p.writes, { atomic: true });
    record(abs, collected, outcome, false);
    return result(true, collected, p, outcome);
  });
}
