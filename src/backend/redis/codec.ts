/**
 * How the Redis backend turns values into the strings it stores and back: JSON of records
 * and entries, records as hash field/value pairs, and the orders the file backend lists in
 * (which the Redis backend keeps, so the contract suite sees one behaviour).
 */
import type { RunRecord } from '../types.js';

/** JSON of a value that must be one (undefined, a function… fail, naming `what`). */
export function json(value: unknown, what: string): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError(`${what} is not a JSON value`);
  return text;
}

/** Record field/value pairs; fields holding undefined are left out (as JSON.stringify does). */
export function recordPairs(record: object): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(record)) {
    if (v === undefined) continue;
    out.push(k, JSON.stringify(v));
  }
  return out;
}

/** A record stored as a hash (field → JSON of its value); undefined when the hash is empty. */
export function recordOf<T>(flat: string[] | Record<string, string>): T | undefined {
  const entries = Array.isArray(flat) ? pairsOf(flat) : Object.entries(flat);
  if (entries.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) out[k] = JSON.parse(v);
  return out as T;
}

function pairsOf(flat: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/** A run's score in the registry: its startedAt in ms (0 when unreadable). */
export function startedScore(startedAt: unknown): number {
  const ms = typeof startedAt === 'string' ? Date.parse(startedAt) : NaN;
  return Number.isFinite(ms) ? ms : 0;
}

/** The file backend's order of runs: newest startedAt first, then id descending. */
export function newestFirst(a: RunRecord, b: RunRecord): number {
  return a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : b.id.localeCompare(a.id);
}

/** The file backend lists records by file name, `<name>.json`. */
export function byFileName(a: string, b: string): number {
  const x = `${a}.json`;
  const y = `${b}.json`;
  return x < y ? -1 : x > y ? 1 : 0;
}
