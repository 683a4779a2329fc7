/**
 * Elementary cycles of a small directed graph (Johnson's algorithm within each strongly
 * connected component), for "dependency cycle: a -> p1 -> b -> a" errors.
 */

/** At most this many cycles are reported; a plan with more has bigger problems. */
export const MAX_CYCLES = 100;

/**
 * Every elementary cycle of the graph `edges` (node → the nodes it points at), each once, as
 * a path that starts at its earliest node (in the map's insertion order, then first mention)
 * and closes on it: `['a', 'p1', 'b', 'a']`. A self-loop is `['a', 'a']`. Cycles are ordered
 * by their start node, then by path; at most {@link MAX_CYCLES} are returned.
 */
export function findCycles(edges: Map<string, string[]>): string[][] {
  const order: string[] = [];
  const index = new Map<string, number>();
  const add = (n: string): void => {
    if (!index.has(n)) {
      index.set(n, order.length);
      order.push(n);
    }
  };
  for (const [n, to] of edges) {
    add(n);
    for (const m of to) add(m);
  }
  const adj: number[][] = order.map((n) => [...new Set((edges.get(n) ?? []).map((m) => index.get(m) ?? -1))]);
  const cycles: number[][] = [];
  // Johnson: take the earliest node s of a component, list the cycles through s, drop s,
  // and go on with the components of what remains.
  const work = components(adj).filter((c) => nonTrivial(adj, c));
  while (work.length > 0 && cycles.length < MAX_CYCLES) {
    const comp = work.shift() as number[];
    const s = comp[0] as number;
    const within = new Set(comp);
    circuits(adj, s, within, cycles);
    within.delete(s);
    work.push(...components(adj, within).filter((c) => nonTrivial(adj, c)));
    work.sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
  }
  cycles.sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const d = (a[i] ?? 0) - (b[i] ?? 0);
      if (d !== 0) return d;
    }
    return a.length - b.length;
  });
  return cycles.slice(0, MAX_CYCLES).map((c) => c.map((i) => order[i] ?? ''));
}

/** A component with a cycle: more than one node, or a self-loop. */
function nonTrivial(adj: number[][], comp: number[]): boolean {
  const first = comp[0];
  return comp.length > 1 || (first !== undefined && (adj[first] ?? []).includes(first));
}

/** Strongly connected components (Tarjan, iterative) of the subgraph `within` (default: all), each sorted. */
function components(adj: number[][], within?: Set<number>): number[][] {
  const n = adj.length;
  const inside = (v: number): boolean => v >= 0 && (within === undefined || within.has(v));
  const idx = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const onStack = new Array<boolean>(n).fill(false);
  const stack: number[] = [];
  const out: number[][] = [];
  let counter = 0;
  for (let root = 0; root < n; root++) {
    if (idx[root] !== -1 || !inside(root)) continue;
    const work: Array<{ v: number; i: number }> = [{ v: root, i: 0 }];
    idx[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = true;
    while (work.length > 0) {
      const top = work[work.length - 1];
      if (!top) break;
      const succ = adj[top.v] ?? [];
      if (top.i < succ.length) {
        const w = succ[top.i++] ?? -1;
        if (!inside(w)) continue;
        if (idx[w] === -1) {
          idx[w] = low[w] = counter++;
          stack.push(w);
          onStack[w] = true;
          work.push({ v: w, i: 0 });
        } else if (onStack[w]) {
          low[top.v] = Math.min(low[top.v] ?? 0, idx[w] ?? 0);
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low[parent.v] = Math.min(low[parent.v] ?? 0, low[top.v] ?? 0);
      if (low[top.v] === idx[top.v]) {
        const comp: number[] = [];
        for (;;) {
          const w = stack.pop();
          if (w === undefined) break;
          onStack[w] = false;
          comp.push(w);
          if (w === top.v) break;
        }
        out.push(comp.sort((a, b) => a - b));
      }
    }
  }
  return out.sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
}

/** Johnson's circuit search for the cycles through `s` inside `within` (iterative); appends to `out`. */
function circuits(adj: number[][], s: number, within: Set<number>, out: number[][]): void {
  const blocked = new Set<number>();
  const blockMap = new Map<number, Set<number>>();
  const path: number[] = [];
  const frames: Array<{ v: number; i: number; found: boolean }> = [];
  const enter = (v: number): void => {
    path.push(v);
    blocked.add(v);
    frames.push({ v, i: 0, found: false });
  };
  const unblock = (u: number): void => {
    const todo = [u];
    while (todo.length > 0) {
      const x = todo.pop() as number;
      if (!blocked.delete(x)) continue;
      const bs = blockMap.get(x);
      if (bs) {
        todo.push(...bs);
        bs.clear();
      }
    }
  };
  enter(s);
  while (frames.length > 0) {
    const f = frames[frames.length - 1] as { v: number; i: number; found: boolean };
    const succ = adj[f.v] ?? [];
    if (f.i < succ.length && out.length < MAX_CYCLES) {
      const w = succ[f.i++] as number;
      if (!within.has(w)) continue;
      if (w === s) {
        out.push([...path, s]);
        f.found = true;
      } else if (!blocked.has(w)) enter(w);
      continue;
    }
    if (f.found) unblock(f.v);
    else {
      for (const w of succ) {
        if (!within.has(w)) continue;
        let bs = blockMap.get(w);
        if (!bs) blockMap.set(w, (bs = new Set()));
        bs.add(f.v);
      }
    }
    path.pop();
    frames.pop();
    const parent = frames[frames.length - 1];
    if (parent && f.found) parent.found = true;
  }
}
