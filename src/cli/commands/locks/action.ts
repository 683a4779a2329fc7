/** `coord locks [RUN] [--all] [--json]`: locks held now, holders, waiters, contention (SPEC §5). */
import { openBackend, resolveRun } from '../../../context/backend.js';
import { lockRegistryDir } from '../../../locks/registry.js';
import { type locksView, locksViewOf, type LocksView } from '../../../locks/view.js';
import { FileLockStore } from '../../../locks/store.js';
import { managerFromEnv } from '../../../locks/env.js';
import { colorsFor } from '../../../report/color.js';
import { table } from '../../../report/summary.js';
import { formatDuration } from '../../../util/duration.js';

export async function locksCommand(runId: string | undefined, flags: { json?: boolean; all?: boolean }): Promise<void> {
  let view: LocksView;
  let scope: string;
  const backend = await openBackend();
  // with COORD_BACKEND the locks are on that server; else in this machine's registry
  let where: string;
  let read: (opts?: Parameters<typeof locksView>[1]) => Promise<LocksView>;
  if (process.env.COORD_BACKEND) {
    const manager = await managerFromEnv();
    where = `on ${manager.store.where}`;
    read = async (opts) => locksViewOf(await manager.locksAsync(), opts);
  } else {
    const registry = lockRegistryDir();
    where = `in ${registry}`;
    // an unsafe registry is refused (exit 2) rather than shown: another user may have written it
    const store = new FileLockStore(registry);
    read = async (opts) => locksViewOf(store.listSync(), opts);
  }
  const hasRun = runId !== undefined || !!process.env.COORD_RUN_DIR || (await backend.listRuns()).length > 0;
  if (flags.all || !hasRun) {
    view = await read();
    scope = `every lock ${where}`;
  } else {
    const run = await resolveRun(backend, runId);
    const { events } = await backend.readEvents(run.id);
    view = await read({ runId: run.id, events });
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
    for (const k of view.contention)
      rows.push([k.path, String(k.acquisitions), String(k.contended), formatDuration(k.waitMsTotal), formatDuration(k.waitMsMax)]);
    out.push('', ...table(rows, c, 1));
  }
  process.stdout.write(out.join('\n') + '\n');
}
