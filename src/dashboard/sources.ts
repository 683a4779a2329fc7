/**
 * What the dashboard shows beyond `coord status --json`: the locks the run's streams hold or
 * wait for (from the lock registry, or the Redis server, as `coord locks` shows them), and the newest versions of
 * the shared state from its change log (src/state/store.ts).
 */
import type { Backend } from '../backend/types.js';
import type { ChangeEntry } from '../state/store.js';
import { loadSnapshot, type StatusSnapshot } from '../status/snapshot.js';
import { locksViewOf, type LocksView } from '../locks/view.js';
import { lockStoreOf } from '../locks/redis-store.js';

/** One lock with who holds it and who waits for it (SPEC §5). */
export type LockView = LocksView['locks'][number];

/** One version of the run's shared state, from its change log. */
export interface StateVersionView {
  version: number;
  stream: string | null;
  time: string | null;
  op: string;
  keys: string[];
}

/** The status snapshot plus locks and state versions: what `/api/status` serves. */
export interface DashboardStatus extends StatusSnapshot {
  locks: LockView[];
  stateVersions: StateVersionView[];
}

const MAX_VERSIONS = 200;

/** The run's snapshot with its locks and state versions; throws when the run is gone. */
export async function loadDashboardStatus(backend: Backend, runId: string): Promise<DashboardStatus> {
  const run = await backend.getRun(runId);
  if (!run) throw new Error(`run "${runId}" no longer exists`);
  const snap = await loadSnapshot(backend, run);
  return { ...snap, locks: await runLocks(backend, runId), stateVersions: await readStateVersions(backend, runId, snap.state.version) };
}

/** The locks of the run's streams: on the server for a Redis backend, else in this machine's registry. */
async function runLocks(backend: Backend, runId: string): Promise<LockView[]> {
  return locksViewOf(await lockStoreOf(backend).list(), { runId }).locks;
}

/** The newest 200 change-log entries up to `head`, oldest first. */
export async function readStateVersions(backend: Backend, runId: string, head: number): Promise<StateVersionView[]> {
  if (head === 0) return [];
  const entries = await backend.logRange<ChangeEntry>(runId, 'changes', Math.max(1, head - MAX_VERSIONS + 1));
  return entries.map(({ body: e }) => ({ version: e.version, stream: e.stream, time: e.time, op: e.op, keys: e.keys }));
}
