/** The run's one graph: what `coord spawn` validation asks of it (reaches) and how a spawned stream joins it. */
import { describe, expect, it } from '@jest/globals';
import { buildGraph } from '../../src/graph/graph.js';
import type { StreamSpec } from '../../src/plan/types.js';
import { valid, yaml } from '../plan/helpers.js';

const plan = () =>
  valid(
    yaml(
      'agent_coordination:',
      '  convergence_points:',
      '    - { name: gate, type: barrier, streams: [a, b] }',
      'streams:',
      '  - { id: a, command: x }',
      '  - { id: b, command: x, depends_on: [a] }',
      '  - { id: c, command: x, depends_on: [gate] }',
      '  - { id: d, command: x }',
    ),
  );

const spawned = (id: string, dependsOn: string[]): StreamSpec => ({
  id,
  command: 'x',
  dependsOn,
  capabilities: [],
  resources: {},
  outputs: [],
  isolation: 'isolated',
  retries: 0,
  env: {},
  priority: 0,
});

describe('the run graph', () => {
  it('follows streams and points through their dependencies', () => {
    const g = buildGraph(plan());
    expect(g.reaches(['c'], 'a')).toBe(true); // c -> gate -> a
    expect(g.reaches(['b'], 'a')).toBe(true);
    expect(g.reaches(['a'], 'b')).toBe(false);
    expect(g.reaches(['d'], 'a')).toBe(false);
    expect(g.reaches(['a'], 'a')).toBe(true);
    expect(g.reaches([], 'a')).toBe(false);
    expect(g.reaches(['capability:x', 'nobody'], 'a')).toBe(false);
  });

  it('takes a spawned stream in: later spawns see its dependencies, the order puts it after them', () => {
    const g = buildGraph(plan());
    g.addStream(spawned('e', ['c', 'd']));
    expect(g.deps('e')).toEqual([
      { kind: 'stream', id: 'c' },
      { kind: 'stream', id: 'd' },
    ]);
    expect(g.dependents('d')).toEqual([{ kind: 'stream', id: 'e' }]);
    expect(g.reaches(['e'], 'a')).toBe(true);
    expect(g.reaches(['e'], 'b')).toBe(true);
    const order = g.topoOrder().map((n) => n.id);
    expect(order.indexOf('e')).toBeGreaterThan(order.indexOf('c'));
    expect(order.at(-1)).toBe('e');
    g.addStream(spawned('f', ['e']));
    expect(g.reaches(['f'], 'd')).toBe(true);
    expect(() => g.addStream(spawned('a', []))).toThrow('duplicate node "a"');
  });
});
