/** What the graph says a `depends_on` entry names, and what a stream waits for at run time. */
import { describe, expect, it } from '@jest/globals';
import { buildGraph, type PlanGraph } from '../../src/graph/graph.js';
import type { Plan, StreamSpec } from '../../src/plan/types.js';
import { valid, yaml } from '../plan/helpers.js';

const planText = yaml(
  'agent_coordination:',
  '  convergence_points:',
  '    - { name: analysis, type: barrier, streams: [scan, lint] }',
  '    - { name: gathered, type: progressive, streams: [shard] }',
  'streams:',
  '  - { id: scan, command: x, capabilities: [probe] }',
  '  - { id: lint, command: x }',
  '  - { id: solve, replicas: 3, gather: first, command: x, capabilities: [answer] }',
  '  - { id: judge, replicas: 3, gather: vote, command: x, depends_on: [analysis] }',
  '  - { id: shard, for_each: [a, b], command: x, depends_on: ["capability:probe"], capabilities: [probe] }',
  '  - { id: report, command: x, depends_on: [solve, judge] }',
  '  - { id: ship, command: x, depends_on: [gathered, report, "capability:answer"] }',
  '  - { id: late, command: x, depends_on: [lint] }',
);

const spec = (id: string, dependsOn: string[], more: Partial<StreamSpec> = {}): StreamSpec => ({
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
  ...more,
});

describe('what a depends_on entry names', () => {
  const g = buildGraph(valid(planText));

  it('a stream, a point, a group (its members) or a capability (the streams offering it)', () => {
    expect(g.resolve('scan')).toEqual({ names: 'stream', target: 'scan', ids: ['scan'] });
    expect(g.resolve('analysis')).toEqual({ names: 'point', target: 'analysis', ids: ['analysis'] });
    expect(g.resolve('solve')).toEqual({ names: 'group', target: 'solve', ids: ['solve-1', 'solve-2', 'solve-3'] });
    expect(g.resolve('shard')).toEqual({ names: 'group', target: 'shard', ids: ['shard-1', 'shard-2'] });
    expect(g.resolve('capability:probe')).toEqual({ names: 'capability', target: 'probe', ids: ['scan', 'shard-1', 'shard-2'] });
    expect(g.resolve('capability:nobody')).toEqual({ names: 'capability', target: 'nobody', ids: [] });
    expect(g.resolve('ghost')).toBeUndefined();
  });

  it('a capability leaves out the asking stream and its own group, as the plan loader does', () => {
    expect(g.resolve('capability:probe', 'shard-1')?.ids).toEqual(['scan']);
    expect(g.resolve('capability:probe', 'scan')?.ids).toEqual(['shard-1', 'shard-2']);
    // the plan loader expanded shard's capability:probe the same way
    expect(g.streams.get('shard-2')?.dependsOn).toEqual(g.resolve('capability:probe', 'shard-2')?.ids);
  });

  it('a stream id wins over a group of the same name (coord spawn may take a group id)', () => {
    const plan = valid(planText);
    const h = buildGraph(plan);
    h.addStream(spec('solve', []));
    expect(h.resolve('solve')).toEqual({ names: 'stream', target: 'solve', ids: ['solve'] });
  });
});

describe('what a stream waits for', () => {
  const g = buildGraph(valid(planText));

  it('streams and points as they are; gather first and vote groups as one node each', () => {
    expect(g.waitsFor('scan')).toEqual([]);
    expect(g.waitsFor('judge-2')).toEqual([{ kind: 'point', id: 'analysis' }]);
    expect(g.waitsFor('shard-1')).toEqual([{ kind: 'stream', id: 'scan' }]);
    expect(g.waitsFor('report')).toEqual([
      { kind: 'group', id: 'solve', gather: 'first', members: ['solve-1', 'solve-2', 'solve-3'] },
      { kind: 'group', id: 'judge', gather: 'vote', members: ['judge-1', 'judge-2', 'judge-3'] },
    ]);
    // capability:answer names solve's members: they are waited for as their group
    expect(g.waitsFor('ship')).toEqual([
      { kind: 'point', id: 'gathered' },
      { kind: 'stream', id: 'report' },
      { kind: 'group', id: 'solve', gather: 'first', members: ['solve-1', 'solve-2', 'solve-3'] },
    ]);
    expect(g.waitsFor('ghost')).toEqual([]);
  });

  it('a gather: all group is its members, each waited for', () => {
    const h = buildGraph(valid(yaml('streams:', '  - { id: m, for_each: [a, b], command: x }', '  - { id: after, command: x, depends_on: [m] }')));
    expect(h.waitsFor('after')).toEqual([
      { kind: 'stream', id: 'm-1' },
      { kind: 'stream', id: 'm-2' },
    ]);
  });

  it('resolves names the plan loader did not expand (a stream registered through the library)', () => {
    const plan: Plan = { ...valid(planText) };
    plan.streams = [...plan.streams, spec('lib', ['solve', 'capability:probe', 'nothing'])];
    const h = buildGraph(plan);
    expect(h.waitsFor('lib')).toEqual([
      { kind: 'group', id: 'solve', gather: 'first', members: ['solve-1', 'solve-2', 'solve-3'] },
      { kind: 'stream', id: 'scan' },
      { kind: 'stream', id: 'shard-1' },
      { kind: 'stream', id: 'shard-2' },
    ]);
    expect(h.deps('lib').map((d) => d.id)).toEqual(['solve-1', 'solve-2', 'solve-3', 'scan', 'shard-1', 'shard-2']);
  });

  it('a spawned stream waits for what it was given', () => {
    const h = buildGraph(valid(planText));
    h.addStream(spec('extra', ['judge-1', 'late']));
    expect(h.waitsFor('extra')).toEqual([
      { kind: 'group', id: 'judge', gather: 'vote', members: ['judge-1', 'judge-2', 'judge-3'] },
      { kind: 'stream', id: 'late' },
    ]);
    expect(h.waitersOn('late')).toEqual(['extra']);
  });
});

describe('who waits on a node', () => {
  const g: PlanGraph = buildGraph(valid(planText));

  it("streams only, in declaration order; a member is waited on by its group's dependents", () => {
    expect(g.waitersOn('scan')).toEqual(['shard-1', 'shard-2']); // not the point analysis
    expect(g.waitersOn('analysis')).toEqual(['judge-1', 'judge-2', 'judge-3']);
    expect(g.waitersOn('solve-2')).toEqual(['report', 'ship']);
    expect(g.waitersOn('solve')).toEqual(['report', 'ship']);
    expect(g.waitersOn('judge')).toEqual(['report']);
    expect(g.waitersOn('ship')).toEqual([]);
    expect(g.waitersOn('ghost')).toEqual([]);
  });
});

describe('waves', () => {
  it('a group or a point adds no level; a dependent of a group comes after its deepest member', () => {
    const g = buildGraph(valid(planText));
    expect(g.waves()).toEqual([
      ['scan', 'lint', 'solve-1', 'solve-2', 'solve-3'],
      ['judge-1', 'judge-2', 'judge-3', 'shard-1', 'shard-2', 'late'],
      ['report'],
      ['ship'],
    ]);
  });

  it('take a spawned stream in', () => {
    const g = buildGraph(valid(planText));
    g.addStream(spec('extra', ['ship']));
    expect(g.waves().at(-1)).toEqual(['extra']);
  });
});
