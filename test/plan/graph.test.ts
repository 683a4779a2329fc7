import { describe, expect, it } from '@jest/globals';
import { buildGraph, findCycles, MAX_CYCLES } from '../../src/graph/graph.js';
import { valid, yaml } from './helpers.js';

const specLike = yaml(
  'agent_coordination:',
  '  convergence_points:',
  '    - name: initial_analysis',
  '      type: barrier',
  '      streams: [research, planning]',
  '    - name: final',
  '      streams: [code_stream, docs]',
  'streams:',
  '  - { id: research, command: x }',
  '  - { id: planning, command: x, depends_on: [] }',
  '  - { id: code_stream, command: x, depends_on: [initial_analysis] }',
  '  - { id: docs, command: x, depends_on: [research] }',
  '  - { id: ship, command: x, depends_on: [final, docs] }',
);

describe('buildGraph', () => {
  const g = buildGraph(valid(specLike));

  it('indexes streams and points', () => {
    expect([...g.streams.keys()]).toEqual(['research', 'planning', 'code_stream', 'docs', 'ship']);
    expect([...g.points.keys()]).toEqual(['initial_analysis', 'final']);
  });

  it('answers deps, dependents and pointsOf', () => {
    expect(g.deps('code_stream')).toEqual([{ kind: 'point', id: 'initial_analysis' }]);
    expect(g.deps('initial_analysis')).toEqual([
      { kind: 'stream', id: 'research' },
      { kind: 'stream', id: 'planning' },
    ]);
    expect(g.deps('ship')).toEqual([
      { kind: 'point', id: 'final' },
      { kind: 'stream', id: 'docs' },
    ]);
    expect(g.deps('nope')).toEqual([]);
    expect(g.dependents('research')).toEqual([
      { kind: 'stream', id: 'docs' },
      { kind: 'point', id: 'initial_analysis' },
    ]);
    expect(g.dependents('final')).toEqual([{ kind: 'stream', id: 'ship' }]);
    expect(g.dependents('ship')).toEqual([]);
    expect(g.pointsOf('research').map((p) => p.name)).toEqual(['initial_analysis']);
    expect(g.pointsOf('docs').map((p) => p.name)).toEqual(['final']);
    expect(g.pointsOf('ship')).toEqual([]);
  });

  it('orders nodes topologically, ties in declaration order', () => {
    expect(g.topoOrder().map((n) => `${n.kind}:${n.id}`)).toEqual([
      'stream:research',
      'stream:planning',
      'stream:docs',
      'point:initial_analysis',
      'stream:code_stream',
      'point:final',
      'stream:ship',
    ]);
  });

  it('groups streams into waves (points add no level)', () => {
    expect(g.waves()).toEqual([['research', 'planning'], ['code_stream', 'docs'], ['ship']]);
  });

  it('handles a plan without points', () => {
    const one = buildGraph(valid('streams: [{ id: a, command: x }, { id: b, command: x, depends_on: [a] }]\n'));
    expect(one.waves()).toEqual([['a'], ['b']]);
    expect(one.topoOrder()).toEqual([
      { kind: 'stream', id: 'a' },
      { kind: 'stream', id: 'b' },
    ]);
  });
});

describe('findCycles', () => {
  const graph = (o: Record<string, string[]>): Map<string, string[]> => new Map(Object.entries(o));

  it('finds nothing in a DAG', () => {
    expect(findCycles(graph({ a: ['b'], b: ['c'], c: [] }))).toEqual([]);
    expect(findCycles(new Map())).toEqual([]);
  });

  it('reports each cycle once, closing on its earliest node', () => {
    expect(findCycles(graph({ b: ['c'], c: ['a'], a: ['b'] }))).toEqual([['b', 'c', 'a', 'b']]);
    expect(findCycles(graph({ a: ['b', 'c'], b: ['a'], c: ['a'], x: ['x'] }))).toEqual([
      ['a', 'b', 'a'],
      ['a', 'c', 'a'],
      ['x', 'x'],
    ]);
    expect(findCycles(graph({ a: ['b', 'b'], b: ['a'] }))).toEqual([['a', 'b', 'a']]);
  });

  it('is deterministic and bounded', () => {
    const nodes = ['a', 'b', 'c', 'd', 'e', 'f'];
    const complete = graph(Object.fromEntries(nodes.map((n) => [n, nodes.filter((m) => m !== n)])));
    const once = findCycles(complete);
    expect(once).toHaveLength(MAX_CYCLES);
    expect(findCycles(complete)).toEqual(once);
    const k4 = graph(Object.fromEntries(nodes.slice(0, 4).map((n) => [n, nodes.slice(0, 4).filter((m) => m !== n)])));
    expect(findCycles(k4)).toHaveLength(6 + 8 + 6);
  });

  it('copes with long chains', () => {
    const n = 5000;
    const chain = new Map<string, string[]>();
    for (let i = 0; i < n; i++) chain.set(`n${i}`, [`n${(i + 1) % n}`]);
    const cycles = findCycles(chain);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]).toHaveLength(n + 1);
  });
});
