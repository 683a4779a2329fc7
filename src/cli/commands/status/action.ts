/** `coord status [RUN] [--json] [--watch]`. */
import { loadSnapshot, type StatusSnapshot } from '../../../status/snapshot.js';
import { colorsFor, type Colors } from '../../../report/color.js';
import { stateNote, table } from '../../../report/summary.js';
import { formatDuration } from '../../../util/duration.js';
import { openBackend, resolveRun } from '../../../context/backend.js';
import { TERMINAL_RUN_STATES } from '../../../events/types.js';

export async function statusCommand(runId: string | undefined, flags: { json?: boolean; watch?: boolean }): Promise<void> {
  const backend = await openBackend();
  const run = await resolveRun(backend, runId);
  let last = '';
  let c: Colors | undefined;
  for (;;) {
    const snap = await loadSnapshot(backend, (await backend.getRun(run.id)) ?? run);
    const text = flags.json ? JSON.stringify(snap, null, flags.watch ? 0 : 2) + '\n' : formatStatus(snap, c ?? (c = await colorsFor(process.stdout)));
    if (text !== last) {
      if (flags.watch && !flags.json && process.stdout.isTTY) process.stdout.write('\x1b[H\x1b[2J');
      process.stdout.write(text);
      last = text;
    }
    if (!flags.watch || TERMINAL_RUN_STATES.has(snap.run.state)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function formatStatus(snap: StatusSnapshot, c: Colors): string {
  const now = Date.now();
  const age = (t: string | null): string => (t ? formatDuration(now - Date.parse(t)) + ' ago' : '-');
  const r = snap.run;
  const out: string[] = [`run ${c.bold(r.id)}  ${r.state}  ${r.name}  (${r.plan})`, `started ${r.startedAt}${r.endedAt ? `, ended ${r.endedAt}` : ''}`, ''];
  // a BRANCH column only for runs with worktree streams: most runs have none
  const branches = snap.streams.some((s) => s.branch !== null);
  const rows = [['STREAM', 'STATE', 'ATTEMPT', 'PID', 'EXIT', 'TIME', 'HEARTBEAT', ...(branches ? ['BRANCH'] : []), 'WORKSPACE']];
  for (const s of snap.streams) {
    const ms = s.startedAt ? (s.endedAt ? Date.parse(s.endedAt) : now) - Date.parse(s.startedAt) : null;
    rows.push([
      s.id,
      s.state + stateNote(s.reason, s.killed, s.state),
      String(s.attempt),
      s.worker ? `worker ${s.worker}` : s.pid === null ? '-' : String(s.pid),
      s.exitCode === null ? '-' : String(s.exitCode),
      ms === null ? '-' : formatDuration(ms),
      [age(s.lastHeartbeat), s.progress === null ? '' : `${s.progress}%`, s.message ? clip(s.message, 40) : ''].filter(Boolean).join(' '),
      ...(branches ? [s.branch ?? '-'] : []),
      s.workspace,
    ]);
  }
  out.push(...table(rows, c, 1));
  if (snap.convergence.length > 0) {
    const prow = [['POINT', 'TYPE', 'STATE', 'MERGED', 'CONFLICTS']];
    for (const p of snap.convergence) {
      const note = p.reason ? ` (${p.reason})` : p.approval === 'pending' ? ' (approval pending)' : '';
      prow.push([p.name, p.type, p.state + note, p.merged.join(',') || '-', p.conflicts.join(', ') || '-']);
    }
    out.push('', ...table(prow, c, 2));
    for (const p of snap.convergence) if (p.checks.length > 0) out.push(checksLine(p));
  }
  if (snap.resources.length > 0) {
    const who = (w: { owner: string; pid: number | null; units: number }) =>
      `${w.owner}${w.pid !== null && !w.owner.startsWith('pid:') ? ` (pid ${w.pid})` : ''}${w.units > 1 ? ` x${w.units}` : ''}`;
    const some = (list: Array<{ owner: string; pid: number | null; units: number }>) =>
      list.length === 0 ? '-' : list.length <= 4 ? list.map(who).join(', ') : `${list.slice(0, 3).map(who).join(', ')} and ${list.length - 3} more`;
    const rrow = [['RESOURCE', 'CAPACITY', 'IN USE', 'HOLDERS', 'WAITERS']];
    for (const p of snap.resources) rrow.push([p.name, String(p.capacity), String(p.inUse), some(p.holders), some(p.waiters)]);
    out.push('', ...table(rrow, c, -1));
  }
  if (snap.proposals.length > 0) {
    const vrow = [['PROPOSAL', 'KIND', 'STATE', 'VOTES']];
    for (const p of snap.proposals) {
      vrow.push([
        p.name,
        p.kind,
        p.state + (p.reason && p.state !== 'pending' ? ` (${p.reason})` : ''),
        `${p.yes} yes, ${p.no} no; ${p.needed} of ${p.voters.length} needed`,
      ]);
    }
    out.push('', ...table(vrow, c, 2));
  }
  const st = snap.state;
  if (st.version > 0 || st.type !== 'centralized') {
    const last = st.lastChange
      ? `, last change ${age(st.lastChange.time)} (${st.lastChange.op}${st.lastChange.stream ? ` by ${st.lastChange.stream}` : ''})`
      : '';
    out.push('', `shared state: version ${st.version} (${st.type})${last}${st.snapshot ? `; snapshot of version ${st.snapshot}` : ''}`);
  }
  if (snap.queues.length > 0) {
    const qrow = [['TOPIC', 'SIZE', 'CONSUMERS (next, lag, unacknowledged)']];
    for (const q of snap.queues)
      qrow.push([
        q.topic,
        String(q.size),
        q.consumers.map((k) => `${k.name} @${k.next} lag ${k.lag}${k.pending ? `, ${k.pending} unacked` : ''}`).join('; ') || '-',
      ]);
    out.push('', ...table(qrow, c, -1));
  }
  return out.join('\n') + '\n';
}

function clip(text: string, n: number): string {
  const one = text.replace(/\s+/g, ' ');
  return one.length > n ? one.slice(0, n - 1) + '…' : one;
}

/** A point's checks in one line: how many ended how, what runs now, who was left out. */
function checksLine(p: { name: string; checks: Array<{ outcome: string; streams: string[]; round: number }>; excluded: string[] }): string {
  const count = (o: string): number => p.checks.filter((x) => x.outcome === o).length;
  const parts = (['passed', 'failed', 'timed-out', 'cancelled'] as const).filter((o) => count(o) > 0).map((o) => `${count(o)} ${o}`);
  const running = p.checks.filter((x) => x.outcome === 'running');
  const round = Math.max(...p.checks.map((x) => x.round));
  const now = running.length > 0 ? `; running: ${running.map((x) => `[${x.streams.join(',') || 'base'}]`).join(' ')}` : '';
  const search = round > 0 ? `; search round ${round}` : '';
  const out = p.excluded.length > 0 ? `; left out: ${p.excluded.join(', ')} (${p.excluded.length > 1 ? 'they break' : 'it breaks'} the check)` : '';
  return `${p.name}: ${p.checks.length} check${p.checks.length === 1 ? '' : 's'} (${parts.join(', ') || 'none ended'})${search}${now}${out}`;
}
