/**
 * A validated plan document → the normalized {@link Plan}: defaults filled in, durations in
 * milliseconds, paths absolute, environment values as strings, positions recorded.
 */
import { resolve } from 'node:path';
import { parseDuration } from '../util/duration.js';
import type { Locator } from './locate.js';
import type { PlanDocument, PointDocument, StreamDocument } from './schema.js';
import { DEFAULTS, type ConvergenceType, type Plan, type PointSpec, type StreamSpec } from './types.js';
import { defaultPointName, resolveMembers } from './views.js';

/** Milliseconds of a validated duration (undefined stays undefined). */
function ms(v: number | string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const r = parseDuration(typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v);
  return r.ok ? r.ms : undefined;
}

/** A null-prototype copy of a user-keyed mapping, values mapped by `f`. */
function record<V, W>(src: Record<string, V> | undefined, f: (v: V) => W): Record<string, W> {
  const out = Object.create(null) as Record<string, W>;
  if (!src) return out;
  for (const k of Object.keys(src)) {
    const v = src[k];
    if (v !== undefined) Object.defineProperty(out, k, { value: f(v), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const copyCommand = (c: string | string[]): string | string[] => (Array.isArray(c) ? [...c] : c);

/** Builds the {@link Plan} of a document that passed every check. */
export function normalizePlan(doc: PlanDocument, meta: { file: string; dir: string; text: string }, loc: Locator): Plan {
  const coord = doc.stream_configuration?.coordination;
  const ac = doc.agent_coordination;
  const convergenceType = coord?.convergence_type ?? DEFAULTS.convergenceType;
  const workspaceMode = coord?.isolation?.workspace ?? DEFAULTS.workspace;
  const stateType = coord?.state_management?.type ?? DEFAULTS.stateType;

  const streams = doc.streams.map((s: StreamDocument, i): StreamSpec => {
    const spec: StreamSpec = {
      id: s.id,
      command: copyCommand(s.command),
      dependsOn: [...(s.depends_on ?? [])],
      capabilities: [...(s.capabilities ?? [])],
      requires: [...(s.requires ?? [])],
      resources: record(s.resources, (n) => n),
      outputs: [...(s.outputs ?? [])],
      isolation: s.isolation ?? workspaceMode,
      retries: s.retries ?? DEFAULTS.retries,
      env: record(s.env, (v) => String(v)),
      priority: s.priority ?? DEFAULTS.priority,
      pos: loc.at(['streams', i]),
    };
    if (s.workspace !== undefined) spec.workspace = resolve(meta.dir, s.workspace);
    const base = s.base ?? doc.stream_configuration?.base;
    if (base !== undefined) spec.base = resolve(meta.dir, base);
    if (s.resume_from !== undefined) spec.resumeFrom = s.resume_from;
    if (s.convergence !== undefined) spec.convergence = s.convergence;
    const t = ms(s.timeout);
    if (t !== undefined) spec.timeoutMs = t;
    return spec;
  });

  const rawPoints: PointDocument[] = ac?.convergence_points ?? [];
  const named = rawPoints.map((p, i) => ({ p, name: p.name ?? defaultPointName(i), i }));
  const members = resolveMembers(
    streams.map((s) => ({ id: s.id, dependsOn: s.dependsOn })),
    named.map(({ p, name }) => (p.streams ? { name, streams: p.streams } : { name })),
  );
  const byId = new Map(streams.map((s) => [s.id, s]));
  const points = named.map(({ p, name, i }): PointSpec => {
    let type: ConvergenceType | undefined = p.type;
    if (!type && p.streams) {
      const wanted = new Set(p.streams.flatMap((id) => byId.get(id)?.convergence ?? []));
      if (wanted.size === 1) type = [...wanted][0];
    }
    const spec: PointSpec = {
      name,
      type: type ?? convergenceType,
      streams: [...(members.get(name) ?? [])],
      onConflict: typeof p.on_conflict === 'string' ? p.on_conflict : (p.on_conflict?.default ?? DEFAULTS.onConflict),
      allowConflicts: p.allow_conflicts ?? false,
      keepGoing: p.keep_going ?? false,
      checkpointKeep: p.checkpoint_keep ?? DEFAULTS.checkpointKeep,
      pos: loc.at(['agent_coordination', 'convergence_points', i]),
    };
    if (typeof p.on_conflict === 'object' && p.on_conflict.paths) {
      spec.conflictRules = {
        default: spec.onConflict,
        paths: Object.entries(p.on_conflict.paths).map(([glob, policy]) => ({ glob, policy })),
      };
    }
    const t = ms(p.timeout);
    if (t !== undefined) spec.timeoutMs = t;
    if (p.approve) {
      spec.approve = { quorum: String(p.approve.quorum ?? DEFAULTS.quorum), voters: [...(p.approve.voters ?? spec.streams)] };
      const at = ms(p.approve.timeout);
      if (at !== undefined) spec.approve.timeoutMs = at;
    }
    if (p.feedback) spec.feedback = p.feedback;
    if (p.resolve !== undefined) spec.resolve = { command: copyCommand(p.resolve), timeoutMs: ms(p.resolve_timeout) ?? DEFAULTS.verifyTimeoutMs };
    if (p.verify !== undefined) {
      spec.verify = {
        command: copyCommand(p.verify),
        timeoutMs: ms(p.verify_timeout) ?? DEFAULTS.verifyTimeoutMs,
        retries: p.verify_retries ?? DEFAULTS.verifyRetries,
        onFailure: p.on_verify_failure ?? DEFAULTS.verifyOnFailure,
        maxRuns: p.verify_max_runs ?? DEFAULTS.verifyMaxRuns,
      };
    }
    return spec;
  });

  const guardian = ac?.recovery?.guardian;
  const command = guardian?.command;
  return {
    version: 1,
    name: doc.name ?? DEFAULTS.name,
    file: meta.file,
    dir: meta.dir,
    text: meta.text,
    coordination: {
      convergenceType,
      isolation: { workspace: workspaceMode, fileAccess: coord?.isolation?.file_access ?? DEFAULTS.fileAccess },
      stateManagement: { type: stateType },
      protocols: [...(coord?.protocols ?? DEFAULTS.protocols)],
    },
    workspaceRoot: resolve(meta.dir, ac?.workspace_root ?? DEFAULTS.workspaceRoot),
    points,
    stateManagement: {
      manager: ac?.state_management?.manager ?? stateType,
      checkpointIntervalMs: ms(ac?.state_management?.checkpoint_interval) ?? DEFAULTS.checkpointIntervalMs,
      keepVersions: ac?.state_management?.keep_versions ?? DEFAULTS.keepVersions,
      durable: ac?.state_management?.durable ?? DEFAULTS.stateDurable,
    },
    heartbeat: {
      intervalMs: ms(ac?.heartbeat?.interval) ?? DEFAULTS.heartbeatIntervalMs,
      timeoutMs: ms(ac?.heartbeat?.timeout) ?? DEFAULTS.heartbeatTimeoutMs,
      source: ac?.heartbeat?.source ?? DEFAULTS.heartbeatSource,
    },
    guardian: {
      autoInvoke: guardian?.auto_invoke ?? DEFAULTS.guardianAutoInvoke,
      graceMs: ms(guardian?.grace) ?? DEFAULTS.guardianGraceMs,
      maxRestarts: guardian?.max_restarts ?? DEFAULTS.guardianMaxRestarts,
      soft: guardian?.soft ?? DEFAULTS.guardianSoft,
      command: command === undefined || command === null ? null : copyCommand(command),
    },
    resources: record(ac?.resources, (n) => n),
    streams,
    groups: Object.create(null) as Plan['groups'],
  };
}
