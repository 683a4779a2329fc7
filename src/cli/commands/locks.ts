/** `coord locks [RUN] [--all] [--json]`: locks held now, holders, waiters, contention (SPEC §5). */
import { openBackend, resolveRun } from '../context.js';
import { lockRegistryDir } from '../../locks/registry.js';
import { locksView, type LocksView } from '../../locks/view.js';
import { colorsFor } from '../../report/color.js';
import { table } from '../../report/summary.js';
import { formatDuration } from '../../util/duration.js';

export async function locksCommand(runId: string | undefined, flags: { json?: boolean; all?: boolean }): Promise<void> {
  const registry = lockRegistryDir();
  let view: LocksView;
  let scope: string;
  const backend = await openBackend();
  const hasRun = runId !== undefined || !!process.env.COORD_RUN_DIR || (await backend.listRuns()).length > 0;
  if (flags.all || !hasRun) {
    view = locksView(registry);
    scope = `every lock in ${registry}`;
  } else {
    const run = await resolveRun(backend, runId);
    const { events } = await backend.readEvents(run.id);
    view = locksView(registry, { runId: run.id, events });
    scope = `run ${run.id}`;
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify(view, null, 2) + '\n');
    return;
  }
  const c = await colorsFor(process.stdout);
  const now = Date.now();
  const since = (t: string) => formatDuration(now - Date.parse(t));
  const out: string[] = [`locks of ${scope}`, ''];
  if (view.locks.length === 0) out.push('no lock is held or waited for now');
  else {
    const rows = [['LOCK', 'MODE', 'HOLDERS', 'WAITERS']];
    for (const l of view.locks) {
      rows.push([
        l.path,
        l.mode ?? '-',
        l.holders.map((h) => `${h.owner} (pid ${h.pid}, token ${h.token}, ${since(h.since)})`).join('; ') || '-',
        l.waiters.map((w) => `${w.owner} (pid ${w.pid}, ${w.mode}, ${since(w.since)})`).join('; ') || '-',
      ]);
    }
    out.push(...table(rows, c, 1));
  }
  if (view.contention.length) {
    const rows = [['CONTENTION', 'ACQUIRED', 'CONTENDED', 'WAIT TOTAL', 'WAIT MAX']];
    for (const k of view.contention) rows.push([k.path, String(k.acquisitions), String(k.contended), formatDuration(k.waitMsTotal), formatDuration(k.waitMsMax)]);
    out.push('', ...table(rows, c, 1));
  }
  process.stdout.write(out.join('\n') + '\n');
}
