/**
 * One convergence point at run time.
 *
 *   pending ──first stream starts──> waiting ──(barrier: all succeeded)──> merging ──> done
 *                                     │  ▲         (progressive: each success)  │
 *                                     │  └──────────── more to merge ───────────┘
 *                                     └── a stream fails / timeout / conflict ──> failed
 *
 * barrier: all-or-nothing (the merge engine stages, then renames). progressive: each stream
 * is merged into the target as it succeeds; the point is done when all are. checkpoint:
 * every `checkpointIntervalMs` the running streams' workspaces are copied to
 * `converged/<point>/checkpoints/<n>/<stream>/`, and the final merge is all-or-nothing like a
 * barrier (staged, then put in place with the checkpoints moved into it).
 *
 * With `approve:` nothing is published before a quorum approves it: the merge (each stream
 * as it succeeds for a progressive point, all at once otherwise) is made in
 * `<run dir>/review/<point>/`, the approval proposal opens with that directory to review, and
 * the point stays `waiting` until the decision: accepted, the review directory is renamed to
 * the target and the point is done; rejected (or timed out), the point fails with reason
 * `rejected`, its dependents are skipped, and the review directory stays for inspection.
 */
import { existsSync, mkdirSync, renameSync, rmSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ConflictPolicy, PointSpec } from '../plan/types.js';
import type { PointRecord } from '../backend/types.js';
import type { EventInput, FailureReason } from '../events/types.js';
import { mergeAll, mergeOne, type ConflictRules, type MergeOptions, type MergeResult, type MergeSource } from '../workspace/merge.js';

/** A point's own final merge (git branches for worktree streams), replacing the file merge. */
export type FinalMerge = (target: string, streams: string[]) => Promise<MergeResult>;

export interface PointOptions {
  checkpointIntervalMs: number;
  /** Replaces the file merge (git branches of worktree streams). */
  finalMerge?: FinalMerge | undefined;
  /** The common ancestor directory of the point's streams (their `base`), for three-way merges. */
  base?: string | undefined;
  /** `approve:` — asks for the decision on the merge waiting in `review`; resolves when decided. */
  approve?: ((review: string) => Promise<ApprovalVerdict>) | undefined;
}

/** What the approval of a point came to. */
export interface ApprovalVerdict {
  accepted: boolean;
  message: string;
  /** The run ended (or stopped) before a decision. */
  runEnded: boolean;
}

export interface PointHost {
  emit(e: EventInput): void;
  save(rec: PointRecord): void;
  /** The merge source of a finished stream (its workspace and `outputs`). */
  sourceOf(streamId: string): MergeSource;
  /** Called once when the point reaches done or failed. */
  settled(point: PointRunner): void;
  /** Stream ids of this point that are running now (for checkpoints). */
  running(streams: string[]): string[];
}

export class PointRunner {
  readonly spec: PointSpec;
  readonly rec: PointRecord;
  private readonly host: PointHost;
  private readonly checkpointDir: string;
  private readonly checkpointIntervalMs: number;
  private chain: Promise<void> = Promise.resolve();
  /** Stream ids in the order they succeeded. */
  private readonly succeeded: string[] = [];
  /** The streams this point still waits for (a superseded replica is dropped). */
  private readonly expected: Set<string>;
  private finalQueued = false;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpoints = 0;

  private readonly finalMerge: FinalMerge | undefined;
  private readonly approve: PointOptions['approve'];
  /** Where an approval point's merge waits for its decision. */
  private readonly reviewDir: string;
  private publishQueued = false;
  /** The merge engine's policy and options for this point (per-path rules, three-way base). */
  private readonly policy: ConflictPolicy | ConflictRules;
  private readonly mergeOpts: MergeOptions;

  constructor(spec: PointSpec, runDir: string, host: PointHost, opts: PointOptions) {
    const { checkpointIntervalMs, finalMerge } = opts;
    this.finalMerge = finalMerge;
    this.approve = opts.approve;
    this.reviewDir = join(runDir, 'review', spec.name);
    this.policy = spec.conflictRules ?? spec.onConflict;
    this.mergeOpts = { ...(opts.base ? { base: opts.base } : {}), allowConflicts: spec.allowConflicts };
    this.spec = spec;
    this.host = host;
    this.checkpointDir = join(runDir, 'converged', spec.name, 'checkpoints');
    this.checkpointIntervalMs = checkpointIntervalMs;
    this.expected = new Set(spec.streams);
    this.rec = {
      name: spec.name,
      type: spec.type,
      state: 'pending',
      streams: [...spec.streams],
      merged: [],
      conflicts: [],
      reason: null,
      message: null,
      target: join(runDir, 'converged', spec.name),
    };
  }

  get isSettled(): boolean {
    return this.rec.state === 'done' || this.rec.state === 'failed';
  }

  /** Resolves when no merge is under way. */
  idle(): Promise<void> {
    return this.chain;
  }

  /**
   * `--resume`: takes the point's record from the dead coordinator's run. A published point
   * stays published; otherwise the streams that had succeeded count again, and those a
   * progressive point had merged are not merged twice.
   */
  restore(rec: PointRecord, succeeded: string[]): void {
    if (rec.state === 'done') {
      Object.assign(this.rec, { ...rec, merged: [...rec.merged], conflicts: [...rec.conflicts] });
      return;
    }
    const merged = this.spec.type === 'progressive' && !this.finalMerge ? rec.merged.filter((id) => this.expected.has(id)) : [];
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
    if (this.spec.timeoutMs !== undefined) {
      this.timeoutTimer = setTimeout(() => {
        this.fail('point-timeout', `not converged within ${this.spec.timeoutMs}ms`);
      }, this.spec.timeoutMs);
      this.timeoutTimer.unref();
    }
    if (this.spec.type === 'checkpoint' && this.checkpointIntervalMs > 0) {
      this.checkpointTimer = setInterval(() => this.enqueue(() => this.takeCheckpoint()), this.checkpointIntervalMs);
      this.checkpointTimer.unref();
    }
  }

  streamSucceeded(id: string): void {
    if (this.isSettled) return;
    this.succeeded.push(id);
    if (this.spec.type === 'progressive' && !this.finalMerge) this.enqueue(() => this.mergeProgressive(id));
    else this.maybeMergeFinal();
  }

  /** A stream the point no longer waits for (a replica superseded by another's success). */
  drop(id: string): void {
    if (this.isSettled || !this.expected.delete(id)) return;
    this.rec.streams = this.rec.streams.filter((s) => s !== id);
    if (this.spec.type !== 'progressive' || this.finalMerge) this.maybeMergeFinal();
    else this.enqueue(async () => this.completeIfAllMerged());
  }

  private maybeMergeFinal(): void {
    if (this.finalQueued || this.succeeded.filter((s) => this.expected.has(s)).length < this.expected.size) return;
    this.finalQueued = true;
    this.enqueue(() => this.mergeFinal());
  }

  private completeIfAllMerged(): void {
    if (this.isSettled || ![...this.expected].every((s) => this.rec.merged.includes(s))) return;
    if (!this.approve) return this.done();
    if (this.publishQueued) return;
    this.publishQueued = true;
    this.enqueue(() => this.publish(this.reviewDir));
  }

  /** Progressive merges go to the review directory while the point awaits approval. */
  private get progressiveTarget(): string {
    return this.approve ? this.reviewDir : this.rec.target;
  }

  /** Asks for approval of the merge in `review`; false (and the point failed) unless accepted. */
  private async approved(review: string): Promise<boolean> {
    if (!this.approve || this.isSettled) return !this.isSettled;
    this.rec.approval = { state: 'pending', review };
    this.setState('waiting');
    const verdict = await this.approve(review);
    if (this.isSettled) return false;
    this.rec.approval = { state: verdict.accepted ? 'accepted' : 'rejected', review };
    if (!verdict.accepted) {
      this.fail(verdict.runEnded ? 'cancelled' : 'rejected', verdict.message);
      return false;
    }
    return true;
  }

  /** Approval, then the reviewed merge takes the target's place. */
  private async publish(review: string): Promise<void> {
    mkdirSync(review, { recursive: true, mode: 0o700 }); // a merge of nothing may have made no directory
    if (!(await this.approved(review))) return;
    mkdirSync(dirname(this.rec.target), { recursive: true, mode: 0o700 });
    rmSync(this.rec.target, { recursive: true, force: true });
    renameSync(review, this.rec.target);
    this.done();
  }

  streamFailed(id: string, state: string): void {
    if (this.isSettled) return;
    this.fail('stream-failed', `stream "${id}" ${state}`);
  }

  /** The replicas of a `gather: vote` group of this point did not agree: the point fails. */
  groupFailed(message: string): void {
    if (this.isSettled) return;
    this.fail('no-majority', message);
  }

  /** The run is stopping: an unfinished point fails (nothing merged half-way). */
  cancel(): void {
    if (!this.isSettled) this.fail('cancelled', 'the run was stopped');
  }

  private enqueue(step: () => Promise<void>): void {
    this.chain = this.chain.then(step).catch((e: unknown) => {
      this.fail('merge-error', e instanceof Error ? e.message : String(e));
    });
  }

  private async mergeProgressive(id: string): Promise<void> {
    if (this.isSettled) return;
    this.setState('merging');
    this.host.emit({ type: 'point-merging', point: this.spec.name, streams: [id] });
    const result = await mergeOne(this.progressiveTarget, this.host.sourceOf(id), this.policy, this.mergeOpts);
    if (!this.absorb(result, id)) return;
    this.completeIfAllMerged();
    if (!this.isSettled) this.setState('waiting');
  }

  private async mergeFinal(): Promise<void> {
    if (this.isSettled) return;
    this.setState('merging');
    this.host.emit({ type: 'point-merging', point: this.spec.name, streams: [...this.succeeded] });
    const ids = this.succeeded.filter((id) => this.expected.has(id));
    const into = this.approve ? this.reviewDir : this.rec.target;
    if (this.approve) rmSync(this.reviewDir, { recursive: true, force: true });
    if (this.finalMerge) {
      if (!this.absorb(await this.finalMerge(into, ids))) return;
      if (this.approve) await this.publish(into);
      else this.done();
      return;
    }
    const sources = ids.map((id) => this.host.sourceOf(id));
    if (this.spec.type !== 'checkpoint' || !existsSync(this.rec.target)) {
      const result = await mergeAll(into, sources, this.policy, this.mergeOpts);
      if (!this.absorb(result)) return;
      if (this.approve) await this.publish(into);
      else this.done();
      return;
    }
    // A checkpoint point's target already holds checkpoints/: the final merge is staged
    // beside it, the checkpoints move into the stage, and the stage takes the target's place.
    const staged = join(dirname(this.rec.target), `.${this.spec.name}.final-${process.pid}-${Date.now()}`);
    const result = await mergeAll(staged, sources, this.policy, this.mergeOpts);
    if (!this.absorb(result)) return;
    if (existsSync(join(staged, 'checkpoints'))) {
      rmSync(staged, { recursive: true, force: true });
      this.fail('merge-error', 'a stream of a checkpoint point wrote checkpoints/, which the point keeps its checkpoints in');
      return;
    }
    if (!(await this.approved(staged))) return;
    renameSync(this.checkpointDir, join(staged, 'checkpoints'));
    rmdirSync(this.rec.target);
    renameSync(staged, this.rec.target);
    this.done();
  }

  /** Records a merge result; false (and the point failed) on conflicts. */
  private absorb(result: MergeResult, stream?: string): boolean {
    if (this.isSettled) return false;
    for (const s of result.skipped) {
      this.host.emit({
        type: 'warning',
        point: this.spec.name,
        stream: s.stream,
        message: `not merged: ${s.rel} (${s.reason})`,
      });
    }
    if (result.markers.length > 0) {
      this.host.emit({ type: 'warning', point: this.spec.name, message: `three-way conflicts left with markers in: ${result.markers.join(', ')}` });
    }
    if (result.conflicts.length > 0) {
      this.rec.conflicts.push(...result.conflicts.map((c) => c.path));
      this.host.emit({
        type: 'point-conflict',
        point: this.spec.name,
        ...(stream ? { stream } : {}),
        conflicts: result.conflicts,
      });
    }
    if (!result.ok) {
      const paths = result.conflicts.map((c) => `${c.path} (${c.streams.join(', ')})`).join('; ');
      this.fail('conflict', `conflicting outputs: ${paths}`);
      return false;
    }
    for (const id of result.merged) {
      this.rec.merged.push(id);
      this.host.emit({ type: 'point-merged', point: this.spec.name, stream: id, files: result.files, skipped: result.skipped.length });
    }
    return true;
  }

  private async takeCheckpoint(): Promise<void> {
    if (this.isSettled) return;
    const running = this.host.running(this.spec.streams);
    if (running.length === 0) return;
    this.checkpoints += 1;
    const dir = join(this.checkpointDir, String(this.checkpoints));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const id of running) {
      // Each stream's copy is staged and renamed into place, so a checkpoint is whole or absent.
      await mergeAll(join(dir, id), [this.host.sourceOf(id)], 'fail');
    }
  }

  private done(): void {
    this.stopTimers();
    this.setState('done');
    this.host.emit({ type: 'point-done', point: this.spec.name, merged: [...this.rec.merged], target: this.rec.target });
    this.host.settled(this);
  }

  private fail(reason: FailureReason, message: string): void {
    if (this.isSettled) return;
    this.stopTimers();
    this.rec.reason = reason;
    this.rec.message = message;
    this.setState('failed');
    this.host.emit({ type: 'point-failed', point: this.spec.name, reason, message });
    this.host.settled(this);
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
