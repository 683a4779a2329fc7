/** What a convergence point (convergence.ts) is given: its options and its host, the run. */
import type { PointRecord } from '../backend/types.js';
import type { PointSpec } from '../plan/types.js';
import type { PointFailure, VerifyFailed } from '../core/failures.js';
import type { Spawner } from '../supervise/spawner.js';
import type { EventInput } from '../events/types.js';
import type { BaseTree } from '../workspace/basetree.js';
import type { MergeResult, MergeSource } from '../merge/merge.js';

/** A point's own final merge (git branches for worktree streams), replacing the file merge. */
export type FinalMerge = (target: string, streams: string[]) => Promise<MergeResult>;

export interface PointOptions {
  checkpointIntervalMs: number;
  /** Replaces the file merge (git branches of worktree streams). */
  finalMerge?: FinalMerge | undefined;
  /** With `finalMerge`: the same merge into a check's tree, leaving the point's own branch alone. */
  checkMerge?: FinalMerge | undefined;
  /** The base the point's streams were seeded from, when they have one (taken when first asked for). */
  baseTree?: (() => Promise<BaseTree | undefined>) | undefined;
  /** `approve:` — asks for the decision on the merge waiting in `review`; resolves when decided. */
  approve?: ((review: string) => Promise<ApprovalVerdict>) | undefined;
  /** The run's id (named in the conflict material). */
  runId: string;
  /** What the point merges as (rerun.ts): a resume with another one merges again. */
  fingerprint?: string;
  /** `verify:` points: what their checks need of the run. */
  checks?: CheckContext | undefined;
}

/** What a point's checks (`verify:`) need of the run. */
export interface CheckContext {
  spawner: Spawner;
  /** The environment of a check: the run's, with `COORD_POINT` and `COORD_MERGED` (its tree). */
  env(tree: string, streams: readonly string[]): NodeJS.ProcessEnv;
  /** How long a stopped check has between SIGTERM and SIGKILL (the guardian's grace). */
  graceMs: number;
  /** Checks at once during a culprit search (the run's `--concurrency`). */
  parallel: number;
}

/** What the approval of a point came to. */
export interface ApprovalVerdict {
  accepted: boolean;
  message: string;
  /** The run ended (or stopped) before a decision. */
  runEnded: boolean;
}

/** A point as it settled: its plan entry and its record (done or failed). */
export interface SettledPoint {
  readonly spec: PointSpec;
  readonly rec: PointRecord;
  /** Why it failed, with that reason's data (undefined when done). */
  readonly failure: PointFailure | undefined;
}

/** What a point's parts (its approval, its checks) do to the point they serve (point-runner.ts). */
export interface PointSide {
  readonly rec: PointRecord;
  settled(): boolean;
  setState(state: PointRecord['state']): void;
  fail(failure: PointFailure, message: string): void;
  done(): void;
  /** Records a merge result; false (and the point failed) on conflicts. */
  absorb(result: MergeResult): boolean;
  /** The point no longer waits for this stream (its check left it out). */
  forget(stream: string): void;
  /** These streams run again with feedback: the point waits for them before it merges again. */
  again(streams: readonly string[]): void;
  /** The final merge of `streams` conflicted: the resolver's turn (`resolve:`), else the point fails. */
  conflicted(result: MergeResult, streams: string[]): Promise<void>;
}

export interface PointHost {
  emit(e: EventInput): void;
  save(rec: PointRecord): void;
  /** The merge source of a finished stream: its change set against its base (or its workspace and `outputs`). */
  sourceOf(streamId: string): Promise<MergeSource>;
  /** A stream's workspace and `outputs` as they are (what a checkpoint copies). */
  workspaceOf(streamId: string): MergeSource;
  /** Called once when the point reaches done or failed. */
  settled(point: SettledPoint): void;
  /** Stream ids of this point that are running now (for checkpoints). */
  running(streams: string[]): string[];
  /**
   * `feedback:`: the stream runs again as its next attempt with `text` in the file
   * `COORD_FEEDBACK` names; false when it cannot (it is not `succeeded`).
   */
  feedback(stream: string, because: 'verify' | 'conflict', text: string): boolean;
  /** `on_verify_failure: exclude`: streams the check found to break the merge end `failed` (`verify-failed`). */
  excluded(streams: readonly string[], failure: VerifyFailed): void;
}
