/**
 * The first step of a merge: each source's selected outputs (walk.ts), checked against the
 * merge's {@link MergeLimits} before anything is planned or written.
 */
import { CoordError } from '../core/errors.js';
import type { ChangeSet } from '../workspace/changes.js';
import { collectOutputs, type FileEntry, type Skipped } from '../workspace/walk.js';

/**
 * One stream's contribution: its workspace and its `outputs:` globs (empty = everything), or,
 * for a stream seeded from a base, its change set against that base (changes.ts): then only
 * what it added or modified is merged, and what it deleted is deleted.
 */
export interface MergeSource {
  stream: string;
  dir: string;
  outputs: string[];
  changes?: ChangeSet;
}

/** Per merge: entries (files, links, empty dirs) and bytes of file content. */
export interface MergeLimits {
  maxFiles: number;
  maxBytes: number;
}

/** 100,000 entries and 2 GiB per merge. */
export const DEFAULT_MERGE_LIMITS: Readonly<MergeLimits> = Object.freeze({ maxFiles: 100_000, maxBytes: 2 * 1024 ** 3 });

/** A merge would exceed its {@link MergeLimits}; thrown before anything of it was written. Code `refused`. */
export class MergeLimitError extends CoordError {
  readonly stream: string;
  readonly limit: 'maxFiles' | 'maxBytes';
  readonly actual: number;
  readonly max: number;
  constructor(stream: string, limit: 'maxFiles' | 'maxBytes', actual: number, max: number) {
    const what = limit === 'maxFiles' ? 'files' : 'bytes';
    super('refused', `merge limit: stream "${stream}" brings the merge to ${actual} ${what} (${limit} is ${max}); nothing was merged`);
    this.name = 'MergeLimitError';
    this.stream = stream;
    this.limit = limit;
    this.actual = actual;
    this.max = max;
  }
}

/** One source's entries (added or modified), its deletions, and what its walk left out. */
export interface Collected {
  source: MergeSource;
  entries: FileEntry[];
  deleted: string[];
  skipped: Skipped[];
}

/** Collects every source in order; throws {@link MergeLimitError} as soon as a limit is passed. */
export async function collectWithin(sources: readonly MergeSource[], opts: { limits?: Partial<MergeLimits> }): Promise<Collected[]> {
  const limits = { ...DEFAULT_MERGE_LIMITS, ...opts.limits };
  const out: Collected[] = [];
  let files = 0;
  let bytes = 0;
  for (const source of sources) {
    const { entries, skipped } = source.changes ?? (await collectOutputs(source.dir, source.outputs));
    const deleted = source.changes?.deleted ?? [];
    files += entries.length;
    for (const e of entries) bytes += e.size;
    if (files > limits.maxFiles) throw new MergeLimitError(source.stream, 'maxFiles', files, limits.maxFiles);
    if (bytes > limits.maxBytes) throw new MergeLimitError(source.stream, 'maxBytes', bytes, limits.maxBytes);
    out.push({ source, entries, deleted, skipped });
  }
  return out;
}
