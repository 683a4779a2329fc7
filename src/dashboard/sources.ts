/**
 * What the dashboard shows beyond `coord status --json`: the locks the run's streams hold or
 * wait for (from the lock registry, as `coord locks` shows them), and shared-state versions
 * read from `<runDir>/state/` when it exists. Nothing is made up: a run without them (or with
 * files this reader does not understand) shows "none".
 *
 * Understood forms of `state/*.jsonl` and `state/*.json`: entries
 * entries (lines, array items or the object itself) carry a numeric `version` and optionally
 * `stream`, `time` and `keys` — the change-log entry of SPEC §1.
 */
import { closeSync, lstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../backend/types.js';
import { loadSnapshot, type StatusSnapshot } from '../status/snapshot.js';
import { lockRegistryDir } from '../locks/registry.js';
import { locksView, type LocksView } from '../locks/view.js';

/** One lock with who holds it and who waits for it (SPEC §5). */
export type LockView = LocksView['locks'][number];

/** One version of the run's shared state, from its change log. */
export interface StateVersionView {
  version: number;
  stream: string | null;
  time: string | null;
  keys: string[];
}

/** The status snapshot plus locks and state versions: what `/api/status` serves. */
export interface DashboardStatus extends StatusSnapshot {
  locks: LockView[];
  state: StateVersionView[];
}

const MAX_FILES = 500;
const MAX_BYTES = 1 << 20; // per file; a longer change log is read from its last MiB
const MAX_VERSIONS = 200;

/** The run's snapshot with its locks and state versions; throws when the run is gone. */
export async function loadDashboardStatus(backend: Backend, runId: string, runDir: string): Promise<DashboardStatus> {
  const run = await backend.getRun(runId);
  if (!run) throw new Error(`run "${runId}" no longer exists`);
  return { ...(await loadSnapshot(backend, run)), locks: locksView(lockRegistryDir(), { runId }).locks, state: readStateVersions(runDir) };
}

/** State versions recorded under `<runDir>/state/`, oldest first (the newest 200). */
export function readStateVersions(runDir: string): StateVersionView[] {
  const byVersion = new Map<number, StateVersionView>();
  const add = (item: unknown): void => {
    if (!isObject(item) || !Number.isInteger(item.version)) return;
    const version = item.version as number;
    const seen = byVersion.get(version);
    const keys = Array.isArray(item.keys) ? item.keys.filter((k): k is string => typeof k === 'string') : [];
    byVersion.set(version, {
      version,
      stream: str(item.stream) ?? seen?.stream ?? null,
      time: str(item.time) ?? seen?.time ?? null,
      keys: keys.length > 0 ? keys : (seen?.keys ?? []),
    });
  };
  for (const { name, text } of readFiles(join(runDir, 'state'), (n) => n.endsWith('.json') || n.endsWith('.jsonl'))) {
    if (name.endsWith('.jsonl')) {
      for (const line of text.split('\n')) add(parse(line));
    } else {
      const doc = parse(text);
      for (const item of Array.isArray(doc) ? doc : [doc]) add(item);
    }
  }
  return [...byVersion.values()].sort((a, b) => a.version - b.version).slice(-MAX_VERSIONS);
}

/** Regular files of `dir` (not links) whose names pass `want`, sorted; the last MiB of each. */
function readFiles(dir: string, want: (name: string) => boolean): Array<{ name: string; text: string }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Array<{ name: string; text: string }> = [];
  for (const name of names.filter(want).sort().slice(0, MAX_FILES)) {
    const file = join(dir, name);
    try {
      const st = lstatSync(file);
      if (!st.isFile()) continue;
      const length = Math.min(st.size, MAX_BYTES);
      const buf = Buffer.alloc(length);
      const fd = openSync(file, 'r');
      try {
        readSync(fd, buf, 0, length, st.size - length);
      } finally {
        closeSync(fd);
      }
      out.push({ name, text: buf.toString('utf8') });
    } catch {
      /* removed or unreadable meanwhile */
    }
  }
  return out;
}

function parse(text: string): unknown {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list(v: unknown): Array<Record<string, unknown>> {
  return Array.isArray(v) ? v.filter(isObject) : [];
}

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
