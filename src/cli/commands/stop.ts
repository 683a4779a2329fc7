/**
 * `coord stop [RUN]`: marks the run as cancelled and sends SIGTERM to its coordinator, which
 * stops every stream's process group and ends the run `cancelled`. When the coordinator is
 * already gone, the streams it left running are found by pid and start time and stopped here.
 */
import { openBackend, resolveRun } from '../context.js';
import { coordinatorAlive } from '../../status/snapshot.js';
import { TERMINAL_RUN_STATES, TERMINAL_STREAM_STATES } from '../../events/types.js';
import { durationMs } from '../../util/duration.js';
import { sameProcess, signalGroup, groupAlive } from '../../util/proc.js';
import { UsageError } from '../../util/result.js';
import { sleep } from './follow.js';
import { reconcileStreams } from '../../status/reconcile.js';

export async function stopCommand(runId: string | undefined, flags: { timeout: string }): Promise<void> {
  const timeoutMs = durationMs(flags.timeout, '--timeout');
  const backend = openBackend();
  const run = await resolveRun(backend, runId);
  if (TERMINAL_RUN_STATES.has(run.state)) {
    process.stdout.write(`run ${run.id} already ${run.state}\n`);
    return;
  }
  if (!coordinatorAlive(run)) {
    const stopped = await stopOrphans(backend, run.id);
    await backend.updateRun(run.id, { state: 'cancelled', endedAt: new Date().toISOString(), cancelRequested: true });
    process.stdout.write(`run ${run.id} cancelled (its coordinator was gone; ${stopped} stream(s) stopped)\n`);
    return;
  }
  await backend.updateRun(run.id, { cancelRequested: true });
  process.kill(run.coordinator.pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const now = await backend.getRun(run.id);
    if (!now || TERMINAL_RUN_STATES.has(now.state)) {
      process.stdout.write(`run ${run.id} ${now?.state ?? 'removed'}\n`);
      return;
    }
    if (!coordinatorAlive(now)) break;
    await sleep(100);
  }
  throw new UsageError(`run ${run.id} did not end within ${flags.timeout}`, 75);
}

/** SIGTERM, then SIGKILL, to the process groups of streams a dead coordinator left running. */
async function stopOrphans(backend: ReturnType<typeof openBackend>, runId: string): Promise<number> {
  const records = reconcileStreams(await backend.listStreams(runId), (await backend.readEvents(runId)).events);
  const live = records.filter(
    (s) => !TERMINAL_STREAM_STATES.has(s.state) && s.pgid !== null && s.pid !== null && sameProcess(s.pid, s.procStartTime),
  );
  for (const s of live) signalGroup(s.pgid ?? 0, 'SIGTERM');
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && live.some((s) => groupAlive(s.pgid ?? 0))) await sleep(100);
  for (const s of live) signalGroup(s.pgid ?? 0, 'SIGKILL');
  await backend.putStreams(
    runId,
    live.map((s) => ({ ...s, state: 'cancelled' as const, reason: 'cancelled' as const, endedAt: new Date().toISOString() })),
  );
  return live.length;
}
