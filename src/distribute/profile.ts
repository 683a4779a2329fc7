/**
 * What distributed execution keeps on the Redis server beside the backend's keys, and how a
 * stream is matched with a worker.
 *
 * A stream's *profile* is what it asks of a host: the capabilities its `requires:` names and
 * the units of its `resources:`. Streams of one profile (of any run) wait in one BullMQ queue,
 * named after the profile; a worker serves every queue whose profile it satisfies: it has each
 * required capability, and for each resource it declares (`--resources gpu=2`), at least the
 * units the stream holds. A resource the worker does not declare is not counted on it (the
 * run's pool of that name still is, by the coordinator).
 *
 * Keys (P the prefix, `coord:`):
 *
 *   P worker:<id>                    HASH    a live worker: host, pid, slots, capabilities,
 *                                            resources, busy (JSON fields); expires after the
 *                                            worker's lease unless renewed
 *   P workers                        SET     worker ids (members whose hash expired are stale)
 *   P worker:<id>:signal             pub/sub signals for the worker's running attempts
 *   P worker:<id>:ctl                STREAM  control-socket replies for the worker's attempts
 *                                            (tunnel.ts)
 *   P dispatch:queues                HASH    queue name → profile JSON
 *   P dispatch                       pub/sub a queue name, published when a job was added
 *   P bull:<queue>:…                          BullMQ's keys of each queue
 *   P run:<id>:coordinator           STRING  present while the run's coordinator lives (lease)
 *   P run:<id>:wire                  STREAM  what workers report: taken, started, out, beat,
 *                                            exit, lost, ctl (one JSON field `m` an entry)
 *   P run:<id>:wire:read             STRING  the last wire entry the coordinator handled
 *   P run:<id>:in:<stream>:<n>       HASH    inputs of attempt n: `workspace`, `input:<name>`
 *   P run:<id>:out:<stream>:<n>      HASH    outputs of attempt n: `workspace`
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { UpMessage } from './tunnel.js';
import type { HeartbeatSource } from '../plan/types.js';

/** How long a worker stays registered without renewing, and its jobs' lock duration, unless told (`coord worker --lease`). */
export const DEFAULT_LEASE_MS = 10_000;
/** How long outputs and inputs archives are kept on the server when nobody takes them. */
export const ARCHIVE_TTL_MS = 24 * 3600_000;

export interface Profile {
  requires: string[];
  resources: Record<string, number>;
}

export function profileOf(requires: readonly string[], resources: Readonly<Record<string, number>>): Profile {
  const res: Record<string, number> = {};
  for (const k of Object.keys(resources).sort()) if ((resources[k] ?? 0) > 0) res[k] = resources[k]!;
  return { requires: [...new Set(requires)].sort(), resources: res };
}

/** The BullMQ queue of a profile: `streams-<hash>` (BullMQ queue names may not contain `:`). */
export function queueOf(p: Profile): string {
  return `streams-${createHash('sha1').update(JSON.stringify(p)).digest('hex').slice(0, 16)}`;
}

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  slots: number;
  capabilities: string[];
  resources: Record<string, number>;
  /** Slots in use now. */
  busy: number;
  startedAt: string;
}

/** Why `w` cannot take streams of profile `p`, or null when it can. */
export function mismatch(p: Profile, w: Pick<WorkerInfo, 'capabilities' | 'resources'>): string | null {
  const missing = p.requires.filter((c) => !w.capabilities.includes(c));
  if (missing.length > 0) return `lacks ${missing.join(', ')}`;
  for (const [k, n] of Object.entries(p.resources)) {
    const has = w.resources[k];
    if (has !== undefined && has < n) return `has ${has} ${k}, the stream holds ${n}`;
  }
  return null;
}

export function describeProfile(p: Profile): string {
  const parts = [...(p.requires.length ? [`requires ${p.requires.join(', ')}`] : []), ...Object.entries(p.resources).map(([k, n]) => `${k}=${n}`)];
  return parts.length ? parts.join('; ') : 'no requirements';
}

export const keys = (prefix: string) => ({
  worker: (id: string) => `${prefix}worker:${id}`,
  workers: `${prefix}workers`,
  signal: (id: string) => `${prefix}worker:${id}:signal`,
  ctl: (id: string) => `${prefix}worker:${id}:ctl`,
  queues: `${prefix}dispatch:queues`,
  dispatch: `${prefix}dispatch`,
  bull: `${prefix}bull`,
  /** The run's coordinator lease, held by the coordinator through its backend (RedisBackend.holdLease, `COORD_RUN_LEASE`). */
  lease: (run: string) => `${prefix}run:${run}:lease`,
  wire: (run: string) => `${prefix}run:${run}:wire`,
  /** The id of the last wire entry the run's coordinator handled (where a resumed coordinator reads on). */
  wireRead: (run: string) => `${prefix}run:${run}:wire:read`,
  inputs: (run: string, stream: string, attempt: number) => `${prefix}run:${run}:in:${stream}:${attempt}`,
  outputs: (run: string, stream: string, attempt: number) => `${prefix}run:${run}:out:${stream}:${attempt}`,
  /** The last signal sent to each remote attempt (`<stream>:<attempt>` → signal), for a worker that missed the pub/sub message. */
  signals: (run: string) => `${prefix}run:${run}:signals`,
});

export type Keys = ReturnType<typeof keys>;

/** A worker's registration hash as stored (every field a string). */
export function workerFromHash(h: Record<string, string>): WorkerInfo | null {
  if (!h.id) return null;
  try {
    return {
      id: h.id,
      host: h.host ?? '',
      pid: Number(h.pid),
      slots: Number(h.slots),
      capabilities: JSON.parse(h.capabilities ?? '[]') as string[],
      resources: JSON.parse(h.resources ?? '{}') as Record<string, number>,
      busy: Number(h.busy ?? 0),
      startedAt: h.startedAt ?? '',
    };
  } catch {
    return null;
  }
}

/** One wire entry (the `m` field of `run:<id>:wire`). */
export type WireMessage =
  | { k: 'taken'; s: string; a: number; w: string; host: string }
  | { k: 'started'; s: string; a: number; w: string; pid: number }
  | { k: 'out'; s: string; a: number; w: string; n: number; fd: 'stdout' | 'stderr'; data: string }
  | { k: 'beat'; s: string; a: number; w: string; data: string }
  | {
      k: 'exit';
      s: string;
      a: number;
      w: string;
      exitCode: number | null;
      signal: NodeJS.Signals | null;
      error?: string;
      outputs: string | null;
      bytes: number;
      tooLarge?: string;
    }
  | { k: 'lost'; s: string; a: number; w: string; why: string }
  | { k: 'ctl'; s: string; a: number; w: string; c: UpMessage };

/** A job of a stream queue. */
export interface StreamJob {
  run: string;
  stream: string;
  attempt: number;
  command: string | string[];
  /** The plan's `env` of the stream (COORD_ITEM and COORD_REPLICA included). */
  env: Record<string, string>;
  workspaceRoot: string;
  fileAccess?: string;
  /** The plan's heartbeat timeout (the life of the attempt's beat key) and source (what renews it). */
  heartbeat?: { timeoutMs: number; source: HeartbeatSource };
  /** Field names of the inputs hash (`workspace`, `input:<name>`). */
  inputs: string[];
  profile: Profile;
}

/** The live workers registered on the server, by id (stale set members are dropped). */
export async function liveWorkers(cmd: Redis, k: Keys): Promise<WorkerInfo[]> {
  const ids = await cmd.smembers(k.workers);
  if (ids.length === 0) return [];
  const p = cmd.pipeline();
  for (const id of ids) p.hgetall(k.worker(id));
  const res = (await p.exec()) ?? [];
  const out: WorkerInfo[] = [];
  const stale: string[] = [];
  ids.forEach((id, i) => {
    const w = workerFromHash((res[i]?.[1] ?? {}) as Record<string, string>);
    if (w) out.push(w);
    else stale.push(id);
  });
  if (stale.length > 0) await cmd.srem(k.workers, ...stale);
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
