/**
 * `coord stop [RUN]`: marks the run as cancelled and sends SIGTERM to its coordinator, which
 * stops every stream's process group and ends the run `cancelled`. When the coordinator is
 * already gone, the streams it left running are found by pid and start time and stopped here.
 */
import { openBackend, resolveRun } from '../../../context/backend.js';
import type { HostBackend } from '../../../backend/types.js';
import { hostname } from 'node:os';
import { coordinatorAlive } from '../../../status/snapshot.js';
import { TERMINAL_RUN_STATES } from '../../../events/types.js';
import { formatDuration } from '../../../util/duration.js';
import { endLauncher, leftoverAlive, leftoverLaunchers, stopLeftover } from '../../../orchestrator/resume.js';
import { UsageError } from '../../errors.js';
import { CoordError } from '../../../core/errors.js';
import { sleep } from '../../follow.js';
import { reconcileStreams } from '../../../status/reconcile.js';

/** How long leftovers of a dead coordinator get between SIGTERM and SIGKILL. */
const ORPHAN_GRACE_MS = 5000;

/** What `coord stop --json` prints: the run, the state it ended in, whether it had ended before, and the leftovers stopped here. */
interface Stopped {
  run: string;
  state: string;
  already: boolean;
  orphansStopped: number;
}

/** `flags.timeout` in ms (parsed by commander: a bad one is a usage error before this runs). */
export async function stopCommand(runId: string | undefined, flags: { timeout: number; json?: boolean }): Promise<void> {
  const timeoutMs = flags.timeout;
  const backend = await openBackend();
  const run = await resolveRun(backend, runId);
  const say = (text: string, result: Stopped): void => void process.stdout.write(flags.json ? JSON.stringify(result) + '\n' : text + '\n');
  if (TERMINAL_RUN_STATES.has(run.state)) {
    say(`run ${run.id} already ${run.state}`, { run: run.id, state: run.state, already: true, orphansStopped: 0 });
    return;
  }
  if (!(await coordinatorAlive(run, backend))) {
    const stopped = await stopOrphans(backend, run.id);
    await backend.updateRun(run.id, { state: 'cancelled', endedAt: new Date().toISOString(), cancelRequested: true });
    say(`run ${run.id} cancelled (its coordinator was gone; ${stopped} stream(s) stopped)`, {
      run: run.id,
      state: 'cancelled',
      already: false,
      orphansStopped: stopped,
    });
    return;
  }
  const here = run.coordinator.host === hostname();
  if (!here && !backend.leaseHeld) throw new UsageError(`run ${run.id} is coordinated on ${run.coordinator.host} (pid ${run.coordinator.pid}): stop it there`);
  await backend.updateRun(run.id, { cancelRequested: true });
  // on another host the coordinator reads the request when it next renews its lease
  if (here) process.kill(run.coordinator.pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const now = await backend.getRun(run.id);
    if (!now || TERMINAL_RUN_STATES.has(now.state)) {
      say(`run ${run.id} ${now?.state ?? 'removed'}`, { run: run.id, state: now?.state ?? 'removed', already: false, orphansStopped: 0 });
      return;
    }
    if (!(await coordinatorAlive(now, backend))) break;
    await sleep(100);
  }
  throw new CoordError('timeout', `run ${run.id} did not end within ${formatDuration(timeoutMs)}`);
}

/** Stops (TERM, then KILL after 5 s) the process groups of streams a dead coordinator left running, and then the launchers that started them. */
async function stopOrphans(backend: HostBackend, runId: string): Promise<number> {
  const records = reconcileStreams(await backend.listStreams(runId), (await backend.readEvents(runId)).events);
  const live = records.filter(leftoverAlive);
  const launchers = leftoverLaunchers(live);
  await Promise.all(live.map((s) => stopLeftover(s, ORPHAN_GRACE_MS)));
  // the launchers that started them record their exits, then go: nothing of the run outlives the stop
  await Promise.all(launchers.map((l) => endLauncher(l, ORPHAN_GRACE_MS)));
  await backend.putStreams(
    runId,
    live.map((s) => ({ ...s, state: 'cancelled' as const, reason: 'cancelled' as const, endedAt: new Date().toISOString() })),
  );
  return live.length;
}
