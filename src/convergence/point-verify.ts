/**
 * A point's check (`verify:`): no merge is published before it passes.
 *
 *   merge of the point's streams ──> check tree (src/verify/scratch.ts: the base hard-linked
 *   from the run's check pool, changed files copied) ──> the check (point-check.ts) ──> passed:
 *   publish │ failed, `on_verify_failure: fail`: the point fails (`verify-failed`)
 *           │ failed, `exclude`: the culprit search (src/verify/search.ts) ──> publish the rest
 *
 * The search splits the streams in merge order into parts and checks them at once, each on top
 * of the parts before it (Mergify's batch bisection: a failing part is split again, the last
 * part never checked alone), at most `--concurrency` checks at a time and `verify_max_runs`
 * checks in all. A culprit ends `failed` with reason `verify-failed`; the rest, checked
 * together, is what the point publishes.
 *
 * Every check is a record (`checks` of the point's record: what it checked, how it ended, its
 * log in `<run>/verify/<point>/check-<n>.log`, which `coord logs <point>:verify` prints) and two
 * events, `point-verifying` and `point-verified`.
 */
import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckRecord, PointRecord } from '../backend/types.js';
import type { CheckContext, PointHost, PointOptions, PointSide } from './point-types.js';
import type { MergingPoint } from './point-merge.js';
import { PointResolver } from './point-resolve.js';
import { PointFeedback } from './point-feedback.js';
import { PointApproval } from './point-approval.js';
import type { Resolution } from '../merge/conflicts.js';
import type { EventInput } from '../events/types.js';
import type { ConflictPolicy, PointSpec, VerifySpec } from '../plan/types.js';
import type { ConflictRules, MergeResult, MergeSource } from '../merge/merge.js';
import type { BaseTree } from '../workspace/basetree.js';
import { buildCheckTree, type CheckTree } from '../verify/scratch.js';
import { findCulprits } from '../verify/search.js';
import { commandText, logTail, runCheck, runPool } from './point-check.js';

/** A point's parts: its approval (`approve:`), feedback, verifier (`verify:`) and resolver (`resolve:`), and what they see of it. */
export interface PointParts {
  side: PointSide & MergingPoint;
  approval: PointApproval;
  feedback: PointFeedback;
  verifier: PointVerifier | undefined;
  resolver: PointResolver | undefined;
}

/** The parts of a point (the verifier and resolver when it has them and the run gave them what they need). */
export function pointParts(
  spec: PointSpec,
  side: PointSide & MergingPoint,
  runDir: string,
  host: PointHost,
  opts: Pick<PointOptions, 'checks' | 'approve'>,
  signal: AbortSignal,
  merge: VerifyMerge & { sources(streams: readonly string[], resolution?: Resolution): Promise<MergeSource[]> },
): PointParts {
  const feedback = new PointFeedback(spec, host, side.conflictDir);
  const parts: PointParts = { side, approval: new PointApproval(opts.approve, side), feedback, verifier: undefined, resolver: undefined };
  const ctx = opts.checks;
  if (!ctx) return parts;
  const emit = (e: EventInput): void => host.emit(e);
  const saved = (): void => host.save(side.rec);
  if (spec.verify) {
    const vhost = { ...ctx, emit, saved, excluded: host.excluded.bind(host), signal, feedback };
    parts.verifier = new PointVerifier({ ...spec, verify: spec.verify }, side, runDir, vhost, merge);
  }
  if (spec.resolve) {
    const rhost = { ctx, emit, saved, policy: merge.policy, baseTree: merge.baseTree, sources: merge.sources, signal };
    parts.resolver = new PointResolver({ ...spec, resolve: spec.resolve }, side, runDir, rhost);
  }
  return parts;
}

/** What a point's checks need of the run. */
interface VerifyHost extends CheckContext {
  emit(e: EventInput): void;
  /** The point's record changed (a check started or ended). */
  saved(): void;
  excluded: PointHost['excluded'];
  /** `feedback:`: culprits with feedback left run again instead of being left out. */
  feedback: PointFeedback;
  /** Calls every check off (the point settled otherwise: the run stops, its timeout). */
  signal: AbortSignal;
}

/** What the merge of a set of streams is made of (the point's policy and options). */
export interface VerifyMerge {
  policy: ConflictPolicy | ConflictRules;
  allowConflicts: boolean;
  /** The base the streams were seeded from (taken when first asked for). */
  baseTree: () => Promise<BaseTree | undefined>;
  /** The merge sources of these streams, in this order (a `coord continue` resolution last). */
  sources(streams: readonly string[]): Promise<MergeSource[]>;
  /**
   * A point's own merge (git worktree streams: their branches merged on the point's branch, the
   * merge commit's tree exported into `dir`), used instead of the file merge for check trees.
   */
  build?: ((dir: string, streams: string[]) => Promise<MergeResult>) | undefined;
}

/** What the check made of a merge. */
export type Verdict =
  /** Publish the merge of `publish`; `culprits` broke the check (found in `checks` checks, `rounds` rounds). */
  | { kind: 'passed'; publish: string[]; culprits: string[]; checks: number; rounds: number }
  /** The point fails with reason `verify-failed`. */
  | { kind: 'failed'; message: string }
  /** The merge itself did not go through (conflicts): the point fails as without a check. */
  | { kind: 'merge'; result: MergeResult };

export class PointVerifier {
  private readonly verify: VerifySpec;
  private readonly dir: string;

  private readonly rec: PointRecord;

  constructor(
    private readonly spec: PointSpec & { verify: VerifySpec },
    private readonly point: PointSide,
    runDir: string,
    private readonly host: VerifyHost,
    private readonly merge: VerifyMerge,
  ) {
    this.verify = spec.verify;
    this.rec = point.rec;
    this.dir = join(runDir, 'verify', spec.name);
    this.runDir = runDir;
  }

  private readonly runDir: string;
  /** Checks started so far. */
  private started = 0;
  /** Check trees, built one after the other. */
  private building: Promise<void> = Promise.resolve();

  /**
   * What of the merge of `ids` the point publishes: all of it when it passes the check; with
   * `exclude`, all but the culprits, who end `verify-failed` (the point stops waiting for them).
   * Undefined when the point failed instead (the check, or the merge's conflicts).
   */
  async admit(ids: string[], known: readonly string[] = []): Promise<string[] | undefined> {
    const v = await this.gate(ids, known);
    const { point } = this;
    if (point.settled()) return undefined;
    if (v.kind === 'merge') return void (await point.conflicted(v.result, ids));
    if (v.kind === 'failed') return void point.fail({ reason: 'verify-failed', point: this.spec.name, message: v.message }, v.message);
    if (v.culprits.length === 0) return v.publish;
    // with feedback left, a culprit runs again (and the point waits for it); the others are left out
    const again = this.host.feedback.culprits(v.culprits, this.rec.checks ?? [], this.verify.command);
    const out = v.culprits.filter((id) => !again.includes(id));
    for (const id of out) point.forget(id);
    if (out.length > 0) {
      this.rec.excluded = [...(this.rec.excluded ?? []), ...out];
      this.host.emit({ type: 'point-excluded', point: this.spec.name, excluded: out, checks: v.checks, rounds: v.rounds });
      const message = `its changes break the check of ${this.spec.name} (\`${commandText(this.verify.command)}\`; output: coord logs ${this.spec.name}:verify)`;
      this.host.excluded(out, { reason: 'verify-failed', point: this.spec.name, message });
    }
    if (again.length === 0) return v.publish;
    point.again(again);
    return undefined;
  }

  /**
   * Checks the merge of `streams` (in merge order). `known` of them (a progressive point's
   * earlier merges) passed before: with `exclude`, only the others can be culprits.
   */
  async gate(streams: readonly string[], known: readonly string[] = []): Promise<Verdict> {
    const first = await this.check([...streams], 0);
    if ('merge' in first) return { kind: 'merge', result: first.merge };
    if (first.passed) return { kind: 'passed', publish: [...streams], culprits: [], checks: 1, rounds: 1 };
    const broke = `${this.describeFailure(first.record)} on the merge of ${streams.length > 0 ? streams.join(', ') : 'the base alone'}`;
    if (this.verify.onFailure === 'fail') return { kind: 'failed', message: `${broke}${this.tail(first.record)}; output: coord logs ${this.spec.name}:verify` };
    const good = new Set(known);
    const candidates = streams.filter((s) => !good.has(s));
    if (candidates.length === 0) return { kind: 'failed', message: `${broke}, and no stream of it is new since the last check that passed` };
    // The search's rounds: its round 1 is the failure above (this point's round 0); a check started
    // after its round n ended is of its round n + 1, recorded as round n.
    let round = 0;
    const search = await findCulprits(candidates, {
      parallel: Math.max(1, this.host.parallel),
      maxRuns: this.verify.maxRuns,
      signal: this.host.signal,
      onRound: (r) => void (round = r.n),
      check: async (set, signal) => {
        const r = await this.check([...known, ...set], round, signal);
        // a part of a clean merge merges cleanly: a conflict here would be an error of the merge
        if ('merge' in r) throw new Error(`the merge of ${set.join(', ')} conflicts, though the merge of all did not`);
        return r.passed;
      },
    });
    // Every part failed from the first one on: the base (with what passed before) may be what
    // fails, in which case no stream is to blame.
    const implicatesBase = known.length === 0 && (search.exhausted || search.accepted.length === 0 || search.culprits.includes(candidates[0] ?? ''));
    if (implicatesBase) {
      const base = await this.check([], round);
      if (!('merge' in base) && !base.passed) {
        return {
          kind: 'failed',
          message: `${broke}, and it fails on the base alone, without any stream's changes: no stream is left out; output: coord logs ${this.spec.name}:verify`,
        };
      }
    }
    const checks = (this.rec.checks ?? []).length;
    if (search.exhausted) {
      return {
        kind: 'failed',
        message: `${broke}; the search for the streams that break it stopped after ${checks} checks (verify_max_runs: ${this.verify.maxRuns}) with ${search.culprits.length > 0 ? `${search.culprits.join(', ')} found` : 'none found'}; output: coord logs ${this.spec.name}:verify`,
      };
    }
    const culprits = new Set(search.culprits);
    return {
      kind: 'passed',
      publish: streams.filter((s) => !culprits.has(s)),
      culprits: [...culprits],
      checks,
      rounds: search.rounds + (implicatesBase ? 1 : 0),
    };
  }

  /** One check of the merge of `streams`: its tree built, the check run, the tree looked at and removed. */
  private async check(streams: string[], round: number, signal?: AbortSignal): Promise<{ merge: MergeResult } | { passed: boolean; record: CheckRecord }> {
    const checks = (this.rec.checks ??= []);
    // numbered as they start (checks of a search round start together)
    const n = ++this.started;
    const record: CheckRecord = {
      check: n,
      round,
      streams,
      outcome: 'running',
      exitCode: null,
      signal: null,
      tries: 0,
      startedAt: new Date().toISOString(),
      durationMs: null,
      log: join(this.dir, `check-${n}.log`),
    };
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tree = await this.tree(join(this.dir, `tree-${n}`), streams);
    if (!tree.result.ok) return { merge: tree.result };
    checks.push(record);
    this.host.emit({ type: 'point-verifying', point: this.spec.name, check: n, round, streams, log: record.log });
    this.host.saved();
    const both = signal ? AbortSignal.any([signal, this.host.signal]) : this.host.signal;
    let result: Awaited<ReturnType<typeof runCheck>>;
    try {
      result = await runCheck(this.host.spawner, {
        command: this.verify.command,
        tree: tree.dir,
        env: this.host.env(tree.dir, streams),
        log: record.log,
        timeoutMs: this.verify.timeoutMs,
        retries: this.verify.retries,
        graceMs: this.host.graceMs,
        signal: both,
      });
    } finally {
      const tampered = tree.tamperCheck();
      if (tampered.length > 0) {
        this.host.emit({
          type: 'warning',
          point: this.spec.name,
          message: `check ${n} wrote into ${tampered.length} base file${tampered.length > 1 ? 's' : ''} in place (${tampered.slice(0, 5).join(', ')}${tampered.length > 5 ? ', …' : ''}); the base was restored, the merge is unchanged`,
        });
      }
      // removed in the background: thousands of links take a while to unlink
      void rm(tree.dir, { recursive: true, force: true }).catch(() => undefined);
    }
    Object.assign(record, {
      outcome: result.outcome,
      exitCode: result.exitCode,
      signal: result.signal,
      tries: result.tries,
      durationMs: Math.round(result.durationMs),
    });
    this.host.emit({
      type: 'point-verified',
      point: this.spec.name,
      check: n,
      round,
      streams,
      outcome: result.outcome,
      exitCode: result.exitCode,
      signal: result.signal,
      tries: result.tries,
      durationMs: Math.round(result.durationMs),
      log: record.log,
    });
    this.host.saved();
    return { passed: result.outcome === 'passed', record };
  }

  /** The check tree of the merge of `streams` in `dir`: the file merge on the check pool, or the point's own merge (one at a time: it has one branch). */
  private async tree(dir: string, streams: string[]): Promise<Pick<CheckTree, 'dir' | 'result' | 'tamperCheck'>> {
    // Trees are built one after the other: a check starts as soon as its tree is there, while
    // the next tree is built (built all at once, every tree would be late).
    const made = this.building.then(() => this.build(dir, streams));
    this.building = made.then(
      () => undefined,
      () => undefined,
    );
    return made;
  }

  private async build(dir: string, streams: string[]): Promise<Pick<CheckTree, 'dir' | 'result' | 'tamperCheck'>> {
    const { build } = this.merge;
    if (build) return { dir, result: await build(dir, streams), tamperCheck: () => [] };
    const base = await this.merge.baseTree();
    return buildCheckTree(dir, await this.merge.sources(streams), this.merge.policy, {
      allowConflicts: this.merge.allowConflicts,
      ...(base ? { pool: runPool(this.runDir, base) } : {}),
    });
  }

  private describeFailure(r: CheckRecord): string {
    const how =
      r.outcome === 'timed-out' ? `timed out after ${this.verify.timeoutMs} ms` : r.signal ? `failed (signal ${r.signal})` : `failed (exit ${r.exitCode})`;
    return `check \`${commandText(this.verify.command)}\` ${how}${r.tries > 1 ? ` in each of ${r.tries} tries` : ''}`;
  }

  /** The end of a check's output, for a failure message. */
  private tail(r: CheckRecord): string {
    const t = logTail(r.log, 5).trim();
    return t ? `:\n${t}` : '';
  }
}
