/**
 * Finding the streams that broke a point's check (`on_verify_failure: exclude`), by splitting
 * the failed set the way a merge queue splits a failed batch (Mergify, "When a Batch Fails").
 *
 * The items are the point's streams in merge order, and the check of all of them failed. The
 * candidates (at first: all) are cut into up to P+1 parts (P: checks at a time), and the
 * prefixes `accepted + c1`, `accepted + c1..c2`, …, `accepted + c1..c(k-1)` are checked at
 * once; the last part is never checked alone, since it already failed with the others.
 *
 *   - the first failing prefix ends in the part holding a culprit: the parts before it are
 *     accepted, it is split again, and the parts after it go back to the rest;
 *   - when every prefix passes, the last part holds the culprit;
 *   - a failing part of one item is a culprit (named without being checked alone);
 *   - prefixes longer than a failing one are cancelled (their signal is aborted).
 *
 * Once a culprit is named, the rest is checked on top of what was accepted: passing, it is
 * accepted; failing, the search starts again among the rest. Two culprits are both found; a
 * pair that only breaks together names the later one. With one culprit among N items the
 * culprit is named in round 1 + ⌈log_(P+1) N⌉ at most (round 1 being the given failure),
 * after at most P·⌈log_(P+1) N⌉ runs, plus one run and round to check the rest when any is
 * left. The check is taken to be deterministic: retrying a flaky one is the caller's (it
 * wraps `check`).
 */

/** How one check of a round ended. */
export type CheckOutcome = 'pass' | 'fail' | 'cancelled';

/** One round of checks run at once, as reported to {@link SearchOptions.onRound}. */
export interface SearchRound {
  /** 1 is the given failure of all items; each later round counts on. */
  n: number;
  /** `initial`: the given failure; `split`: prefixes of the candidates' parts; `rest`: what is left after a culprit, on top of what was accepted. */
  kind: 'initial' | 'split' | 'rest';
  /** The items under test cut into parts (`rest`, `initial`: one part). */
  parts: string[][];
  /** What each check of the round checked (what was accepted before the round included). */
  sets: string[][];
  results: CheckOutcome[];
  /** The culprit this round named, if any. */
  culprit?: string;
}

/** Options of {@link findCulprits}. */
export interface SearchOptions {
  /** Checks at a time (P), at least 1. */
  parallel: number;
  /** Checks the search may start, the given failure not included; when reached, the search stops ({@link SearchResult.exhausted}). */
  maxRuns: number;
  /**
   * Checks the merge of `set` (items in merge order): true when it passed. `signal` is aborted
   * when the result is no longer needed; the check should then stop, and what it returns or
   * throws after that is ignored. Anything else it throws ends the search with that error.
   */
  check(set: string[], signal: AbortSignal): Promise<boolean>;
  /** Called after each round, the given failure (round 1) included. */
  onRound?(round: SearchRound): void;
  /** Aborts the whole search: running checks are cancelled and the search rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** What a search found. */
export interface SearchResult {
  /** The items named as culprits, in the order they were found. */
  culprits: string[];
  /** The items that passed together (merge order): what to publish when the search was not exhausted. */
  accepted: string[];
  /** Items the search could not decide on before `maxRuns` was reached ([] when not exhausted). */
  unresolved: string[];
  /** Checks started by the search (cancelled ones included; the given failure of all items not included). */
  runs: number;
  /** Of `runs`, those cancelled before they ended. */
  cancelled: number;
  /** Rounds of checks, counting the given failure of all items as round 1 and each check of the rest as one. */
  rounds: number;
  /** `maxRuns` was reached before every item was decided: the caller fails the point. */
  exhausted: boolean;
}

/** Cuts `xs` into `k` contiguous parts as even as possible (the longer ones first). */
export function splitParts<T>(xs: readonly T[], k: number): T[][] {
  const parts: T[][] = [];
  const small = Math.floor(xs.length / k);
  const longer = xs.length % k;
  for (let i = 0, at = 0; i < k; i++) {
    const n = small + (i < longer ? 1 : 0);
    parts.push(xs.slice(at, at + n));
    at += n;
  }
  return parts;
}

/** The search's running state: counts, checks still settling, the caller's options. */
class Search {
  runs = 0;
  cancelled = 0;
  rounds = 1;
  /** Every check started: all have settled before the search returns. */
  readonly started: Array<Promise<unknown>> = [];

  constructor(readonly opts: SearchOptions) {}

  get budget(): number {
    return this.opts.maxRuns - this.runs;
  }

  /**
   * Runs the checks of `sets` at once; resolves when the first failing one is known (every
   * one before it passed) or all passed. Checks after a failing one are cancelled.
   */
  round(sets: string[][]): Promise<CheckOutcome[]> {
    this.rounds++;
    const outer = this.opts.signal;
    const ctrls = sets.map(() => new AbortController());
    const results: Array<CheckOutcome | undefined> = sets.map(() => undefined);
    return new Promise<CheckOutcome[]>((resolve, reject) => {
      let done = false;
      const finish = (error?: unknown): void => {
        if (done) return;
        done = true;
        outer?.removeEventListener('abort', onOuterAbort);
        for (let i = 0; i < sets.length; i++) this.cancel(results, ctrls, i);
        if (error !== undefined) reject(error);
        else resolve(results.map((r) => r ?? 'cancelled'));
      };
      const decide = (): void => {
        for (const r of results) {
          if (r === undefined) return;
          if (r === 'fail') return finish();
        }
        finish();
      };
      const onOuterAbort = (): void => finish(outer?.reason ?? new Error('the search was aborted'));
      if (outer?.aborted === true) return onOuterAbort();
      outer?.addEventListener('abort', onOuterAbort);
      sets.forEach((set, i) => {
        const signal = (ctrls[i] as AbortController).signal;
        this.runs++;
        const run = (async () => this.opts.check(set, signal))().then(
          (ok) => {
            if (done || signal.aborted) return;
            results[i] = ok ? 'pass' : 'fail';
            if (!ok) for (let j = i + 1; j < sets.length; j++) this.cancel(results, ctrls, j);
            decide();
          },
          (e: unknown) => {
            if (done || signal.aborted) return;
            finish(e instanceof Error ? e : new Error(String(e)));
          },
        );
        this.started.push(run);
      });
    });
  }

  /** Cancels check `j` of a round if it is still running. */
  private cancel(results: Array<CheckOutcome | undefined>, ctrls: AbortController[], j: number): void {
    if (results[j] !== undefined) return;
    results[j] = 'cancelled';
    this.cancelled++;
    ctrls[j]?.abort();
  }
}

/**
 * Finds the culprits among `items` (merge order), whose check all together failed (that
 * check is given, not run again). See the module comment for the scheme and its bounds.
 * Resolves once every check it started has settled.
 */
export async function findCulprits(items: readonly string[], opts: SearchOptions): Promise<SearchResult> {
  if (!Number.isInteger(opts.parallel) || opts.parallel < 1) throw new Error(`parallel must be a whole number of at least 1 (got ${opts.parallel})`);
  if (!Number.isInteger(opts.maxRuns) || opts.maxRuns < 0) throw new Error(`maxRuns must be a whole number of at least 0 (got ${opts.maxRuns})`);
  const s = new Search(opts);
  const accepted: string[] = [];
  const culprits: string[] = [];
  let candidates = [...items];
  let rest: string[] = [];
  const emit = (round: Omit<SearchRound, 'n'>): void => opts.onRound?.({ n: s.rounds, ...round });
  const outcome = (exhausted: boolean): SearchResult => ({
    culprits,
    accepted,
    unresolved: exhausted ? [...candidates, ...rest] : [],
    runs: s.runs,
    cancelled: s.cancelled,
    rounds: s.rounds,
    exhausted,
  });
  emit({ kind: 'initial', parts: [[...items]], sets: [[...items]], results: ['fail'], ...(items.length === 1 ? { culprit: items[0] } : {}) });
  try {
    // invariant: accepted + candidates fails
    while (candidates.length > 0) {
      while (candidates.length > 1) {
        if (s.budget < 1) return outcome(true);
        const parts = splitParts(candidates, Math.min(opts.parallel + 1, s.budget + 1, candidates.length));
        const sets = parts.slice(0, -1).map((_, i) => [...accepted, ...parts.slice(0, i + 1).flat()]);
        const results = await s.round(sets);
        const f = results.indexOf('fail');
        const holding = f < 0 ? parts.length - 1 : f;
        accepted.push(...parts.slice(0, holding).flat());
        rest = [...parts.slice(holding + 1).flat(), ...rest];
        candidates = parts[holding] ?? [];
        emit({ kind: 'split', parts, sets, results, ...(candidates.length === 1 ? { culprit: candidates[0] } : {}) });
      }
      culprits.push(...candidates);
      candidates = [];
      if (rest.length === 0) break;
      if (s.budget < 1) return outcome(true);
      const set = [...accepted, ...rest];
      const results = await s.round([set]);
      const failed = results[0] === 'fail';
      emit({ kind: 'rest', parts: [[...rest]], sets: [set], results, ...(failed && rest.length === 1 ? { culprit: rest[0] } : {}) });
      if (failed) candidates = rest;
      else accepted.push(...rest);
      rest = [];
    }
    return outcome(false);
  } finally {
    await Promise.allSettled(s.started);
  }
}
