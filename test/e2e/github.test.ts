/** `coord run` under GitHub Actions: a folded group per stream, annotations at the plan's lines, --json untouched. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rig } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

/** The plan's directory: `%`, `,` and `:` in it must be escaped in the annotations' `file=`. */
const DIR = 'ci,a:b%';

/** Two streams printing lines side by side, one failing, a point that fails with it. */
function planText(workspaceRoot: string): string {
  return [
    'name: gh-groups',
    'agent_coordination:',
    `  workspace_root: ${JSON.stringify(workspaceRoot)}`,
    '  convergence_points:',
    '    - name: both',
    '      type: barrier',
    '      streams: [left, bad]',
    // the point fails with bad, without stopping left
    '      keep_going: true',
    'streams:',
    '  - id: left',
    '    command: for i in 1 2 3 4 5 6; do echo "left $i"; sleep 0.05; done',
    // flow style, stderr lines among stdout ones
    '  - { id: right, command: for i in 1 2 3 4 5 6; do echo "right $i"; echo "right err $i" >&2; sleep 0.05; done }',
    '  - id: bad',
    `    command: "echo 'bad: 100%, done'; exit 3"`,
    '  - id: after',
    '    command: "true"',
    '    depends_on: [both]',
    '',
  ].join('\n');
}

/** The 1-based line of the plan text where `needle` first stands. */
const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

function writePlan(): { text: string; rel: string } {
  mkdirSync(join(rig.dir, DIR));
  const text = planText(rig.workspaceRoot);
  writeFileSync(join(rig.dir, DIR, 'plan.yaml'), text);
  return { text, rel: `${DIR}/plan.yaml` };
}

/** Each `::group::` of the output with the lines inside it, and the lines outside any group. */
function groups(stdout: string): { inside: Map<string, { title: string; lines: string[] }>; outside: string[] } {
  const inside = new Map<string, { title: string; lines: string[] }>();
  const outside: string[] = [];
  let open: { title: string; lines: string[] } | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('::group::')) {
      expect(open).toBeUndefined();
      open = { title: line.slice('::group::'.length), lines: [] };
      inside.set(open.title.split(' ')[0] ?? '', open);
    } else if (line === '::endgroup::') {
      expect(open).toBeDefined();
      open = undefined;
    } else if (open) open.lines.push(line);
    else outside.push(line);
  }
  expect(open).toBeUndefined();
  return { inside, outside };
}

/** A stream's output lines in a group: the lines that are not coord's timestamped event lines. */
const outputOf = (lines: string[]): string[] => lines.filter((l) => !/^\d\d:\d\d:\d\d\.\d{3} /.test(l));

describe('GitHub Actions', () => {
  for (const how of ['GITHUB_ACTIONS=true', '--reporter github'] as const) {
    it(`prints each stream's output inside its own group and annotates failures at their plan lines (${how})`, async () => {
      const { text, rel } = writePlan();
      const r = await rig.coord(['run', rel, ...(how === '--reporter github' ? ['--reporter', 'github'] : [])], {
        env: how === 'GITHUB_ACTIONS=true' ? { GITHUB_ACTIONS: 'true' } : {},
      });
      expect(r.code).toBe(1);
      const { inside, outside } = groups(r.stdout);
      expect([...inside.keys()].sort()).toEqual(['bad', 'left', 'right']);
      expect(inside.get('left')?.title).toMatch(/^left \(succeeded, [\d.]+m?s\)$/);
      expect(inside.get('bad')?.title).toMatch(/^bad \(failed, [\d.]+m?s\)$/);
      // exactly each stream's lines, in its own order, stdout and stderr alike (two pipes: their order between them is the kernel's)
      const count = [1, 2, 3, 4, 5, 6];
      expect(outputOf(inside.get('left')?.lines ?? [])).toEqual(count.map((i) => `left ${i}`));
      const right = outputOf(inside.get('right')?.lines ?? []);
      expect(right.filter((l) => !l.includes('err'))).toEqual(count.map((i) => `right ${i}`));
      expect(right.filter((l) => l.includes('err'))).toEqual(count.map((i) => `right err ${i}`));
      expect(right).toHaveLength(12);
      expect(outputOf(inside.get('bad')?.lines ?? [])).toEqual(['bad: 100%, done']);
      // nothing of a stream outside its group, no [id] prefixes; the run's events and the summary are outside
      expect(outside.filter((l) => /^(left \d|right \d|right err|bad: )/.test(l) || l.includes('['))).toEqual([]);
      expect(outside).toContainEqual(expect.stringMatching(/ both failed \(stream-failed\)/));
      expect(outside).toContainEqual(expect.stringMatching(/ after skipped/));
      expect(outside).toContainEqual(expect.stringMatching(/^STREAM +STATE +TIME +EXIT +ATTEMPTS$/));
      expect(outside).toContainEqual(expect.stringMatching(/^run \S+ failed$/));
      // one annotation per failure, at the line of the stream's and the point's entry
      const file = 'ci%2Ca%3Ab%25/plan.yaml';
      const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error'));
      expect(errors).toHaveLength(2);
      expect(errors[0]).toBe(`::error file=${file},line=${lineOf(text, '- id: bad')},title=coord%3A stream bad::bad failed: exit-non-zero`);
      expect(
        errors[1]?.startsWith(
          `::error file=${file},line=${lineOf(text, '- name: both')},title=coord%3A convergence point both::stream-failed: stream "bad" failed`,
        ),
      ).toBe(true);
      expect(lineOf(text, '- id: bad')).toBe(13);
      expect(lineOf(text, '- name: both')).toBe(5);
    });
  }

  it('annotates once under --reporter plain, which keeps its prefixed lines', async () => {
    const { rel } = writePlan();
    const r = await rig.coord(['run', rel, '--reporter', 'plain'], { env: { GITHUB_ACTIONS: 'true' } });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('::group::');
    expect(r.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} \[left\] left 1$/m);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('::error'))).toHaveLength(2);
  });

  it('leaves --json as it is: events only on stdout, the annotations on stderr', async () => {
    const { rel } = writePlan();
    const shape = (stdout: string): string[] =>
      stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { type: string; stream?: string; line?: string })
        .map((e) => `${e.type} ${e.stream ?? ''} ${e.line ?? ''}`)
        .sort();
    const gh = await rig.coord(['run', rel, '--json'], { env: { GITHUB_ACTIONS: 'true' } });
    const off = await rig.coord(['run', rel, '--json']);
    expect(gh.code).toBe(1);
    expect(shape(gh.stdout)).toEqual(shape(off.stdout));
    expect(shape(gh.stdout)).toContain('stream-output left left 1');
    expect(gh.stderr.split('\n').filter((l) => l.startsWith('::error'))).toHaveLength(2);
    expect(off.stderr).not.toContain('::error');
  });

  it('refuses a reporter it does not know (exit 2) on run and continue', async () => {
    const { rel } = writePlan();
    for (const args of [['run', rel], ['continue']]) {
      const r = await rig.coord([...args, '--reporter', 'fancy']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/'fancy' is invalid\. Allowed choices are plain, tty, github/);
    }
  });
});
