/**
 * One convergence point at run time.
 *
 *   pending ──first stream starts──> waiting ──(barrier: all succeeded)──> merging ──> done
 *                                     │  ▲         (progressive: each success)  │
 *                                     │  └──────────── more to merge ───────────┘
 *                                     └── a stream fails / timeout / conflict ──> failed
 *
 * What is merged is each stream's change set against its base (src/workspace/changes.ts): the
 * published `converged/<point>/` is the base plus the merged changes (or, without a base, what
 * the streams wrote). A failed point publishes nothing: a barrier never wrote its target, a
 * progressive point's partial merge is moved to `<run>/partial/<point>/`, and a conflict's
 * material (each side, the base, the text with markers) goes to `<run>/conflicts/<point>/`,
 * from where `coord continue` publishes the resolution. `keep_going:` is the exception: a
 * failed stream does not fail the point at once; every stream's outputs, failed ones
 * included, are merged and published, and then the point fails.
 *
 * barrier: all-or-nothing (the merge engine stages, then renames). progressive: each stream
 * is merged as it succeeds. checkpoint: the running streams' workspaces are copied every
 * `checkpointIntervalMs` (checkpoints.ts), then an all-or-nothing final merge. With `approve:`
 * nothing is published before a quorum approves it (point-approval.ts); with `verify:` before
 * it passes the point's check (point-verify.ts), a culprit it finds left out; `resolve:` runs a
 * resolver on a merge's conflicts (point-resolve.ts).
 */
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ConflictPolicy, PointSpec } from '../plan/types.js';
import type { PointRecord } from '../backend/types.js';
import type { NoMajority, PointFailure, RunStop } from '../core/failures.js';
import type { Resolution } from '../merge/conflicts.js';
import { mergeAll, mergeOne, MergedPaths, type ConflictRules, type MergeOptions, type MergeResult, type MergeSource } from '../merge/merge.js';
import { Checkpoints } from './checkpoints.js';
import { diskFullAt, isDiskFull } from '../util/disk-full.js';
import { loadChanges, pointChangesFile, resolutionSource, saveChanges, withoutResolved } from './point-changes.js';
import { afterConflict, conflictMessage, keptMessage, recordMerge, swapInCheckpoints, takeCheckpoint, withdrawPartial } from './point-merge.js';
import type { PointHost, PointOptions } from './point-types.js';
import { pointParts, type PointParts } from './point-verify.js';
import { initialRecord } from './point-record.js';

export type { ApprovalVerdict, FinalMerge, PointHost, PointOptions, SettledPoint } from './point-types.js';

export class PointRunner {
  readonly rec: PointRecord;
  /** Why the point failed, with that reason's data (once it has). */
  failure: PointFailure | undefined;
  private chain: Promise<void> = Promise.resolve();
  /** Stream ids in the order they ended and are to be merged (succeeded; failed ones too under keep_going). */
  private readonly succeeded: string[] = [];
  /** keep_going: the streams that failed, merged all the same. */
  private readonly failedStreams: string[] = [];
  /** The streams this point still waits for (a superseded replica is dropped). */
  private readonly expected: Set<string>;
  private finalQueued = false;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private readonly checkpoints: Checkpoints;
  /** Its parts (point-verify.ts): approval, checks, resolver, feedback, and what they see of it. */
  private readonly parts: PointParts;
  /** Calls the checks off when the point settles otherwise (the run stops, it times out). */
  private readonly checksOff = new AbortController();
  /** Where an approval point's merge waits for its decision. */
  private readonly reviewDir: string;
  private publishQueued = false;
  /** The merge engine's policy for this point (per-path rules). */
  private readonly policy: ConflictPolicy | ConflictRules;
  /** What the point's merges changed (progressive: judged against; every point: what `coord apply` takes home). */
  private readonly changed = new MergedPaths();
  /** `coord continue`: what stands at each conflicting path now. */
  private resolution: Resolution | undefined;
  /** The snapshot of the base the merges put changes onto (recorded with the change set). */
  private baseDir: string | undefined;

  constructor(
    readonly spec: PointSpec,
    private readonly runDir: string,
    private readonly host: PointHost,
    private readonly opts: PointOptions,
  ) {
    this.reviewDir = join(runDir, 'review', spec.name);
    this.policy = spec.conflictRules ?? spec.onConflict;
    this.expected = new Set(spec.streams);
    this.rec = initialRecord(spec, runDir, opts.fingerprint);
    this.checkpoints = new Checkpoints(join(this.rec.target, 'checkpoints'), spec.checkpointKeep);
    const side: PointParts['side'] = {
      spec,
      runId: opts.runId,
      conflictDir: this.conflictDir,
      emit: (e) => host.emit(e),
      rec: this.rec,
      settled: () => this.isSettled,
      setState: (state) => this.setState(state),
      fail: (f, m) => this.fail(f, m),
      done: () => this.done(),
      absorb: (result) => this.absorb(result),
      forget: (id) => this.expected.delete(id),
      conflicted: (result, ids) => this.conflicted(result, ids),
      again: (ids) => {
        for (const id of ids) if (this.succeeded.includes(id)) this.succeeded.splice(this.succeeded.indexOf(id), 1);
        this.finalQueued = false;
        this.setState('waiting');
      },
    };
    this.parts = pointParts(spec, side, runDir, host, opts, this.checksOff.signal, {
      policy: this.policy,
      allowConflicts: spec.allowConflicts,
      baseTree: async () => opts.baseTree?.(),
      sources: (ids: readonly string[], r: Resolution | undefined = this.resolution) => this.sourcesWith(ids, r),
      build: opts.checkMerge,
    });
  }

  get isSettled(): boolean {
    return this.rec.state === 'done' || this.rec.state === 'failed';
  }

  /** Where this point's conflict material goes (`coord continue` reads the resolution there). */
  get conflictDir(): string {
    return join(this.runDir, 'conflicts', this.spec.name);
  }
  /** Resolves when no merge is under way. */
  idle(): Promise<void> {
    return this.chain;
  }

  /**
   * `--resume`: takes the point's record from the dead coordinator's run. A published point
   * stays published; otherwise the streams that had succeeded count again, and those a
   * progressive point had merged are not merged twice (a failed point starts over: its
   * partial merge was withdrawn). With `resolution` (`coord continue`), what stands at each
   * conflicting path replaces what the streams had there.
   */
  restore(rec: PointRecord, succeeded: string[], resolution?: Resolution, again = false): void {
    if (rec.state === 'done' && !again) {
      Object.assign(this.rec, { ...rec, merged: [...rec.merged], conflicts: [...rec.conflicts] });
      return;
    }
    this.resolution = resolution;
    const carried = !again && this.spec.type === 'progressive' && !this.opts.finalMerge && rec.state !== 'failed' && existsSync(this.rec.target);
    const merged = carried ? rec.merged.filter((id) => this.expected.has(id)) : [];
    // (no record: later merges are judged as if nothing had been merged before)
    if (carried) loadChanges(pointChangesFile(this.runDir, this.spec.name), this.changed);
    else this.removeStale();
    this.rec.merged = [...merged];
    for (const id of succeeded) {
      if (merged.includes(id)) this.succeeded.push(id);
      else this.streamSucceeded(id);
    }
    if (merged.length > 0) this.enqueue(async () => this.completeIfAllMerged());
  }

  /** A stream of this point started: the point is active, its timeout and checkpoints begin. */
  streamStarted(): void {
    if (this.rec.state !== 'pending') return;
    this.setState('waiting');
    this.host.emit({ type: 'point-waiting', point: this.spec.name, pointType: this.spec.type });
    const limitMs = this.spec.timeoutMs;
    const timedOut = (): void => this.fail({ reason: 'point-timeout', point: this.spec.name, limitMs }, `not converged within ${limitMs}ms`);
    if (limitMs !== undefined) this.timeoutTimer = setTimeout(timedOut, limitMs).unref();
    if (this.spec.type === 'checkpoint' && this.opts.checkpointIntervalMs > 0) {
      const take = async (): Promise<void> => {
        if (!this.isSettled) await takeCheckpoint(this.spec.name, this.spec.streams, this.checkpoints, this.host);
      };
      this.checkpointTimer = setInterval(() => this.enqueue(take), this.opts.checkpointIntervalMs).unref();
    }
  }

  streamSucceeded(id: string): void {
    if (this.isSettled) return;
    this.succeeded.push(id);
    if (this.spec.type === 'progressive' && !this.opts.finalMerge) this.enqueue(() => this.mergeProgressive(id));
    else this.maybeMergeFinal();
  }

  /** A stream the point no longer waits for (a replica superseded by another's success). */
  drop(id: string): void {
    if (this.isSettled || !this.expected.delete(id)) return;
    this.rec.streams = this.rec.streams.filter((s) => s !== id);
    if (this.spec.type !== 'progressive' || this.opts.finalMerge) this.maybeMergeFinal();
    else this.enqueue(async () => this.completeIfAllMerged());
  }

  private maybeMergeFinal(): void {
    if (this.finalQueued || this.succeeded.filter((s) => this.expected.has(s)).length < this.expected.size) return;
    this.finalQueued = true;
    this.enqueue(() => this.mergeFinal());
  }

  private completeIfAllMerged(): void {
    if (this.isSettled || ![...this.expected].every((s) => this.rec.merged.includes(s))) return;
    if (this.failedStreams.length > 0) return this.failKept();
    if (!this.opts.approve) return this.done();
    if (this.publishQueued) return;
    this.publishQueued = true;
    this.enqueue(() => this.parts.approval.publish(this.reviewDir));
  }

  /** Progressive merges go to the review directory while the point awaits approval. */
  private get progressiveTarget(): string {
    return this.opts.approve ? this.reviewDir : this.rec.target;
  }

  streamFailed(id: string, state: string): void {
    if (this.isSettled) return;
    if (this.spec.keepGoing && this.expected.has(id) && !this.opts.finalMerge) {
      this.failedStreams.push(id);
      this.streamSucceeded(id); // merged like the others; the point fails once all are in
      return;
    }
    this.fail({ reason: 'stream-failed', streams: [id] }, `stream "${id}" ${state}`);
  }

  /** The replicas of a `gather: vote` group of this point did not agree: the point fails. */
  groupFailed(failure: NoMajority): void {
    if (this.isSettled) return;
    this.fail(failure, `the replicas of "${failure.group}" did not agree on a result`);
  }

  /** The run is stopping (for `stop`): an unfinished point fails (nothing merged half-way). */
  cancel(stop?: RunStop): void {
    if (!this.isSettled) this.fail({ reason: 'cancelled', stop }, 'the run was stopped');
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((e: unknown) => {
      // a full disk names where (Node's errors of write(2) name no file)
      const err = isDiskFull(e) ? diskFullAt(e, (e as NodeJS.ErrnoException).path ?? this.rec.target) : e;
      const message = err instanceof Error ? err.message : String(err);
      this.fail({ reason: 'merge-error', message }, message);
    });
  }

  /** The merge options of this point: its base (taken once) and what its merges changed so far. */
  private async mergeOpts(): Promise<MergeOptions> {
    const baseTree = await this.opts.baseTree?.();
    this.baseDir = baseTree?.dir;
    return { ...(baseTree ? { baseTree } : {}), allowConflicts: this.spec.allowConflicts, prior: this.changed };
  }

  /** The sources of `ids` with `resolution` (if any) in place of what they had at its paths, last. */
  private async sourcesWith(ids: readonly string[], resolution: Resolution | undefined): Promise<MergeSource[]> {
    const all = await Promise.all(ids.map(async (id) => withoutResolved(await this.host.sourceOf(id), resolution)));
    return resolution === undefined ? all : [...all, resolutionSource(resolution, this.conflictDir)];
  }

  /** A final merge that conflicted: with `resolve:`, the resolver's turn, then the merge again (point-resolve.ts); else the point fails. */
  private async conflicted(result: MergeResult, ids: string[]): Promise<void> {
    if (!this.parts.resolver && this.parts.feedback.onConflict(this.parts.side, result, ids)) return;
    const resolution = this.parts.resolver ? await this.parts.resolver.resolve(result, ids) : void this.absorb(result);
    if (resolution === undefined || this.isSettled) return;
    this.resolution = resolution;
    await this.mergeFinal();
  }

  private async mergeProgressive(id: string): Promise<void> {
    if (this.isSettled) return;
    this.setState('merging');
    this.host.emit({ type: 'point-merging', point: this.spec.name, streams: [id] });
    // checked with what it merges onto first: a culprit is left out (the others merged before passed)
    const admitted = await this.verified([...this.rec.merged, id], this.rec.merged);
    if (admitted === undefined) return;
    if (!admitted.includes(id)) {
      // left out by the check: the point goes on without it
      this.completeIfAllMerged();
      if (!this.isSettled) this.setState('waiting');
      return;
    }
    const opts = await this.mergeOpts();
    const result = await mergeOne(this.progressiveTarget, withoutResolved(await this.host.sourceOf(id), this.resolution), this.policy, opts);
    if (!this.absorb(result, id)) return;
    if ([...this.expected].every((s) => this.rec.merged.includes(s))) {
      const res = this.resolution && resolutionSource(this.resolution, this.conflictDir);
      if (res !== undefined && !this.absorb(await mergeOne(this.progressiveTarget, res, 'last', opts))) return;
    }
    this.saveChanged();
    this.completeIfAllMerged();
    if (!this.isSettled) this.setState('waiting');
  }

  private async mergeFinal(): Promise<void> {
    if (this.isSettled) return;
    this.setState('merging');
    const all = this.succeeded.filter((id) => this.expected.has(id));
    this.host.emit({ type: 'point-merging', point: this.spec.name, streams: [...all] });
    const ids = await this.verified(all);
    if (ids === undefined) return;
    const into = this.opts.approve ? this.reviewDir : this.rec.target;
    if (this.opts.approve) rmSync(this.reviewDir, { recursive: true, force: true });
    if (this.opts.finalMerge) {
      if (!this.absorb(await this.opts.finalMerge(into, ids))) return;
      if (this.opts.approve) await this.parts.approval.publish(into);
      else this.done();
      return;
    }
    const sources = await this.sourcesWith(ids, this.resolution);
    const opts = await this.mergeOpts();
    if (this.spec.type !== 'checkpoint' || !existsSync(this.rec.target)) {
      if (!this.opts.approve) this.removeStale();
      const result = await mergeAll(into, sources, this.policy, opts);
      if (!result.ok) return this.conflicted(result, ids);
      if (!this.absorb(result)) return;
      this.saveChanged();
      if (this.failedStreams.length > 0) return this.failKept();
      if (this.opts.approve) await this.parts.approval.publish(into);
      else this.done();
      return;
    }
    // A checkpoint point's target already holds checkpoints/: the final merge is staged
    // beside it, the checkpoints move into the stage, and the stage takes the target's place.
    const staged = join(dirname(this.rec.target), `.${this.spec.name}.final-${process.pid}-${Date.now()}`);
    const result = await mergeAll(staged, sources, this.policy, opts);
    if (!result.ok) return this.conflicted(result, ids);
    if (!this.absorb(result)) return;
    if (existsSync(join(staged, 'checkpoints'))) {
      rmSync(staged, { recursive: true, force: true });
      const message = 'a stream of a checkpoint point wrote checkpoints/, which the point keeps its checkpoints in';
      this.fail({ reason: 'merge-error', message }, message);
      return;
    }
    if (this.failedStreams.length === 0 && !(await this.parts.approval.approved(staged))) return;
    swapInCheckpoints(staged, this.checkpoints.dir, this.rec.target);
    this.saveChanged();
    if (this.failedStreams.length > 0) return this.failKept();
    this.done();
  }

  /** `verify:`: what of the merge of `ids` passes the point's check (see point-verify.ts); undefined when the point failed instead. */
  private verified(ids: string[], known: string[] = []): Promise<string[] | undefined> {
    return this.parts.verifier ? this.parts.verifier.admit(ids, known) : Promise.resolve(ids);
  }

  /** Records a merge result; false (and the point failed, its conflicts written out) on conflicts. */
  private absorb(result: MergeResult, stream?: string): boolean {
    if (this.isSettled) return false;
    const failure = recordMerge(
      { spec: this.spec, rec: this.rec, runId: this.opts.runId, conflictDir: this.conflictDir, emit: (e) => this.host.emit(e) },
      result,
      stream,
    );
    if (failure === undefined) return true;
    this.fail(failure, conflictMessage(failure));
    return false;
  }

  /** keep_going: everything was merged and published, and the point fails for its failed streams. */
  private failKept(): void {
    this.fail({ reason: 'stream-failed', streams: [...this.failedStreams] }, keptMessage(this.failedStreams, this.rec.target), true);
  }

  private done(): void {
    this.stopTimers();
    this.setState('done');
    this.host.emit({ type: 'point-done', point: this.spec.name, merged: [...this.rec.merged], target: this.rec.target });
    this.host.settled(this);
  }

  /** The point fails with `failure` (told as `message`); unless `keep` (keep_going), what a progressive point published so far is withdrawn. */
  private fail(failure: PointFailure, message: string, keep = false): void {
    if (this.isSettled) return;
    this.stopTimers();
    this.checksOff.abort();
    this.failure = failure;
    this.rec.reason = failure.reason;
    this.rec.message =
      failure.reason === 'conflict'
        ? `${message}; ${afterConflict(this.opts.runId, this.spec.name, this.conflictDir, this.opts.finalMerge !== undefined)}`
        : message;
    // a failed point publishes nothing: a progressive point's partial merge moves to `<run>/partial/<point>/`
    if (!keep && this.spec.type === 'progressive' && !this.opts.finalMerge) withdrawPartial(this.rec.target, join(this.runDir, 'partial', this.spec.name));
    this.setState('failed');
    this.host.emit({ type: 'point-failed', point: this.spec.name, reason: failure.reason, message: this.rec.message });
    this.host.settled(this);
  }

  /** A merge target left by an earlier, unfinished attempt at this point never blocks a new one. */
  private removeStale(): void {
    if (this.spec.type === 'checkpoint') return; // its target holds the checkpoints
    rmSync(this.rec.target, { recursive: true, force: true });
  }

  /** The point's merged change set, kept for `--resume` and `coord apply`. */
  private saveChanged(): void {
    saveChanges(pointChangesFile(this.runDir, this.spec.name), this.baseDir, this.changed);
  }

  private stopTimers(): void {
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
  }

  private setState(state: PointRecord['state']): void {
    this.rec.state = state;
    this.host.save(this.rec);
  }
}
