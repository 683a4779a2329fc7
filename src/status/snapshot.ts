/**
 * The status of a run as `coord status --json` shows it (SPEC §5), read from the backend. A
 * run whose record says `running` but whose coordinator is gone is `interrupted`; its streams
 * that were running show as `cancelled` unless they still run: their process on this host, or
 * (Redis) their heartbeat key, kept by the worker or host that watches them. Heartbeat keys
 * also bring the last beat, progress and message when they are fresher than the records.
 */
import type {
  Backend,
  CheckRecord,
  DocVersion,
  LeaseStore,
  PointRecord,
  PoolRecord,
  RunRecord,
  StateSettings,
  StreamBeat,
  StreamRecord,
} from '../backend/types.js';
import type { ChangeEntry } from '../state/store.js';
import { queueSummary, type TopicSummary } from '../queue/queue.js';
import type { ProposalRecord } from '../consensus/board.js';
import { LIVE_STREAM_STATES, type RunState } from '../events/types.js';
import { sameProcess } from '../util/proc.js';
import { hostname } from 'node:os';
import { reconcileStreams } from './reconcile.js';

export interface StatusSnapshot {
  run: { id: string; plan: string; name: string; state: RunState; startedAt: string; endedAt: string | null; coordinatorPid: number };
  streams: Array<{
    id: string;
    state: StreamRecord['state'];
    pid: number | null;
    /** The `coord worker` of the last attempt (`coord run --workers`), else null. */
    worker: string | null;
    attempt: number;
    exitCode: number | null;
    reason: string | null;
    lastHeartbeat: string | null;
    progress: number | null;
    message: string | null;
    killed: boolean;
    workspace: string;
    /** The git branch of its worktree (`isolation: worktree`), else null. */
    branch: string | null;
    startedAt: string | null;
    endedAt: string | null;
    capabilities: string[];
    dependsOn: string[];
  }>;
  convergence: Array<{
    name: string;
    type: string;
    state: PointRecord['state'];
    merged: string[];
    conflicts: string[];
    /** Each conflicting path with only the streams that changed it. */
    conflictStreams: Array<{ path: string; streams: string[] }>;
    /** Where the conflicts wait to be resolved (then `coord continue`), or null. */
    conflictDir: string | null;
    reason: string | null;
    /** Why it failed, in words (null unless failed). */
    message: string | null;
    target: string;
    approval: 'pending' | 'accepted' | 'rejected' | null;
    /** `on_verify_failure: exclude`: the streams found to break its check, left out of the merge. */
    excluded: string[];
    /** `verify:` points: every check so far, in the order they started (running ones included). */
    checks: CheckRecord[];
  }>;
  /** Each pool; `holders` and `waiters` as its coordinator last recorded them (waiters in the order they are served). */
  resources: Array<{ name: string; capacity: number; inUse: number; holders: PoolRecord['holders']; waiters: PoolRecord['waiters'] }>;
  /** Proposals (coord propose, convergence point approvals, `gather: vote` groups). */
  proposals: Array<{
    name: string;
    kind: ProposalRecord['kind'];
    state: ProposalRecord['state'];
    yes: number;
    no: number;
    needed: number;
    voters: string[];
    reason: string | null;
  }>;
  /** The shared state: its model, current version, newest durable snapshot and last change. */
  state: { type: StateSettings['type']; version: number; snapshot: number; lastChange: { time: string; stream: string | null; op: string } | null };
  /** Queue topics: size, and each consumer's position, lag and unacknowledged messages. */
  queues: TopicSummary[];
}

/**
 * True when the coordinator recorded in `run` is still alive: on this host, by its process;
 * on another, by its lease on the backend (Redis), else it cannot be told and counts as alive.
 */
export async function coordinatorAlive(run: RunRecord, backend?: Partial<LeaseStore>): Promise<boolean> {
  if (run.coordinator.host === hostname()) return sameProcess(run.coordinator.pid, run.coordinator.startTime);
  return backend?.leaseHeld ? backend.leaseHeld(run.id) : true;
}

export async function loadSnapshot(backend: Backend, run: RunRecord): Promise<StatusSnapshot> {
  const dead = run.state === 'running' && !(await coordinatorAlive(run, backend));
  const [records, points, pools, proposals, stateHead, snapshot, queues] = await Promise.all([
    backend.listStreams(run.id),
    backend.listPoints(run.id),
    // a dead coordinator's pool records may be stale: use pools recomputed from the streams
    dead ? undefined : backend.getPools(run.id),
    backend.listProposals(run.id),
    backend.docRead(run.id, 'state') as Promise<DocVersion | undefined>,
    backend.logHead(run.id, 'snapshots'),
    queueSummary(backend, run.id),
  ]);
  const change = stateHead?.meta as ChangeEntry | undefined;
  // A live coordinator's records trail its event log by at most a batch; a dead one's may
  // have missed the last batch: bring them up to date from the log.
  const streams = run.state === 'running' ? reconcileStreams(records, (await backend.readEvents(run.id)).events) : records;
  const state: RunState = dead ? 'interrupted' : run.state;
  // heartbeat keys (Redis): fresher than the records, and kept by workers while the coordinator is gone
  const live = streams.filter((s) => LIVE_STREAM_STATES.has(s.state)).map((s) => s.id);
  const beats = backend.readBeats && live.length > 0 ? await backend.readBeats(run.id, live) : new Map<string, StreamBeat>();
  const here = run.coordinator.host === hostname();
  /** Whether a live-state stream of a dead coordinator still runs: its process on this host, else its heartbeat key. */
  const stillRuns = (s: StreamRecord): boolean => {
    const beat = beats.get(s.id);
    if (beat?.attempt === s.attempt && (beat.worker !== null || beat.host !== hostname())) return true;
    return here && !s.worker && s.pid !== null && sameProcess(s.pid, s.procStartTime);
  };
  const inUse = new Map<string, number>();
  for (const s of streams) {
    if (s.state !== 'running' && s.state !== 'stalled') continue;
    for (const [pool, n] of Object.entries(s.resources ?? {})) inUse.set(pool, (inUse.get(pool) ?? 0) + n);
  }
  return {
    run: { id: run.id, plan: run.plan, name: run.name, state, startedAt: run.startedAt, endedAt: run.endedAt, coordinatorPid: run.coordinator.pid },
    streams: streams.map((s) => {
      const beat = beats.get(s.id);
      const newer = beat?.attempt === s.attempt && beat.time !== null && (s.lastHeartbeat === null || beat.time > s.lastHeartbeat) ? beat : undefined;
      return {
        id: s.id,
        state: dead && LIVE_STREAM_STATES.has(s.state) && !stillRuns(s) ? 'cancelled' : s.state,
        pid: s.pid,
        worker: s.worker ?? null,
        attempt: s.attempt,
        exitCode: s.exitCode,
        reason: s.reason,
        lastHeartbeat: newer?.time ?? s.lastHeartbeat,
        progress: newer ? newer.progress : (s.progress ?? null),
        message: newer ? newer.message : (s.message ?? null),
        killed: s.killed ?? false,
        workspace: s.workspace,
        branch: s.branch ?? null,
        startedAt: s.startedAt,
        endedAt: s.endedAt,
        capabilities: s.capabilities,
        dependsOn: s.dependsOn,
      };
    }),
    convergence: points.map((p) => ({
      name: p.name,
      type: p.type,
      state: p.state,
      merged: p.merged,
      conflicts: p.conflicts,
      conflictStreams: p.conflictStreams ?? [],
      conflictDir: p.conflictDir ?? null,
      reason: p.reason,
      message: p.state === 'failed' ? p.message : null,
      target: p.target,
      approval: p.approval?.state ?? null,
      excluded: p.excluded ?? [],
      checks: p.checks ?? [],
    })),
    resources:
      pools?.map((p) => ({ name: p.name, capacity: p.capacity, inUse: p.inUse, holders: p.holders, waiters: p.waiters })) ??
      Object.entries(run.pools ?? {}).map(([name, capacity]) => ({ name, capacity, inUse: inUse.get(name) ?? 0, holders: [], waiters: [] })),
    proposals: proposals.map((p) => ({
      name: p.name,
      kind: p.kind,
      state: p.state,
      yes: p.yes,
      no: p.no,
      needed: p.needed,
      voters: p.voters,
      reason: p.reason,
    })),
    state: {
      type: run.sharedState?.type ?? 'centralized',
      version: stateHead?.version ?? 0,
      snapshot,
      lastChange: change ? { time: change.time, stream: change.stream, op: change.op } : null,
    },
    queues,
  };
}
