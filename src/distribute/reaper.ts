/**
 * The reaper of a `coord worker`: a small process the worker forks with an IPC channel and
 * tells the process group of each attempt it starts and ends. When the channel closes without
 * a goodbye (the worker was SIGKILLed, or crashed), the reaper stops every group it still
 * knows (SIGTERM, SIGKILL after the grace) and exits, so a dead worker leaves no stream running:
 * their attempts run again elsewhere.
 */
import { signalGroup, groupAlive } from '../util/proc.js';

type Message = { t: 'add'; pgid: number } | { t: 'remove'; pgid: number } | { t: 'bye' };

const groups = new Set<number>();
let bye = false;
const graceMs = Number(process.env.COORD_REAPER_GRACE_MS ?? 5000);

process.on('message', (m: Message) => {
  if (m.t === 'add') groups.add(m.pgid);
  else if (m.t === 'remove') groups.delete(m.pgid);
  else bye = true;
});

process.on('disconnect', () => {
  if (bye || groups.size === 0) process.exit(0);
  for (const g of groups) signalGroup(g, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  const t = setInterval(() => {
    const left = [...groups].filter((g) => groupAlive(g));
    if (left.length === 0 || Date.now() >= deadline) {
      for (const g of left) signalGroup(g, 'SIGKILL');
      clearInterval(t);
      process.exit(0);
    }
  }, 50);
});
// the worker's signals (Ctrl-C reaches the whole foreground group) are the worker's to handle
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => undefined);
