/**
 * The validated, normalized plan: every default filled in, every duration in milliseconds,
 * every path absolute. Produced by `parsePlan`/`loadPlanFile` (src/plan/load.ts) from the YAML
 * of SPEC §2; consumed by the graph, the orchestrator and the reporters.
 */

import type { ConvergenceType } from '../events/types.js';

/** Defined with the event schema (src/events/types.ts), which imports nothing. */
export type { ConvergenceType };
export type WorkspaceMode = 'isolated' | 'shared' | 'hybrid' | 'worktree';
export type FileAccess = 'exclusive_write' | 'shared_read' | 'atomic';
export type StateType = 'immutable' | 'centralized' | 'message_queue';
export type Protocol = 'registration' | 'heartbeat' | 'negotiation' | 'consensus';
export type ConflictPolicy = 'fail' | 'first' | 'last' | 'keep-both' | 'three-way';
export type HeartbeatSource = 'file' | 'output' | 'any';

export const CONVERGENCE_TYPES: readonly ConvergenceType[] = ['barrier', 'progressive', 'checkpoint'];
export const WORKSPACE_MODES: readonly WorkspaceMode[] = ['isolated', 'shared', 'hybrid', 'worktree'];
/**
 * How the replicas of a scattered stream are gathered: `first` success (the rest stopped),
 * `all` merged, or `vote`: the result (the replicas' outputs) a majority of them agree on.
 */
export type GatherMode = 'first' | 'all' | 'vote';
export const GATHER_MODES: readonly GatherMode[] = ['first', 'all', 'vote'];
export const FILE_ACCESS: readonly FileAccess[] = ['exclusive_write', 'shared_read', 'atomic'];
export const STATE_TYPES: readonly StateType[] = ['immutable', 'centralized', 'message_queue'];
export const PROTOCOLS: readonly Protocol[] = ['registration', 'heartbeat', 'negotiation', 'consensus'];
export const CONFLICT_POLICIES: readonly ConflictPolicy[] = ['fail', 'first', 'last', 'keep-both', 'three-way'];
export const HEARTBEAT_SOURCES: readonly HeartbeatSource[] = ['file', 'output', 'any'];
/** Signals soft recovery may send (SIGKILL is hard recovery's). */
export const SOFT_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
export type SoftSignal = (typeof SOFT_SIGNALS)[number];

/** `depends_on: capability:NAME` waits for every stream that registered capability NAME. */
export const CAPABILITY_PREFIX = 'capability:';

/** Names coord stores things under (runs, topics, consumers, pools, proposals…): safe as a single path component. */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/**
 * Stream ids and convergence point names (plan streams, point names, `coord spawn --id`):
 * an ID_PATTERN name without `..` anywhere, as docs/plan.md says. They also name git branches
 * (`coord/<run>/<id>` of worktree streams), which git refuses with `..` in them, and glob and
 * path patterns built from them should never hold `..`.
 */
export const STREAM_ID_PATTERN = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Where a value stood in the plan file (1-based). */
export interface SourcePos {
  line: number;
  col: number;
}

export interface StreamSpec {
  id: string;
  /** A string runs through `sh -c`; an array runs without a shell. */
  command: string | string[];
  /** Stream ids or convergence point names this stream waits for. */
  dependsOn: string[];
  capabilities: string[];
  /** Capabilities a worker must offer to take this stream (`coord run --workers`). */
  requires?: string[];
  /** Units of `plan.resources` pools this stream holds while it runs. */
  resources: Record<string, number>;
  /** Globs (relative to the workspace) of what the stream contributes at convergence; empty = everything. */
  outputs: string[];
  /** An explicit workspace directory (absolute); otherwise `<workspaceRoot>/<run>/<id>`. */
  workspace?: string;
  /** A directory (absolute) whose contents seed the fresh workspace (SPEC §2 "seeded from `base:`"). */
  base?: string;
  /** The stream's workspace mode (its own `isolation:` or the plan default). */
  isolation: WorkspaceMode;
  /** The convergence type this stream asks for (informational unless a point leaves `type` out). */
  convergence?: ConvergenceType;
  /** Wall-clock limit of one attempt, in ms. */
  timeoutMs?: number;
  /** Extra attempts after a non-zero exit. */
  retries: number;
  /** Extra environment variables. */
  env: Record<string, string>;
  /** A guardian restart is seeded from the stream's last checkpoint. */
  resumeFrom?: 'checkpoint';
  /** The stream this one was expanded from by `for_each` or `replicas` (its group). */
  group?: string;
  /**
   * Higher starts first among ready streams, and its `coord resource acquire` requests are
   * served first; equal priorities in the order they became ready (default 0).
   */
  priority: number;
  pos?: SourcePos;
}

/**
 * Streams expanded from one plan entry by `for_each` (mode `all`: every member must succeed)
 * or `replicas` (with `gather`). The entry's id names the group in `depends_on` and in points.
 */
export interface StreamGroup {
  id: string;
  members: string[];
  gather: GatherMode;
}

/** Per-path conflict policies: the first glob matching a conflicting path decides. */
export interface ConflictRules {
  default: ConflictPolicy;
  paths: Array<{ glob: string; policy: ConflictPolicy }>;
}

/** What a point does when its check fails: fail, or find and leave out the streams that broke it. */
export type VerifyFailureMode = 'fail' | 'exclude';
export const VERIFY_FAILURE_MODES: readonly VerifyFailureMode[] = ['fail', 'exclude'];

/** `verify:` of a convergence point and its options. */
export interface VerifySpec {
  /** A string runs through `sh -c`; a list runs without a shell. */
  command: string | string[];
  /** A check running longer is stopped and counts as failed. */
  timeoutMs: number;
  /** A failing check is run again up to this many times (it passes when one run passes). */
  retries: number;
  onFailure: VerifyFailureMode;
  /** `exclude`: the most checks the culprit search may run. */
  maxRuns: number;
}

export interface PointSpec {
  name: string;
  type: ConvergenceType;
  streams: string[];
  /** The point fails when its streams have not all been merged this long after the first one started. */
  timeoutMs?: number;
  onConflict: ConflictPolicy;
  /** Per-path policies (`on_conflict: {default, paths}`); `onConflict` is their default. */
  conflictRules?: ConflictRules;
  /** three-way: publish a merge with conflict markers instead of failing. */
  allowConflicts: boolean;
  /**
   * A failed stream does not stop the point's other streams: every stream's outputs (failed
   * ones included) are merged and published, and the point still ends failed (CI shards).
   */
  keepGoing: boolean;
  /** checkpoint points: how many numbered checkpoints are kept. */
  checkpointKeep: number;
  /** The merge is published only once a quorum of voters approves it (see src/consensus/). */
  approve?: ApprovalSpec;
  /** The check the merge must pass before it is published. */
  verify?: VerifySpec;
  /** `feedback: N`: a culprit (or a stream party to a conflict) runs again with what broke, up to N times. */
  feedback?: number;
  /** `resolve:`: the command run on a merge that conflicts; its result is the merge when it leaves no markers. */
  resolve?: { command: string | string[]; timeoutMs: number };
  pos?: SourcePos;
}

/** `approve:` of a convergence point. */
export interface ApprovalSpec {
  /** As written: `majority`, `all`, a number of yes-votes or a percentage (src/consensus/tally.ts). */
  quorum: string;
  /** Voter names: `voters:`, else the point's streams. */
  voters: string[];
  /** The proposal is rejected when undecided this long after it opened. */
  timeoutMs?: number;
}

export interface GuardianSpec {
  autoInvoke: boolean;
  /** Between soft (SIGTERM) and hard (SIGKILL) recovery, and on every stop. */
  graceMs: number;
  maxRestarts: number;
  /** The signal of soft recovery (default SIGTERM). */
  soft: SoftSignal;
  /** Run on a stall with the stream's context in its environment. */
  command: string | string[] | null;
}

export interface Plan {
  version: 1;
  name: string;
  /** Absolute path of the plan file ('' when built in memory). */
  file: string;
  /** The plan's directory: relative paths in the plan resolve against it. */
  dir: string;
  /** The plan text as read (kept in the run directory). */
  text: string;
  coordination: {
    convergenceType: ConvergenceType;
    isolation: { workspace: WorkspaceMode; fileAccess: FileAccess };
    stateManagement: { type: StateType };
    protocols: Protocol[];
  };
  workspaceRoot: string;
  points: PointSpec[];
  stateManagement: { manager: StateType; checkpointIntervalMs: number; keepVersions: number; durable: boolean };
  heartbeat: { intervalMs: number; timeoutMs: number; source: HeartbeatSource };
  guardian: GuardianSpec;
  resources: Record<string, number>;
  streams: StreamSpec[];
  /** Groups made by `for_each` and `replicas`, by the id written in the plan. */
  groups: Record<string, StreamGroup>;
}

/** Defaults of every optional plan field; the plan reference (docs/plan.md) lists the same values. */
export const DEFAULTS = {
  name: 'plan',
  convergenceType: 'progressive' as ConvergenceType,
  workspace: 'isolated' as WorkspaceMode,
  fileAccess: 'exclusive_write' as FileAccess,
  stateType: 'centralized' as StateType,
  protocols: ['registration', 'heartbeat', 'negotiation', 'consensus'] as Protocol[],
  workspaceRoot: '/tmp/streams',
  onConflict: 'fail' as ConflictPolicy,
  checkpointIntervalMs: 300_000,
  checkpointKeep: 10,
  keepVersions: 100,
  stateDurable: false,
  heartbeatIntervalMs: 60_000,
  heartbeatTimeoutMs: 600_000,
  heartbeatSource: 'any' as HeartbeatSource,
  guardianAutoInvoke: true,
  guardianGraceMs: 10_000,
  guardianMaxRestarts: 1,
  guardianSoft: 'SIGTERM' as SoftSignal,
  retries: 0,
  priority: 0,
  quorum: 'majority',
  verifyTimeoutMs: 1_800_000,
  verifyRetries: 0,
  verifyOnFailure: 'fail' as VerifyFailureMode,
  verifyMaxRuns: 50,
} as const;
