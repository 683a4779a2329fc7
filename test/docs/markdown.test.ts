/** The markdown readers the docs tests rely on, on small texts whose answers are known. */
import { describe, expect, it } from '@jest/globals';
import { anchors, blocks, commands, coordInvocations, headings, links, outputPatterns, section, simpleCommands, slug, unmatchedTail } from './markdown.js';

describe('slug (GitHub anchors)', () => {
  it.each([
    ['Set up', 'set-up'],
    ['`--json` shapes', '--json-shapes'],
    ['`streams[]`', 'streams'],
    ['Heartbeats and the guardian', 'heartbeats-and-the-guardian'],
    ['Cold start (median of 20)', 'cold-start-median-of-20'],
    ['Guardian: detection latency (20 stalled streams, heartbeat timeout 2 s)', 'guardian-detection-latency-20-stalled-streams-heartbeat-timeout-2-s'],
    ['Change sets (`node bench/index.js changeset`; medians of 3)', 'change-sets-node-benchindexjs-changeset-medians-of-3'],
    ['A worked example: three agents on one project', 'a-worked-example-three-agents-on-one-project'],
    ['snake_case and **bold**', 'snake_case-and-bold'],
    ['[a link](x.md) inside', 'a-link-inside'],
    ['Überblick — äußerst', 'überblick--äußerst'],
  ])('%s → %s', (heading, anchor) => {
    expect(slug(heading)).toBe(anchor);
  });

  it('numbers a heading seen before, as GitHub does', () => {
    expect([...anchors('# Workers\n## Keys\ntext\n## Keys\n### Keys\n')]).toEqual(['workers', 'keys', 'keys-1', 'keys-2']);
  });
});

const PAGE = [
  '# Page', // 1
  '', // 2
  'See [the plan](plan.md#the-plan) and ![a picture](img.png).', // 3
  'Not a link: `[x](nowhere.md)`, nor ``a `[y](z.md)` b``.', // 4
  '', // 5
  '```sh', // 6
  '# a comment, not a heading', // 7
  'echo "[no](link.md)"', // 8
  '```', // 9
  '', // 10
  '## Part two', // 11
  '', // 12
  'A [link that', // 13
  'wraps](cli.md#x "with a title") and [an anchor](#page).', // 14
  '', // 15
  '```yaml fragment', // 16
  'a: 1', // 17
  '```', // 18
  '', // 19
  '### Deeper', // 20
  'deep', // 21
  '## Part three', // 22
  'three', // 23
].join('\n');

describe('reading a page', () => {
  it('finds headings outside fences only', () => {
    expect(headings(PAGE)).toEqual([
      { level: 1, text: 'Page', line: 1 },
      { level: 2, text: 'Part two', line: 11 },
      { level: 3, text: 'Deeper', line: 20 },
      { level: 2, text: 'Part three', line: 22 },
    ]);
  });

  it('finds links and images outside fences and code spans, with their lines', () => {
    expect(links(PAGE)).toEqual([
      { target: 'plan.md#the-plan', line: 3 },
      { target: 'img.png', line: 3 },
      { target: 'cli.md#x', line: 13 },
      { target: '#page', line: 14 },
    ]);
  });

  it('reads fenced blocks with their info strings', () => {
    expect(blocks(PAGE)).toEqual([
      { info: 'sh', text: '# a comment, not a heading\necho "[no](link.md)"\n', line: 6 },
      { info: 'yaml fragment', text: 'a: 1\n', line: 16 },
    ]);
    expect(() => blocks('```sh\nopen\n')).toThrow('never closed');
  });

  it('cuts a section at the next heading of its level or higher', () => {
    const two = section(PAGE, 'Part two');
    expect(two).toContain('### Deeper');
    expect(two).toContain('deep');
    expect(two).not.toContain('three');
    expect(section(PAGE, 'Part three').trim()).toBe('three');
    expect(() => section(PAGE, 'Part four')).toThrow('no heading');
  });

  it('takes the command lines of a shell block', () => {
    expect(commands('# setup\ncoord run plan.yaml   # go\n\n  coord status\n')).toEqual(['coord run plan.yaml   # go', 'coord status']);
  });
});

describe('output blocks as patterns', () => {
  const shown = [
    'STREAM    STATE      TIME  EXIT',
    'research  succeeded  1.0s  0',
    'report    succeeded  9ms   0',
    '',
    'run 20261123-223001-4f2a1c succeeded',
    'applied to /home/me/tally: 3 added',
  ].join('\n');
  const patterns = outputPatterns(`${shown}\n`);

  it('matches the same lines with other times, run ids, paths and column widths', () => {
    const actual = [
      'noise before the summary',
      'STREAM  STATE      TIME     EXIT',
      'research  succeeded  4m05s  0',
      'report    succeeded  12.3s   0',
      '',
      'run 20261202-150348-69196e succeeded',
      'applied to /tmp/coord-test-x/tally: 3 added',
      '',
    ].join('\n');
    expect(unmatchedTail(actual, patterns)).toEqual([]);
  });

  it('tells apart a different state, count, word or missing line', () => {
    const base = [
      'STREAM STATE TIME EXIT',
      'research succeeded 1.0s 0',
      'report succeeded 9ms 0',
      '',
      'run 20261202-150348-69196e succeeded',
      'applied to /x: 3 added',
    ];
    const changed = (i: number, line: string): string => base.map((l, j) => (j === i ? line : l)).join('\n');
    expect(unmatchedTail(base.join('\n'), patterns)).toEqual([]);
    expect(unmatchedTail(changed(1, 'research failed 1.0s 0'), patterns)).toHaveLength(1);
    expect(unmatchedTail(changed(2, 'report succeeded 9ms 1'), patterns)).toHaveLength(1);
    expect(unmatchedTail(changed(2, 'report succeeded soon 0'), patterns)).toHaveLength(1);
    expect(unmatchedTail(changed(4, 'run 2026-x succeeded'), patterns)).toHaveLength(1);
    expect(unmatchedTail(changed(5, 'applied to x: 3 added'), patterns)).toHaveLength(1);
    expect(unmatchedTail(changed(3, 'extra'), patterns)).toHaveLength(1);
    expect(unmatchedTail(base.slice(1).join('\n'), patterns).length).toBeGreaterThan(0);
  });
});

describe('coord command lines', () => {
  it('splits a line into simple commands, quotes removed, comments dropped', () => {
    expect(simpleCommands(`v=$(coord state get --json | jq .version) && echo "a  b" 'c d'\\ e # note`)).toEqual([
      ['v='],
      ['coord', 'state', 'get', '--json'],
      ['jq', '.version'],
      ['echo', 'a  b', 'c d e'],
    ]);
  });

  it("finds coord's arguments, after keywords, assignments and npx, and inside a quoted command", () => {
    expect(coordInvocations('while f=$(coord queue recv files --wait 30s); do eslint "$f"; done')).toEqual([['queue', 'recv', 'files', '--wait', '30s']]);
    expect(coordInvocations('COORD_BACKEND=redis://h coord status')).toEqual([['status']]);
    expect(coordInvocations('npx coord run a.yaml; npx @coord-run/coord status')).toEqual([['run', 'a.yaml'], ['status']]);
    expect(coordInvocations(`coord lock f -- sh -c 'cat f | coord write --fence "$T" f'`)).toEqual([
      ['lock', 'f', '--', 'sh', '-c', 'cat f | coord write --fence "$T" f'],
      ['write', '--fence', '$T', 'f'],
    ]);
    expect(coordInvocations('echo coord run; ls coord/x')).toEqual([]);
  });
});
