/**
 * `--resume` with a plan that changed (Nextflow's `-resume` rule): a stream that succeeded is
 * kept only while what it ran as is the same — its command, environment, base (the path, and
 * the directory's content against the run's snapshot of it), workspace and inputs. Otherwise it
 * runs again, and so does everything downstream of it: a stream whose input (a dependency
 * stream, group or capability, or a point) runs or merges again, and a published point whose
 * streams run again or whose own definition changed. Each decision carries its reason.
 */
import { createHash } from 'node:crypto';
import type { StreamRecord, PointRecord } from '../backend/types.js';
import { CAPABILITY_PREFIX, type PointSpec, type StreamGroup, type StreamSpec } from '../plan/types.js';

const digest = (v: unknown): string => createHash('sha1').update(JSON.stringify(v)).digest('hex').slice(0, 16);

/** What a stream's attempt depends on, a digest per part. */
export function streamFingerprint(spec: StreamSpec): Record<string, string> {
  return {
    command: digest(spec.command),
    env: digest(Object.entries(spec.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    base: digest(spec.base ?? null),
    workspace: digest([spec.isolation, spec.workspace ?? null]),
    inputs: digest([...spec.dependsOn].sort()),
  };
}

/** What a point merges as: its type, streams, policies, and the streams' outputs. */
export function pointFingerprint(spec: PointSpec, outputsOf: (id: string) => string[]): string {
  return digest([
    spec.type,
    [...spec.streams].sort(),
    spec.onConflict,
    spec.conflictRules ?? null,
    spec.allowConflicts,
    spec.keepGoing,
    [...spec.streams].sort().map(outputsOf),
    // a point without a check keeps the fingerprint it had before checks existed
    ...(spec.verify ? [spec.verify] : []),
    ...(spec.resolve ? [spec.resolve] : []),
    ...(spec.feedback ? [{ feedback: spec.feedback }] : []),
  ]);
}

const WHAT: Record<string, string> = { command: 'its command', env: 'its env', base: 'its base', workspace: 'its workspace', inputs: 'its depends_on' };

/** What runs again and what merges again, with why. */
export interface RerunDecision {
  /** Succeeded streams to run again → why. */
  streams: Map<string, string>;
  /** Published points to merge again → why. */
  points: Map<string, string>;
}

export interface RerunInput {
  streams: readonly StreamSpec[];
  points: readonly PointSpec[];
  groups: Readonly<Record<string, StreamGroup>>;
  records: ReadonlyMap<string, StreamRecord>;
  pointRecords: ReadonlyMap<string, PointRecord>;
  outputsOf: (id: string) => string[];
  /** Per base directory: paths where it no longer matches the run's snapshot ([] when unchanged). */
  baseChanges: ReadonlyMap<string, readonly string[]>;
}

/** Decides what a resume runs and merges again (see the module comment). */
export function decideRerun(input: RerunInput): RerunDecision {
  const out: RerunDecision = { streams: new Map(), points: new Map() };
  const kept = input.streams.filter((s) => input.records.get(s.id)?.state === 'succeeded');
  for (const s of kept) {
    const old = input.records.get(s.id)?.fingerprint;
    const now = streamFingerprint(s);
    const changed = old === undefined ? [] : Object.keys(now).filter((k) => old[k] !== now[k]);
    if (changed.length > 0) {
      out.streams.set(s.id, `${changed.map((k) => WHAT[k] ?? k).join(', ')} changed`);
      continue;
    }
    const moved = s.base !== undefined && s.isolation !== 'worktree' ? input.baseChanges.get(s.base) : undefined;
    if (moved && moved.length > 0) {
      out.streams.set(s.id, `its base ${s.base} changed since the run seeded from it (${moved.slice(0, 3).join(', ')}${moved.length > 3 ? ', …' : ''})`);
    }
  }
  for (const p of input.points) {
    const rec = input.pointRecords.get(p.name);
    if (rec?.state !== 'done' || rec.fingerprint === undefined) continue;
    if (rec.fingerprint !== pointFingerprint(p, input.outputsOf)) out.points.set(p.name, "its definition or its streams' outputs changed");
  }
  const providers = (name: string): string[] => {
    if (name.startsWith(CAPABILITY_PREFIX)) {
      const cap = name.slice(CAPABILITY_PREFIX.length);
      return input.streams.filter((s) => s.capabilities.includes(cap)).map((s) => s.id);
    }
    return input.groups[name]?.members ?? [name];
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of input.points) {
      if (out.points.has(p.name) || input.pointRecords.get(p.name)?.state !== 'done') continue;
      const again = p.streams.find((id) => out.streams.has(id));
      if (again !== undefined) {
        out.points.set(p.name, `its stream "${again}" runs again`);
        changed = true;
      }
    }
    for (const s of kept) {
      if (out.streams.has(s.id)) continue;
      for (const d of s.dependsOn) {
        const why = out.points.has(d)
          ? `its input "${d}" is merged again`
          : providers(d).some((id) => out.streams.has(id))
            ? `its input "${d}" runs again`
            : undefined;
        if (why === undefined) continue;
        out.streams.set(s.id, why);
        changed = true;
        break;
      }
    }
  }
  return out;
}
