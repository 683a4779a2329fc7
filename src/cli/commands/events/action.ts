/** `coord events [RUN] [-f] [--json]`: the run's event log, as stored or one line per event. */
import { openBackend, resolveRun } from '../../../context/backend.js';
import { describeEvent } from '../../../report/describe.js';
import type { CoordEvent } from '../../../events/types.js';
import { FOLLOW_POLL_MS, runOver, sleep } from '../../follow.js';

export async function eventsCommand(runId: string | undefined, flags: { follow?: boolean; json?: boolean }): Promise<void> {
  const backend = await openBackend();
  const run = await resolveRun(backend, runId);
  const print = (e: CoordEvent): void => {
    process.stdout.write(flags.json ? JSON.stringify(e) + '\n' : `${e.time}  ${e.type.padEnd(18)} ${describeEvent(e)}\n`);
  };
  let cursor = 0;
  for (;;) {
    const over = flags.follow ? await runOver(backend, run.id) : true;
    const batch = await backend.readEvents(run.id, cursor);
    cursor = batch.cursor;
    batch.events.forEach(print);
    if (over || batch.events.some((e) => e.type === 'run-ended')) return;
    await sleep(FOLLOW_POLL_MS);
  }
}
