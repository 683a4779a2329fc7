/** The table printed at the end of `coord run`: each stream's state, time and exit code. */
import type { Colors } from './color.js';
import type { RunOutcome } from '../orchestrator/coordinator.js';
import type { PointRecord, StreamRecord } from '../backend/types.js';
import { formatDuration } from '../util/duration.js';

const STATE_COLOR: Record<string, (c: Colors, s: string) => string> = {
  succeeded: (c, s) => c.green(s),
  done: (c, s) => c.green(s),
  failed: (c, s) => c.red(s),
  skipped: (c, s) => c.yellow(s),
  cancelled: (c, s) => c.yellow(s),
  accepted: (c, s) => c.green(s),
  rejected: (c, s) => c.red(s),
};

export function formatSummary(outcome: RunOutcome, c: Colors): string {
  const rows: string[][] = [['STREAM', 'STATE', 'TIME', 'EXIT', 'ATTEMPTS']];
  for (const s of outcome.streams) {
    const ms = s.startedAt && s.endedAt ? Date.parse(s.endedAt) - Date.parse(s.startedAt) : null;
    rows.push([
      s.id,
      s.state + stateNote(s.reason, s.killed ?? false, s.state),
      ms === null ? '-' : formatDuration(ms),
      s.exitCode === null ? (s.signal ?? '-') : String(s.exitCode),
      String(s.attempt),
    ]);
  }
  const lines = table(rows, c, 1);
  if (outcome.points.length > 0) {
    const prow: string[][] = [['POINT', 'STATE', 'MERGED', 'CONFLICTS']];
    for (const p of outcome.points) {
      prow.push([p.name, p.state + (p.reason ? ` (${p.reason})` : ''), `${p.merged.length}/${p.streams.length}`, p.conflicts.join(', ') || '-']);
    }
    lines.push('', ...table(prow, c, 1));
  }
  const verdict = outcome.state === 'succeeded' ? c.green(outcome.state) : c.red(outcome.state);
  lines.push('', `run ${outcome.runId} ${verdict}`);
  for (const p of outcome.points) if (p.excluded?.length) lines.push(excludedLine(p));
  const conflicted = outcome.points.filter((p) => p.reason === 'conflict' && p.conflictDir);
  if (conflicted.length > 0) {
    lines.push('');
    for (const p of conflicted) {
      for (const c2 of p.conflictStreams ?? p.conflicts.map((path) => ({ path, streams: [] as string[] }))) {
        lines.push(`CONFLICT in ${p.name}: ${c2.path}${c2.streams.length ? ` (changed by ${c2.streams.join(' and ')})` : ''}`);
      }
      lines.push(`  resolve the files in ${p.conflictDir} (the base and each stream's version are in ${p.conflictDir}/.coord-conflict/)`);
    }
    lines.push(`then run: coord continue ${outcome.runId}`);
  }
  return lines.join('\n') + '\n';
}

/** Who a point's check left out, and why, in one line (the live line said how many checks it took). */
export function excludedLine(p: PointRecord): string {
  const who = p.excluded ?? [];
  return `${p.name}: ${who.join(', ')} left out: ${who.length > 1 ? 'their changes break' : 'its changes break'} the check (coord logs ${p.name}:verify)`;
}

/** Left-aligned columns; the column `stateCol` is coloured by its value. */
export function table(rows: string[][], c: Colors, stateCol: number): string[] {
  const widths: number[] = [];
  for (const row of rows) for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  return rows.map((row, r) =>
    row
      .map((cell, i) => {
        const padded = i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0);
        if (r === 0) return c.bold(padded);
        const color = i === stateCol ? STATE_COLOR[cell.split(' ')[0] ?? ''] : undefined;
        return color ? color(c, padded) : padded;
      })
      .join('  ')
      .trimEnd(),
  );
}

/** `(reason, killed)` after a state that did not succeed; empty otherwise. */
export function stateNote(reason: string | null, killed: boolean, state: string): string {
  const parts = [state !== 'succeeded' ? reason : null, killed ? 'killed' : null].filter(Boolean);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** One line saying why a stream did not succeed (the JUnit failure message and the GitHub annotation). */
export function streamProblem(s: StreamRecord): string {
  if (s.reason === 'verify-failed') return `${s.id} ${s.state}: verify-failed (it exited 0, but its changes break its point's check)`;
  const how = s.exitCode !== null ? `exit code ${s.exitCode}` : s.signal ? `signal ${s.signal}` : s.state;
  return `${s.id} ${s.state}: ${s.reason ?? how}${s.reason && s.reason !== 'exit-non-zero' ? ` (${how})` : ''}${s.killed ? ', killed' : ''}`;
}
