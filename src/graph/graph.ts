/**
 * The run-time DAG of a valid plan: streams wait for their `depends_on`, a convergence point
 * waits for its streams. Stream ids and point names share one namespace (a valid plan never
 * lets them collide).
 *
 * This is the one place that knows what a `depends_on` entry names (`resolve`): a stream, a
 * convergence point, a group (the id of a `for_each`/`replicas` entry stands for every member)
 * or `capability:NAME` (every other stream offering NAME). And what a stream waits for at run
 * time (`waitsFor`): streams, points, and `gather: first|vote` groups, which a dependent waits
 * for as one node (one replica's success, or the replicas' agreed result), not member by
 * member. The scheduler, `coord spawn` validation and `--dry-run` all ask this graph.
 */
import { CAPABILITY_PREFIX, type Plan, type PointSpec, type StreamSpec } from '../plan/types.js';

export { findCycles, MAX_CYCLES } from './cycles.js';

/** A node of the plan graph. */
export type NodeRef = { kind: 'stream'; id: string } | { kind: 'point'; id: string };

/** A group whose dependents wait for it as a whole: one member's success (`first`), or the members' agreed result (`vote`). */
export interface GroupRef {
  kind: 'group';
  id: string;
  gather: 'first' | 'vote';
  members: readonly string[];
}

/** What a stream waits for at run time: a stream (it must succeed), a point (it must be done) or a gathered group. */
export type WaitRef = NodeRef | GroupRef;

/** What a `depends_on` entry names, and the streams or points it stands for (in declaration order). */
export interface Resolution {
  names: 'stream' | 'point' | 'group' | 'capability';
  /** The stream, point or group id, or the capability's name. */
  target: string;
  ids: string[];
}

/** Queries over the dependency graph of a plan; every list is in declaration order. */
export interface PlanGraph {
  streams: Map<string, StreamSpec>;
  points: Map<string, PointSpec>;
  /**
   * What the `depends_on` entry `name` of stream `self` names (undefined: nothing). A stream
   * or point id wins over a group of the same name (a stream `coord spawn` added may take a
   * group's id); `capability:NAME` leaves out `self` and the members of its own group.
   */
  resolve(name: string, self?: string): Resolution | undefined;
  /** What a stream waits for at run time, each node once, in `depends_on` order (unknown ids: none). */
  waitsFor(streamId: string): readonly WaitRef[];
  /** The streams waiting on a stream, point or group (on a member of a group too: its group's dependents wait on it). */
  waitersOn(id: string): string[];
  /** What a stream or point waits for (unknown ids: none). */
  deps(id: string): NodeRef[];
  /** The streams and points waiting on a stream or point. */
  dependents(id: string): NodeRef[];
  /** The convergence points that list a stream. */
  pointsOf(streamId: string): PointSpec[];
  /** Every node, dependencies first (ties in declaration order: streams, then points). Nodes on a cycle are left out. */
  topoOrder(): NodeRef[];
  /**
   * Stream ids grouped by depth over what they wait for (a point or a group adds no level),
   * for `--dry-run`: with unlimited concurrency, streams equal in priority and duration, the
   * scheduler starts them wave by wave.
   */
  waves(): string[][];
  /** Whether following dependencies from any of `from` reaches `target` (`from` included). */
  reaches(from: readonly string[], target: string): boolean;
  /** Adds a stream while the run runs (`coord spawn`): its dependencies must be nodes already. */
  addStream(spec: StreamSpec): void;
}

/**
 * Builds the graph of a validated plan. The run engine keeps one for the whole run: its
 * scheduler, `coord spawn` validation (a stream added to a running run must not close a
 * cycle) and `--dry-run` all traverse this graph.
 */
export function buildGraph(plan: Plan): PlanGraph {
  const streams = new Map<string, StreamSpec>(plan.streams.map((s) => [s.id, s]));
  const points = new Map<string, PointSpec>(plan.points.map((p) => [p.name, p]));
  const groups = Object.values(plan.groups ?? {});
  const nodes: NodeRef[] = [
    ...plan.streams.map((s): NodeRef => ({ kind: 'stream', id: s.id })),
    ...plan.points.map((p): NodeRef => ({ kind: 'point', id: p.name })),
  ];
  const rank = new Map<string, number>(nodes.map((n, i) => [n.id, i]));
  const ref = (id: string): NodeRef | undefined => (streams.has(id) ? { kind: 'stream', id } : points.has(id) ? { kind: 'point', id } : undefined);
  // Members of a `gather: first|vote` group are waited for through their group.
  const gathered = new Map<string, GroupRef>();
  for (const g of groups) {
    if (g.gather === 'all') continue;
    const group: GroupRef = { kind: 'group', id: g.id, gather: g.gather, members: [...g.members] };
    for (const m of g.members) gathered.set(m, group);
  }
  const groupOf = new Map(groups.map((g) => [g.id, g]));

  const resolve = (name: string, self?: string): Resolution | undefined => {
    if (streams.has(name)) return { names: 'stream', target: name, ids: [name] };
    if (points.has(name)) return { names: 'point', target: name, ids: [name] };
    const group = groupOf.get(name);
    if (group) return { names: 'group', target: name, ids: group.members.filter((m) => streams.has(m)) };
    if (!name.startsWith(CAPABILITY_PREFIX)) return undefined;
    const cap = name.slice(CAPABILITY_PREFIX.length);
    const own = self === undefined ? undefined : streams.get(self)?.group;
    const ids = [...streams.values()].filter((o) => o.id !== self && (own === undefined || o.group !== own) && o.capabilities.includes(cap)).map((o) => o.id);
    return { names: 'capability', target: cap, ids };
  };

  const depsOf = new Map<string, NodeRef[]>();
  const revOf = new Map<string, NodeRef[]>();
  const waitsOf = new Map<string, WaitRef[]>();
  for (const n of nodes) {
    depsOf.set(n.id, []);
    revOf.set(n.id, []);
  }
  for (const n of nodes) link(n);
  for (const list of revOf.values()) list.sort((a, b) => (rank.get(a.id) ?? 0) - (rank.get(b.id) ?? 0));

  function link(n: NodeRef): void {
    const targets = n.kind === 'stream' ? (streams.get(n.id)?.dependsOn ?? []).flatMap((t) => resolve(t, n.id)?.ids ?? []) : (points.get(n.id)?.streams ?? []);
    const seen = new Set<string>();
    const waits: WaitRef[] = [];
    for (const t of targets) {
      const r = ref(t);
      if (!r || seen.has(t)) continue;
      seen.add(t);
      depsOf.get(n.id)?.push(r);
      revOf.get(t)?.push(n);
      const group = r.kind === 'stream' ? gathered.get(t) : undefined;
      if (!group) waits.push(r);
      else if (!waits.includes(group)) waits.push(group);
    }
    if (n.kind === 'stream') waitsOf.set(n.id, waits);
  }

  let topo: NodeRef[] | undefined;
  const topoOrder = (): NodeRef[] => {
    if (topo) return [...topo];
    const indeg = new Map<string, number>(nodes.map((n) => [n.id, depsOf.get(n.id)?.length ?? 0]));
    const ready = nodes.filter((n) => indeg.get(n.id) === 0);
    const out: NodeRef[] = [];
    while (ready.length > 0) {
      const n = ready.shift() as NodeRef;
      out.push(n);
      for (const d of revOf.get(n.id) ?? []) {
        const left = (indeg.get(d.id) ?? 0) - 1;
        indeg.set(d.id, left);
        if (left === 0) {
          const r = rank.get(d.id) ?? 0;
          const at = ready.findIndex((x) => (rank.get(x.id) ?? 0) > r);
          ready.splice(at === -1 ? ready.length : at, 0, d);
        }
      }
    }
    topo = out;
    return [...out];
  };
  const streamsAmong = (list: readonly NodeRef[]): string[] => list.filter((d) => d.kind === 'stream').map((d) => d.id);

  return {
    streams,
    points,
    resolve,
    waitsFor: (id) => waitsOf.get(id) ?? [],
    waitersOn: (id) => {
      const group = groupOf.get(id);
      if (streams.has(id) || points.has(id) || !group) return streamsAmong(revOf.get(id) ?? []);
      // A group's dependents wait on each of its members.
      const waiting = new Set(group.members.flatMap((m) => streamsAmong(revOf.get(m) ?? [])));
      return [...waiting].sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
    },
    reaches: (from, target) => {
      const seen = new Set<string>();
      const todo = [...from];
      while (todo.length > 0) {
        const id = todo.pop() ?? '';
        if (id === target) return true;
        if (seen.has(id)) continue;
        seen.add(id);
        for (const d of depsOf.get(id) ?? []) todo.push(d.id);
      }
      return false;
    },
    addStream: (spec) => {
      if (rank.has(spec.id)) throw new Error(`duplicate node "${spec.id}"`);
      const n: NodeRef = { kind: 'stream', id: spec.id };
      streams.set(spec.id, spec);
      rank.set(spec.id, nodes.length);
      nodes.push(n);
      depsOf.set(spec.id, []);
      revOf.set(spec.id, []);
      link(n);
      topo = undefined;
    },
    deps: (id) => [...(depsOf.get(id) ?? [])],
    dependents: (id) => [...(revOf.get(id) ?? [])],
    pointsOf: (streamId) => [...points.values()].filter((p) => p.streams.includes(streamId)),
    topoOrder,
    waves: () => {
      // The depth of what a stream waits for: a point's or a group's is its deepest stream's.
      const depth = new Map<string, number>();
      const deepest = (ids: readonly string[]): number => Math.max(-1, ...ids.map((id) => depth.get(id) ?? -1));
      const depthOf = (w: WaitRef): number => (w.kind === 'group' ? deepest(w.members) : (depth.get(w.id) ?? -1));
      for (const n of topoOrder()) {
        if (n.kind === 'point') depth.set(n.id, deepest(points.get(n.id)?.streams ?? []));
        else depth.set(n.id, Math.max(-1, ...(waitsOf.get(n.id) ?? []).map(depthOf)) + 1);
      }
      const waves: string[][] = [];
      for (const id of streams.keys()) {
        const d = depth.get(id);
        if (d === undefined) continue;
        while (waves.length <= d) waves.push([]);
        waves[d]?.push(id);
      }
      return waves.filter((w) => w.length > 0);
    },
  };
}
