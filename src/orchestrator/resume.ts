/**
 * Resuming a run whose coordinator died. Streams it left running are found by the pid and
 * start time their records hold: either stopped (their process group gets TERM, then KILL
 * after the grace) so they run again, or, with `--adopt`, watched to their end: their
 * launcher outlives the coordinator and records the exit in `exit-<attempt>.json`.
 */
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { PointRecord, StreamRecord } from '../backend/types.js';
import { reconcileStreams } from '../status/reconcile.js';
import { baseKey, changedSince, loadBaseTree } from '../workspace/basetree.js';
import type { Engine } from './engine.js';
import { decideRerun, type RerunDecision } from './rerun.js';
import type { ExitInfo, StreamProcess } from '../supervise/spawner.js';
import type { ExitRecord } from '../supervise/launcher-protocol.js';
import { LIVE_STREAM_STATES } from '../events/types.js';
import { commandLine, groupAlive, groupGone, parentOf, sameProcess, signalGroup } from '../util/proc.js';

const POLL_MS = 100;
/** How long a leftover gets to be gone after its SIGKILL (a process in uninterruptible sleep dies only when its I/O returns). */
const KILL_WAIT_MS = 5000;

/** True when the record's process is still the one the dead coordinator started. */
export function leftoverAlive(rec: StreamRecord): boolean {
  return LIVE_STREAM_STATES.has(rec.state) && rec.pid !== null && rec.pgid !== null && sameProcess(rec.pid, rec.procStartTime);
}

/** The exit file the launcher writes for an attempt (see launcher.ts). */
export function exitFileOf(logDir: string, attempt: number): string {
  return `${logDir}/exit-${attempt}.json`;
}

/** Stops a leftover stream's process group: TERM, then KILL after `graceMs`. */
export async function stopLeftover(rec: StreamRecord, graceMs: number): Promise<void> {
  const pgid = rec.pgid ?? 0;
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
  signalGroup(pgid, 'SIGKILL');
  await groupGone(pgid, KILL_WAIT_MS, 20);
}

/** A launcher process of a dead coordinator (see supervise/launcher.ts): its pid and start time. */
export interface LeftoverLauncher {
  pid: number;
  start: number | null;
}

/**
 * The launchers a dead coordinator left, found as the parents of its leftover streams'
 * leaders: each stays until the streams it started have ended (it records their exits), so
 * stopping leftovers ends with them. Taken before the streams are stopped (a stopped leader
 * no longer names its parent).
 */
export function leftoverLaunchers(recs: readonly StreamRecord[]): LeftoverLauncher[] {
  const found = new Map<number, LeftoverLauncher>();
  for (const rec of recs) {
    const parent = rec.pid ? parentOf(rec.pid) : null;
    if (parent && /supervise\/launcher\.js\b/.test(commandLine(parent.pid))) found.set(parent.pid, parent);
  }
  return [...found.values()];
}

/**
 * Waits, after its streams were stopped, for a leftover launcher to write their exits and go
 * (bounded by `graceMs`); one still there after that is killed, since nothing it started runs.
 */
export async function endLauncher(l: LeftoverLauncher, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (sameProcess(l.pid, l.start) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (!sameProcess(l.pid, l.start)) return;
  try {
    process.kill(l.pid, 'SIGKILL');
  } catch {
    return;
  }
  const killedBy = Date.now() + KILL_WAIT_MS;
  while (sameProcess(l.pid, l.start) && Date.now() < killedBy) await new Promise((r) => setTimeout(r, 20));
}

/**
 * A running stream of the dead coordinator, taken over: signals go to its group; its exit is
 * read from the exit file its launcher writes (or, with no launcher left to write it, the
 * end of its process group is an exit with an unknown code).
 */
export function adoptProcess(rec: StreamRecord, exitFile: string): StreamProcess {
  const pid = rec.pid ?? -1;
  const pgid = rec.pgid ?? pid;
  const exited = new Promise<ExitInfo>((resolve) => {
    let goneSince = 0;
    const timer = setInterval(() => {
      const recorded = readExit(exitFile);
      if (recorded) {
        clearInterval(timer);
        resolve({ exitCode: recorded.exitCode, signal: recorded.signal as NodeJS.Signals | null });
        return;
      }
      if (groupAlive(pgid)) return;
      // the group is gone: give the launcher a moment to write the exit file
      goneSince ||= Date.now();
      if (Date.now() - goneSince > 1000) {
        clearInterval(timer);
        resolve({ exitCode: null, signal: null, error: 'the adopted stream ended without a recorded exit status' });
      }
    }, POLL_MS);
  });
  return {
    pid,
    pgid,
    procStartTime: rec.procStartTime,
    exited,
    signal: (sig) => signalGroup(pgid, sig),
  };
}

function readExit(file: string): ExitRecord | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ExitRecord;
  } catch {
    return undefined;
  }
}

/** Takes over the run of a dead coordinator (`--resume`, `--adopt`). */
export class Resumer {
  constructor(private readonly e: Engine) {}

  /**
   * `--resume` with this plan: what runs and merges again although it had succeeded (see
   * rerun.ts). A base whose directory changed since the run's snapshot of it is taken again,
   * and every stream seeded from it starts over in a fresh workspace.
   */
  private async rerunDecision(records: ReadonlyMap<string, StreamRecord>, pointRecs: ReadonlyMap<string, PointRecord>): Promise<RerunDecision> {
    const { e } = this;
    const baseChanges = new Map<string, string[]>();
    for (const base of new Set(e.plan.streams.filter((s) => s.base && s.isolation !== 'worktree').map((s) => s.base ?? ''))) {
      const dir = join(e.runDir, 'bases', baseKey(base));
      const tree = loadBaseTree(dir);
      if (!tree) continue;
      const changed = await changedSince(tree, { exclude: [e.home, e.plan.workspaceRoot, e.runDir] });
      baseChanges.set(base, changed);
      if (changed.length > 0) renameSync(dir, `${dir}.replaced-${Date.now()}`);
    }
    const decision = decideRerun({
      streams: e.plan.streams,
      points: e.plan.points,
      groups: e.plan.groups ?? {},
      records,
      pointRecords: pointRecs,
      outputsOf: (id) => e.table.get(id)?.spec.outputs ?? [],
      baseChanges,
    });
    // a stream runs on a base taken again: it starts over in a fresh workspace
    for (const rt of e.table.all()) {
      const moved = rt.spec.base !== undefined && (baseChanges.get(rt.spec.base)?.length ?? 0) > 0;
      if (
        (moved || decision.streams.has(rt.spec.id)) &&
        !rt.paths.explicitWorkspace &&
        rt.spec.isolation !== 'worktree' &&
        rt.paths.workspace !== rt.paths.shared
      ) {
        rmSync(rt.paths.workspace, { recursive: true, force: true });
        rmSync(e.pointsHost.seedFile(rt.paths.workspace), { force: true });
      }
    }
    return decision;
  }

  /** Takes over the dead coordinator's records; returns the ids of streams kept or adopted. */
  async restore(adopt: boolean): Promise<Set<string>> {
    const { e } = this;
    const { events } = await e.backend.readEvents(e.runId);
    const records = new Map(reconcileStreams(await e.backend.listStreams(e.runId), events).map((r) => [r.id, r]));
    const pointRecs = new Map((await e.backend.listPoints(e.runId)).map((r) => [r.name, r]));
    const again = await this.rerunDecision(records, pointRecs);
    for (const id of records.keys()) {
      if (!e.table.get(id)) e.bus.emit({ type: 'warning', message: `stream "${id}" of run ${e.runId} is not in this plan: it is left as it was` });
    }
    const kept: string[] = [];
    const adopted: string[] = [];
    const stopped: string[] = [];
    for (const rt of e.table.all()) {
      const rec = records.get(rt.spec.id);
      if (!rec) continue;
      rt.rec.attempt = rec.attempt;
      if (rec.state === 'succeeded' && !again.streams.has(rt.spec.id)) {
        Object.assign(rt.rec, rec);
        e.table.moveTo(rt, { kind: 'succeeded' });
        rt.prepared = true;
        e.scheduler.pending.delete(rt);
        kept.push(rt.spec.id);
      } else if (rec.worker && LIVE_STREAM_STATES.has(rec.state)) {
        // an attempt on a worker: adopted or stopped through the workers' server
        const req = e.attempts.remoteRequest(rt, rec.attempt, e.attempts.launchRequest(rt, rec.attempt), new AbortController().signal);
        if (!e.dispatcher) {
          e.bus.emit({
            type: 'warning',
            stream: rt.spec.id,
            message: `attempt ${rec.attempt} ran on worker ${rec.worker}; without --workers it is neither adopted nor stopped from here (its worker stops it once this run's coordinator lease has run out)`,
          });
          continue;
        }
        const proc = adopt ? await e.dispatcher.adopt(req, rec.worker) : undefined;
        if (proc) {
          e.attempts.adopt(rt, rec, proc);
          adopted.push(rt.spec.id);
        } else if (!adopt && (await e.dispatcher.stopRemote(req, rec.worker, e.plan.guardian.graceMs))) {
          stopped.push(rt.spec.id);
        }
      } else if (leftoverAlive(rec) && adopt) {
        e.attempts.adopt(rt, rec, adoptProcess(rec, exitFileOf(rt.paths.logDir, rec.attempt)));
        adopted.push(rt.spec.id);
      } else if (leftoverAlive(rec)) {
        await stopLeftover(rec, e.plan.guardian.graceMs);
        stopped.push(rt.spec.id);
      }
    }
    const restoredPoints: string[] = [];
    for (const p of e.table.points.values()) {
      const rec = pointRecs.get(p.spec.name);
      if (!rec) continue;
      // replicas of a `gather: vote` group reach their points through the group's decision
      const succeeded = p.spec.streams.filter((id) => kept.includes(id) && !e.voteGroups.of(id));
      const resolution = rec.state === 'failed' && rec.reason === 'conflict' ? e.opts.resume?.resolutions?.get(p.spec.name) : undefined;
      p.restore(again.points.has(p.spec.name) ? { ...rec, state: 'pending' } : rec, succeeded, resolution, again.points.has(p.spec.name));
      if (rec.state === 'done' && !again.points.has(p.spec.name)) restoredPoints.push(p.spec.name);
    }
    for (const id of adopted) for (const p of e.table.pointsOf(id)) p.streamStarted();
    e.bus.emit({
      type: 'run-resumed',
      kept,
      adopted,
      stopped,
      points: restoredPoints,
      rerun: [...again.streams].map(([stream, reason]) => ({ stream, reason })),
      remerged: [...again.points].map(([point, reason]) => ({ point, reason })),
      ...(e.opts.resume?.resolutions ? { resolved: [...e.opts.resume.resolutions.keys()] } : {}),
    });
    for (const id of kept) e.voteGroups.memberEnded(id, true);
    return new Set([...kept, ...adopted]);
  }
}
