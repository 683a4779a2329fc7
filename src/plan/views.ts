/**
 * Defensive views of the raw plan document: whatever parts are well-formed enough for the
 * semantic and graph checks (entries with string ids, string dependency names, …), so those
 * checks run — and report — alongside schema errors.
 */
import { CONVERGENCE_TYPES, WORKSPACE_MODES, DEFAULTS, type ConvergenceType, type WorkspaceMode } from './types.js';

/** A plain mapping (as produced by YAML), not a list or null. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `obj[key]` for an own property only (never something inherited from Object.prototype). */
export function own(obj: unknown, key: string): unknown {
  return isRecord(obj) && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** A string entry of a list, with its index in the list. */
export interface Ref {
  name: string;
  index: number;
}

/** What the checks need of one `streams[]` entry. */
export interface StreamView {
  index: number;
  id: string;
  dependsOn: Ref[];
  capabilities: string[];
  /** Integer demands by pool name, in document order. */
  resources: Array<{ name: string; units: number }>;
  workspace?: string;
  isolation: WorkspaceMode;
  convergence?: ConvergenceType;
}

/** What the checks need of one `convergence_points[]` entry. */
export interface PointView {
  index: number;
  name: string;
  /** False when the name was left out (the default `point_<n>` applies). */
  named: boolean;
  /** Undefined when the point leaves `streams` out (implicit membership). */
  streams?: Ref[];
  type?: ConvergenceType;
}

const refs = (v: unknown): Ref[] => (Array.isArray(v) ? v.flatMap((x, index) => (typeof x === 'string' ? [{ name: x, index }] : [])) : []);

const oneOf = <T extends string>(values: readonly T[], v: unknown): T | undefined =>
  typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T) : undefined;

/** The default name of the convergence point at `index` when it has none. */
export const defaultPointName = (index: number): string => `point_${index + 1}`;

/** The plan-wide default workspace mode (`stream_configuration.coordination.isolation.workspace`). */
export function defaultIsolation(data: unknown): WorkspaceMode {
  const iso = own(own(own(own(data, 'stream_configuration'), 'coordination'), 'isolation'), 'workspace');
  return oneOf(WORKSPACE_MODES, iso) ?? DEFAULTS.workspace;
}

/** Every stream entry that has a string id. */
export function streamViews(data: unknown): StreamView[] {
  const list = own(data, 'streams');
  if (!Array.isArray(list)) return [];
  const iso = defaultIsolation(data);
  const out: StreamView[] = [];
  list.forEach((s: unknown, index) => {
    const id = own(s, 'id');
    if (typeof id !== 'string') return;
    const res = own(s, 'resources');
    const ws = own(s, 'workspace');
    const view: StreamView = {
      index,
      id,
      dependsOn: refs(own(s, 'depends_on')),
      capabilities: refs(own(s, 'capabilities')).map((r) => r.name),
      resources: isRecord(res)
        ? Object.keys(res).flatMap((name) => {
            const units = res[name];
            return typeof units === 'number' && Number.isInteger(units) && units >= 1 ? [{ name, units }] : [];
          })
        : [],
      isolation: oneOf(WORKSPACE_MODES, own(s, 'isolation')) ?? iso,
    };
    if (typeof ws === 'string' && ws !== '') view.workspace = ws;
    const conv = oneOf(CONVERGENCE_TYPES, own(s, 'convergence'));
    if (conv) view.convergence = conv;
    out.push(view);
  });
  return out;
}

/** Every convergence point entry whose name is a string or left out. */
export function pointViews(data: unknown): PointView[] {
  const list = own(own(data, 'agent_coordination'), 'convergence_points');
  if (!Array.isArray(list)) return [];
  const out: PointView[] = [];
  list.forEach((p: unknown, index) => {
    if (!isRecord(p)) return;
    const name = own(p, 'name');
    if (name !== undefined && typeof name !== 'string') return;
    const view: PointView = { index, name: name ?? defaultPointName(index), named: name !== undefined };
    const streams = own(p, 'streams');
    if (streams !== undefined) view.streams = refs(streams);
    const type = oneOf(CONVERGENCE_TYPES, own(p, 'type'));
    if (type) view.type = type;
    out.push(view);
  });
  return out;
}

/**
 * The streams of every convergence point. A point that lists `streams` gets those (known
 * stream ids only); a point that leaves it out gets every stream that does not wait for it,
 * directly or through other points — resolved in declaration order, so the result is acyclic.
 * `streams` is every stream with its (known) dependencies; the first of duplicate ids counts.
 */
export function resolveMembers(
  streams: ReadonlyArray<{ id: string; dependsOn: readonly string[] }>,
  points: ReadonlyArray<{ name: string; streams?: readonly string[] }>,
): Map<string, string[]> {
  const streamIds = new Set(streams.map((s) => s.id));
  const edges = new Map<string, string[]>();
  for (const s of streams) if (!edges.has(s.id)) edges.set(s.id, [...s.dependsOn]);
  const members = new Map<string, string[]>();
  for (const p of points) {
    if (members.has(p.name) || !p.streams) continue;
    const list = [...new Set(p.streams.filter((id) => streamIds.has(id)))];
    members.set(p.name, list);
    edges.set(p.name, list);
  }
  for (const p of points) {
    if (members.has(p.name)) continue;
    // Who reaches p? Walk the edges backwards from it.
    const reverse = new Map<string, string[]>();
    for (const [from, tos] of edges) for (const to of tos) reverse.set(to, [...(reverse.get(to) ?? []), from]);
    const reaches = new Set<string>([p.name]);
    const todo = [p.name];
    while (todo.length > 0) {
      const n = todo.pop() as string;
      for (const m of reverse.get(n) ?? []) if (!reaches.has(m)) reaches.add(m), todo.push(m);
    }
    const list = [...new Set(streams.map((s) => s.id))].filter((id) => !reaches.has(id));
    members.set(p.name, list);
    edges.set(p.name, list);
  }
  return members;
}
