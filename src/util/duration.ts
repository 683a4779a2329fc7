/**
 * Durations as plans and flags write them: `500ms`, `30s`, `5m`, `1h`, or a bare number of
 * seconds (`300`, `"1.5"`). Returns milliseconds, or an error message for anything else.
 */
import { CoordError } from '../core/errors.js';

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

/**
 * A duration given as text, by a command-line option or an environment variable: what
 * {@link parseDuration} takes, a bare number being seconds. The one parser of both, so that
 * a value means the same, and is refused the same way, wherever it is given. A value past
 * Number.MAX_SAFE_INTEGER ms is refused too: no timer could wait that long.
 */
export function parseDurationText(value: string): { ok: true; ms: number } | { ok: false; error: string } {
  const r = parseDuration(/^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value);
  if (r.ok && !Number.isSafeInteger(r.ms)) return { ok: false, error: `duration "${value}" is too long` };
  return r;
}

/**
 * {@link parseDurationText} for a value read from `name` (an environment variable, e.g.
 * COORD_RUN_LEASE): a bad one is bad usage (CoordError 'invalid': exit 2 on the command line) whose message names it.
 * Options are parsed by commander with the same parser (src/cli/program.ts).
 */
export function durationMs(value: string, name: string): number {
  const r = parseDurationText(value);
  if (!r.ok) throw new CoordError('invalid', `${name}: ${r.error}`);
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
