/**
 * The run-time DAG of a valid plan: streams wait for their `depends_on` (streams or
 * convergence points), a convergence point waits for its streams. Stream ids and point names
 * share one namespace (a valid plan never lets them collide).
 */
import type { Plan, PointSpec, StreamSpec } from '../plan/types.js';

export { findCycles, MAX_CYCLES } from './cycles.js';

/** A node of the plan graph. */
export type NodeRef = { kind: 'stream'; id: string } | { kind: 'point'; id: string };

/** Queries over the dependency graph of a plan; every list is in declaration order. */
export interface PlanGraph {
  streams: Map<string, StreamSpec>;
  points: Map<string, PointSpec>;
  /** What a stream or point waits for (unknown ids: none). */
  deps(id: string): NodeRef[];
  /** The streams and points waiting on a stream or point. */
  dependents(id: string): NodeRef[];
  /** The convergence points that list a stream. */
  pointsOf(streamId: string): PointSpec[];
  /** Every node, dependencies first (ties in declaration order: streams, then points). Nodes on a cycle are left out. */
  topoOrder(): NodeRef[];
  /** Stream ids grouped by depth (a point adds no level), for `--dry-run`. */
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
  const nodes: NodeRef[] = [
    ...plan.streams.map((s): NodeRef => ({ kind: 'stream', id: s.id })),
    ...plan.points.map((p): NodeRef => ({ kind: 'point', id: p.name })),
  ];
  const rank = new Map<string, number>(nodes.map((n, i) => [n.id, i]));
  const ref = (id: string): NodeRef | undefined =>
    streams.has(id) ? { kind: 'stream', id } : points.has(id) ? { kind: 'point', id } : undefined;

  const depsOf = new Map<string, NodeRef[]>();
  const revOf = new Map<string, NodeRef[]>();
  for (const n of nodes) {
    depsOf.set(n.id, []);
    revOf.set(n.id, []);
  }
  for (const n of nodes) link(n);
  for (const list of revOf.values()) list.sort((a, b) => (rank.get(a.id) ?? 0) - (rank.get(b.id) ?? 0));

  function link(n: NodeRef): void {
    const targets = n.kind === 'stream' ? (streams.get(n.id)?.dependsOn ?? []) : (points.get(n.id)?.streams ?? []);
    const seen = new Set<string>();
    for (const t of targets) {
      const r = ref(t);
      if (!r || seen.has(t)) continue;
      seen.add(t);
      depsOf.get(n.id)?.push(r);
      revOf.get(t)?.push(n);
    }
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

  return {
    streams,
    points,
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
    pointsOf: (streamId) => plan.points.filter((p) => p.streams.includes(streamId)),
    topoOrder,
    waves: () => {
      const depth = new Map<string, number>();
      for (const n of topoOrder()) {
        const ds = (depsOf.get(n.id) ?? []).map((d) => depth.get(d.id) ?? -1);
        const deepest = Math.max(-1, ...ds);
        depth.set(n.id, n.kind === 'stream' ? deepest + 1 : deepest);
      }
      const waves: string[][] = [];
      for (const s of plan.streams) {
        const d = depth.get(s.id);
        if (d === undefined) continue;
        while (waves.length <= d) waves.push([]);
        waves[d]?.push(s.id);
      }
      return waves.filter((w) => w.length > 0);
    },
  };
}
