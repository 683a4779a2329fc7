/**
 * Everything that happens in a run is one of these events. One stream of them feeds
 * `events.jsonl`, the terminal reporters, `--json`, `coord status` and the tests: only
 * reporters print.
 */
/** How a convergence point merges (a plan's `type:`); defined here so that the event schema imports nothing. */
export type ConvergenceType = 'barrier' | 'progressive' | 'checkpoint';

/** Lifecycle of a stream (SPEC §5). `pending`: dependencies not met; `waiting`: ready, waiting for a slot or resources. */
export type StreamState = 'pending' | 'waiting' | 'running' | 'stalled' | 'recovering' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export type PointState = 'pending' | 'waiting' | 'merging' | 'done' | 'failed';
export type RunState = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

export const TERMINAL_STREAM_STATES: ReadonlySet<StreamState> = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);
/** States in which a stream's process may be running. */
export const LIVE_STREAM_STATES: ReadonlySet<StreamState> = new Set(['running', 'stalled', 'recovering']);
export const TERMINAL_RUN_STATES: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'cancelled', 'interrupted']);

/** Why a stream or point did not succeed, as a value (wireit's Failure habit). */
export type FailureReason =
  | 'exit-non-zero'
  | 'signal'
  | 'spawn-error'
  | 'timeout'
  | 'heartbeat-timeout'
  | 'dependency-failed'
  | 'cancelled'
  | 'conflict'
  | 'merge-error'
  | 'stream-failed'
  | 'point-timeout'
  /** A replica stopped because another replica of its `gather: first` group succeeded (or its `gather: vote` group was decided). */
  | 'superseded'
  /** A convergence point whose approval was rejected (or timed out). */
  | 'rejected'
  /** The replicas of a `gather: vote` group did not agree on one result. */
  | 'no-majority'
  /** A remote stream's worker was lost more often than `max_restarts` allows. */
  | 'worker-lost'
  /** A remote stream's outputs could not come back to the coordinator (over the archive limit, unreadable). */
  | 'outputs-error'
  /** A stream stopped because every convergence point it feeds had failed (its work could no longer be merged). */
  | 'point-failed'
  /** A stream stopped because its output could not be stored: the disk (or the quota) of its log file was full. */
  | 'disk-full'
  /** A stream stopped because its output could not be written to its log file for another reason (an I/O error). */
  | 'log-error'
  /** A merge that did not pass its point's check (`verify:`): the point failed, or the stream was found to break it and left out. */
  | 'verify-failed';

/** How one run of a point's check (`verify:`) ended. */
export type CheckOutcome = 'passed' | 'failed' | 'timed-out' | 'cancelled';

/** How a lock is held: shared (`read`) or exclusive (`write`). */
export type LockMode = 'read' | 'write';

/** What a lock does (src/locks/manager.ts), for `events.jsonl` (the CLI adds time, run and stream). */
export type LockEvent =
  | { type: 'lock-waiting'; path: string; owner: string; pid: number; mode: LockMode; holders: string[] }
  | { type: 'lock-granted'; path: string; owner: string; pid: number; mode: LockMode; token: number; waitMs: number; contended: boolean }
  | { type: 'lock-released'; path: string; owner: string; pid: number; mode: LockMode; token: number; heldMs: number }
  | { type: 'lock-timeout'; path: string; owner: string; pid: number; mode: LockMode; waitMs: number; holders: string[] }
  | { type: 'lock-lost'; path: string; owner: string; pid: number; mode: LockMode; token: number; reason: string }
  | { type: 'lock-reclaimed'; path: string; owner: string; pid: number; from: string; fromPid: number; why: 'process-gone' | 'lease-expired' }
  | { type: 'lock-deadlock'; path: string; owner: string; pid: number; mode: LockMode; cycle: string };

/** What made a state version. */
export type StateOp = 'set' | 'incr' | 'merge' | 'delete' | 'update' | 'rollback' | 'restore';

interface Base {
  /** ISO time the event happened. */
  time: string;
  run: string;
}
/** Who holds or waits for resource units: a request id (shared by grant and release), its owner. */
interface ResourceWho {
  request: number;
  /** A stream id, or `pid:<pid>` for a process outside any stream. */
  owner: string;
  stream?: string;
  pid?: number;
  kind: 'stream' | 'acquire';
}
/**
 * Why units were given back: `exited` (the stream's attempt ended), `released` (the acquired
 * command ended), `disconnected` (the requesting process went away), `stream-ended` (the stream
 * the request came from ended), `run-ended`.
 */
export type ResourceReleaseReason = 'exited' | 'released' | 'disconnected' | 'stream-ended' | 'run-ended';
interface StreamBase extends Base {
  stream: string;
  attempt: number;
}

export type CoordEvent =
  | (Base & { type: 'run-started'; plan: string; name: string; pid: number; concurrency: number; resumed?: boolean })
  /** `--resume`: what the new coordinator kept, took over and stopped of the dead one's run. */
  | (Base & {
      type: 'run-resumed';
      kept: string[];
      adopted: string[];
      stopped: string[];
      points: string[];
      /** Streams that had succeeded and run again because the plan or their base changed, and why. */
      rerun?: Array<{ stream: string; reason: string }>;
      /** Published points merged again, and why. */
      remerged?: Array<{ point: string; reason: string }>;
      /** `coord continue`: points published with the resolution of their conflicts. */
      resolved?: string[];
    })
  | (Base & { type: 'run-ended'; state: RunState; durationMs: number })
  | (StreamBase & { type: 'stream-registered'; capabilities: string[]; dependsOn: string[]; workspace: string })
  | (StreamBase & {
      type: 'stream-started';
      pid: number;
      procStartTime?: number | null;
      command: string | string[];
      workspace: string;
      worker?: string;
      host?: string;
    })
  | (StreamBase & { type: 'stream-exited'; exitCode: number | null; signal: string | null; durationMs: number })
  | (StreamBase & { type: 'stream-signalled'; signal: string; reason: string })
  | (StreamBase & { type: 'stream-retrying'; delayMs: number; reason: FailureReason })
  | (StreamBase & { type: 'stream-skipped'; reason: FailureReason; because: string })
  | (StreamBase & {
      type: 'stream-ended';
      state: StreamState;
      exitCode: number | null;
      reason?: FailureReason;
      /** The attempt ignored the soft signal and was ended by SIGKILL. */
      killed?: boolean;
      durationMs: number;
    })
  | (StreamBase & { type: 'stream-stalled'; lastHeartbeat: string | null; silentMs: number })
  /** `feedback:`: its point runs it again as attempt `attempt`, `file` saying what broke (its changes failed the check, or conflicted). */
  | (StreamBase & { type: 'stream-feedback'; point: string; because: 'verify' | 'conflict'; file: string })
  | (StreamBase & { type: 'stream-output'; fd: 'stdout' | 'stderr'; line: string })
  /** A heartbeat seen (at most one a second per stream), for live views; not written to events.jsonl. */
  | (StreamBase & { type: 'stream-beat'; progress: number | null; message: string | null })
  | (Base & { type: 'point-waiting'; point: string; pointType: ConvergenceType })
  | (Base & { type: 'point-merging'; point: string; streams: string[] })
  | (Base & { type: 'point-merged'; point: string; stream: string; files: number; skipped: number })
  | (Base & {
      type: 'point-conflict';
      point: string;
      stream?: string;
      /** Each conflicting path and only the streams that changed it. */
      conflicts: Array<{ path: string; streams: string[] }>;
      /** Where each side, the base and the text to resolve were written (`<run>/conflicts/<point>/`). */
      material?: string;
    })
  /** A checkpoint of a checkpoint point: the streams copied, and those left out because nothing changed since their last copy. */
  | (Base & { type: 'point-checkpoint'; point: string; checkpoint: number; streams: string[]; unchanged: string[]; removed: number[] })
  /** A check of a point (`verify:`) started: check `check` of the point, on the merge of `streams` (search round `round`; 0 is the first check). */
  | (Base & { type: 'point-verifying'; point: string; check: number; round: number; streams: string[]; log: string })
  /** It ended: `tries` runs (`verify_retries`), the last one's exit. */
  | (Base & {
      type: 'point-verified';
      point: string;
      check: number;
      round: number;
      streams: string[];
      outcome: CheckOutcome;
      exitCode: number | null;
      signal: string | null;
      tries: number;
      durationMs: number;
      log: string;
    })
  /** `resolve:`: the resolver runs on the merge's conflicts (`paths`), its output in `log`. */
  | (Base & { type: 'point-resolving'; point: string; paths: string[]; log: string })
  /** It ended: `resolved` (no markers left: its result is the merge), or `failed` (its exit, or the paths it left with markers). */
  | (Base & {
      type: 'point-resolved';
      point: string;
      outcome: 'resolved' | 'failed';
      paths: string[];
      unresolved: string[];
      exitCode: number | null;
      durationMs: number;
    })
  /** `on_verify_failure: exclude`: the streams found to break the check, left out of the merge, after `checks` checks in `rounds` rounds. */
  | (Base & { type: 'point-excluded'; point: string; excluded: string[]; checks: number; rounds: number })
  | (Base & { type: 'point-done'; point: string; merged: string[]; target: string })
  | (Base & { type: 'point-failed'; point: string; reason: FailureReason; message: string })
  | (Base & { type: 'warning'; message: string; stream?: string; point?: string })
  /** Resource pools: a `coord resource acquire` request that must wait (plan streams wait in state `waiting`). */
  | (Base & ResourceWho & { type: 'resource-waiting'; units: Record<string, number>; priority: number; holders: string[] })
  /** Units of the plan's pools granted to a plan stream (`kind: stream`) or a `coord resource acquire` (`kind: acquire`). */
  | (Base & ResourceWho & { type: 'resource-granted'; units: Record<string, number>; waitedMs: number })
  | (Base & ResourceWho & { type: 'resource-released'; units: Record<string, number>; heldMs: number; reason: ResourceReleaseReason })
  /** A request given up: not granted within its timeout (`holders`: who held the units), or its requester went away. */
  | (Base & ResourceWho & { type: 'resource-timeout'; units: Record<string, number>; waitedMs: number; holders: string[] })
  | (Base & ResourceWho & { type: 'resource-withdrawn'; units: Record<string, number>; waitedMs: number; reason: ResourceReleaseReason })
  /** Consensus (src/consensus/board.ts): a proposal opened, a vote, a final decision with every vote. */
  | (Base & {
      type: 'proposal-opened';
      proposal: string;
      kind: 'proposal' | 'approval' | 'gather';
      by: string | null;
      voters: string[];
      quorum: string;
      needed: number;
      timeoutMs: number | null;
      value?: unknown;
    })
  | (Base & {
      type: 'vote-cast';
      proposal: string;
      voter: string;
      vote: 'yes' | 'no';
      reason?: string;
      yes: number;
      no: number;
      needed: number;
      late?: boolean;
    })
  | (Base & {
      type: 'proposal-decided';
      proposal: string;
      kind: 'proposal' | 'approval' | 'gather';
      decision: 'accepted' | 'rejected';
      reason: 'quorum' | 'impossible' | 'timeout' | 'run-ended' | 'point-failed';
      yes: number;
      no: number;
      needed: number;
      votes: Array<{ voter: string; vote: 'yes' | 'no'; reason?: string }>;
    })
  /** The shared state (src/state/store.ts) got a new version: who made it, how, which dotted keys changed. */
  | (Base & { type: 'state-version'; version: number; stream?: string; op: StateOp; keys: string[] })
  /** The state was restored from a snapshot at resume (its newest versions were lost). */
  | (Base & { type: 'state-restored'; version: number; from: number })
  /** Queues (src/queue/queue.ts): a message sent, handed to a consumer, acknowledged, handed again after its ack timeout. */
  | (Base & { type: 'queue-sent'; topic: string; id: number; sender: string | null })
  | (Base & { type: 'queue-received'; topic: string; id: number; consumer: string; member: string; delivery: number })
  | (Base & { type: 'queue-acked'; topic: string; id: number; consumer: string; member: string })
  | (Base & { type: 'queue-redelivered'; topic: string; id: number; consumer: string; member: string; delivery: number; from: string })
  /** Written by `coord lock`, `write` and `append` run inside a stream (the stream is the owner). */
  | (Base & LockEvent & { stream?: string; attempt?: number });

export type CoordEventType = CoordEvent['type'];

/** Distributes an event without its `time`/`run`, which the emitter adds. */
export type EventInput = CoordEvent extends infer E ? (E extends CoordEvent ? Omit<E, 'time' | 'run'> : never) : never;
