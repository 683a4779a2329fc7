/**
 * Durations as plans and flags write them: `500ms`, `30s`, `5m`, `1h`, or a bare number of
 * seconds (`300`, `"1.5"`). Returns milliseconds, or an error message for anything else.
 */
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(value: unknown): { ok: true; ms: number } | { ok: false; error: string } {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      return { ok: false, error: `a duration must be a non-negative number of seconds, got ${String(value)}` };
    }
    return { ok: true, ms: Math.round(value * 1000) };
  }
  if (typeof value !== 'string') {
    return { ok: false, error: `a duration must be a string like "30s" or a number of seconds, got ${typeName(value)}` };
  }
  const m = DURATION.exec(value.trim());
  if (!m) {
    return { ok: false, error: `bad duration "${value}": use 500ms, 30s, 5m, 1h or a number of seconds` };
  }
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return { ok: true, ms: Math.round(n * (UNIT_MS[unit] ?? 1000)) };
}

/** Like {@link parseDuration} but throws a UsageError-style Error; for command-line flags. */
export function durationMs(value: string, flag: string): number {
  const r = parseDuration(/^\d+(\.\d+)?$/.test(value) ? Number(value) : value);
  if (!r.ok) throw new Error(`${flag}: ${r.error}`);
  return r.ms;
}

/** Human form of a duration in ms: `850ms`, `12.3s`, `4m05s`, `1h02m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}
