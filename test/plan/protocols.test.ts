/** Plan fields of the protocols issue: stream `priority`, a point's `approve`, `gather: vote`. */
import { describe, expect, it } from '@jest/globals';
import { errorsOf, valid, yaml } from './helpers.js';

describe('protocol fields', () => {
  it('reads priority (default 0), approve with its defaults, and gather: vote', () => {
    const plan = valid(
      yaml(
        'agent_coordination:',
        '  convergence_points:',
        '    - { name: release, streams: [a, b], approve: { timeout: 5m } }',
        '    - { name: votes, streams: [a, rep], approve: { quorum: 60%, voters: [rep, alice] } }',
        'streams:',
        '  - { id: a, command: "true", priority: 5 }',
        '  - { id: b, command: "true" }',
        '  - { id: rep, command: "true", replicas: 3, gather: vote }',
      ),
    );
    expect(plan.streams.map((s) => [s.id, s.priority])).toEqual([
      ['a', 5],
      ['b', 0],
      ['rep-1', 0],
      ['rep-2', 0],
      ['rep-3', 0],
    ]);
    expect(plan.points[0]?.approve).toEqual({ quorum: 'majority', voters: ['a', 'b'], timeoutMs: 300_000 });
    // a group id among voters stands for its replicas
    expect(plan.points[1]?.approve).toEqual({ quorum: '60%', voters: ['rep-1', 'rep-2', 'rep-3', 'alice'] });
    expect(plan.groups['rep']).toEqual({ id: 'rep', members: ['rep-1', 'rep-2', 'rep-3'], gather: 'vote' });
  });

  it('refuses a quorum the voters cannot reach, a bad quorum, and bad voter names, with their places', () => {
    const errors = errorsOf(
      yaml(
        'agent_coordination:',
        '  convergence_points:',
        '    - { name: p, streams: [a, b], approve: { quorum: 3 } }',
        '    - { name: q, streams: [a], approve: { quorum: most } }',
        '    - { name: r, streams: [b], approve: { voters: ["no/slash"] } }',
        '    - { name: s, streams: [a], approve: { quorum: 0% } }',
        'streams:',
        '  - { id: a, command: "true", priority: 1.5 }',
        '  - { id: b, command: "true" }',
      ),
    );
    expect(errors.join('\n')).toMatch(/4:.*quorum.*bad quorum "most"/);
    expect(errors.join('\n')).toMatch(/5:.*voters.*no\/slash/);
    expect(errors.join('\n')).toMatch(/8:.*priority.*integer/);
    // semantic: checked once the schema errors are fixed
    const later = errorsOf(
      yaml(
        'agent_coordination:',
        '  convergence_points:',
        '    - { name: p, streams: [a, b], approve: { quorum: 3 } }',
        '    - { name: s, streams: [a], approve: { quorum: 0% } }',
        'streams:',
        '  - { id: a, command: "true" }',
        '  - { id: b, command: "true" }',
      ),
    );
    expect(later).toEqual([
      '3:54: convergence_points[0].approve.quorum: quorum 3 is more than the 2 voters (a, b)',
      '4:51: convergence_points[1].approve.quorum: bad quorum "0%": a percentage must be more than 0% and at most 100%',
    ]);
  });
});
