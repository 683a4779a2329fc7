/**
 * Where each stream and convergence point entry starts in the plan file (1-based line and
 * column): what the GitHub Actions annotations point at. The loader has no `extends` or
 * templates (stream_configuration gives defaults, not entries), so an entry is where it is written.
 */
import { describe, expect, it } from '@jest/globals';
import { valid, yaml } from './helpers.js';

const at = (items: ReadonlyArray<{ pos?: { line: number; col: number } }>) => items.map((s) => s.pos);

describe('entry positions', () => {
  it('block style: the line of the entry, the column of its first key', () => {
    const plan = valid(
      yaml(
        '# a comment',
        'name: p',
        '',
        'agent_coordination:',
        '  convergence_points:',
        '    - name: gate',
        '      streams: [a]',
        '    -   name: second',
        '        streams: [b]',
        'streams:',
        '  - id: a',
        '    command: echo a',
        '',
        '  # b waits',
        '  -',
        '    id: b',
        '    command: echo b',
      ),
    );
    expect(plan.streams.map((s) => [s.id, s.pos])).toEqual([
      ['a', { line: 11, col: 5 }],
      // a dash alone on its line: the entry starts where its mapping does
      ['b', { line: 16, col: 5 }],
    ]);
    expect(at(plan.points)).toEqual([
      { line: 6, col: 7 },
      { line: 8, col: 9 },
    ]);
  });

  it('flow style: the opening brace of each entry', () => {
    const plan = valid(
      yaml(
        'agent_coordination: { convergence_points: [{ name: gate, streams: [a, b] }] }',
        'streams: [{ id: a, command: echo a },',
        '  { id: b, command: echo b }]',
      ),
    );
    expect(at(plan.streams)).toEqual([
      { line: 2, col: 11 },
      { line: 3, col: 3 },
    ]);
    expect(at(plan.points)).toEqual([{ line: 1, col: 44 }]);
  });

  it('a block list of flow entries, with CRLF line ends', () => {
    const plan = valid(['streams:', '  - { id: a, command: echo a }', '  - {id: b, command: echo b}', ''].join('\r\n'));
    expect(at(plan.streams)).toEqual([
      { line: 2, col: 5 },
      { line: 3, col: 5 },
    ]);
  });

  it('streams expanded by for_each and replicas stand at the line of the entry they came from', () => {
    const plan = valid(
      yaml(
        'streams:',
        '  - id: prep',
        '    command: echo prep',
        '  - id: shard',
        '    for_each: [x, y, z]',
        '    command: echo $COORD_ITEM',
        '  - id: vote',
        '    replicas: 2',
        '    command: echo same',
      ),
    );
    expect(plan.streams.map((s) => `${s.id}@${s.pos?.line}`)).toEqual(['prep@2', 'shard-1@4', 'shard-2@4', 'shard-3@4', 'vote-1@7', 'vote-2@7']);
  });

  it('an anchored entry stands on its line, at its brace after the anchor', () => {
    const plan = valid(
      yaml('agent_coordination:', '  convergence_points:', '    - &gate { name: gate, streams: [a] }', 'streams:', '  - id: a', '    command: echo a'),
    );
    expect(at(plan.points)).toEqual([{ line: 3, col: 13 }]);
  });
});
