/** What a run leaves for CI: JUnit (validated against its schema), GitHub summary and annotations, plain output. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, ROOT, fixture, shellQuote } from '../rig.js';
import { outputTail } from '../../src/report/ci.js';
import { requires, xmllintCommand } from '../requires.js';

const needs = requires('xmllint');

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

const PLAN = {
  name: 'ci-plan',
  agent_coordination: { convergence_points: [{ name: 'both', type: 'barrier', streams: ['good', 'bad'] }] },
  streams: [
    { id: 'good', command: 'echo fine' },
    { id: 'bad', command: `echo 'broke: <tag> & "quotes"' >&2; ${fixture('exit-with.js', '3')}` },
    { id: 'after', command: 'true', depends_on: ['both'] },
  ],
};

describe('CI outputs', () => {
  needs.it('writes a JUnit report that validates against the JUnit schema', async () => {
    rig.writePlan(PLAN);
    const r = await rig.coord(['run', 'plan.yaml', '--report', 'junit.xml']);
    expect(r.code).toBe(1);
    const file = join(rig.dir, 'junit.xml');
    // xmllint exits non-zero when the document does not follow the schema
    execFileSync(xmllintCommand(), ['--noout', '--schema', join(ROOT, 'test', 'fixtures', 'junit.xsd'), file], { stdio: 'pipe' });
    const xml = readFileSync(file, 'utf8');
    expect(xml).toMatch(/<testsuite name="ci-plan" tests="4" failures="2" errors="0" skipped="1"/);
    expect(xml).toMatch(/<testcase classname="coord.stream" name="good" time="[\d.]+"\/>/);
    expect(xml).toMatch(/<failure message="bad failed: exit-non-zero" type="exit-non-zero">[\s\S]*broke: &lt;tag&gt; &amp; "quotes"/);
    expect(xml).toMatch(/<testcase classname="coord.stream" name="after"[^>]*><skipped message="dependency-failed"\/>/);
    expect(xml).toMatch(/<testcase classname="coord.convergence" name="both"[^>]*><failure message="barrier point failed \(stream-failed\)"/);
  });

  needs.it("puts the tails of a failed stream's stdout and stderr in its failure, labelled, and as system-out/system-err", async () => {
    const node = shellQuote(process.execPath);
    rig.writePlan({
      name: 'tails',
      streams: [
        // a test runner that reports on stdout only, as node --test does
        { id: 'tap', command: `${node} -e "console.log('not ok 1 - adds numbers'); process.exit(1)"` },
        { id: 'both', command: `echo 'on stdout'; echo 'on stderr' >&2; exit 2` },
        // 3000 two-byte characters and 'ok\n': 6003 bytes, so the last 4096 start inside a character
        { id: 'wide', command: `${node} -e "process.stdout.write('\\u00e9'.repeat(3000) + 'ok\\n'); process.exit(1)"` },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml', '--report', 'junit.xml']);
    expect(r.code).toBe(1);
    const file = join(rig.dir, 'junit.xml');
    execFileSync(xmllintCommand(), ['--noout', '--schema', join(ROOT, 'test', 'fixtures', 'junit.xsd'), file], { stdio: 'pipe' });
    const xml = readFileSync(file, 'utf8');
    const testcase = (id: string): string => {
      const m = new RegExp(`<testcase classname="coord.stream" name="${id}"[^>]*>([\\s\\S]*?)</testcase>`).exec(xml);
      if (!m?.[1]) throw new Error(`no testcase ${id} in\n${xml}`);
      return m[1];
    };
    const failure = (id: string): string => /<failure [^>]*>([\s\S]*?)<\/failure>/.exec(testcase(id))?.[1] ?? '';

    expect(failure('tap')).toMatch(/--- stdout \([^)]*bytes\) ---\nnot ok 1 - adds numbers\n/);
    expect(testcase('tap')).toContain('<system-out>not ok 1 - adds numbers\n</system-out>');

    expect(failure('both')).toMatch(/--- stdout \([^)]*bytes\) ---\non stdout\n[\s\S]*--- stderr \([^)]*bytes\) ---\non stderr\n/);
    expect(testcase('both')).toMatch(/<\/failure><system-out>on stdout\n<\/system-out><system-err>on stderr\n<\/system-err>$/);

    // the tail is bounded and does not start with half a character
    const wide = failure('wide');
    expect(wide).toMatch(/--- stdout \(last \d+ of 6003 bytes\) ---\n\u00e9+ok\n/);
    expect(xml).not.toContain('\uFFFD');
    expect(Buffer.byteLength(/\u00e9+ok\n/.exec(wide)?.[0] ?? '')).toBeLessThanOrEqual(4096);
  });

  it('appends a markdown summary to GITHUB_STEP_SUMMARY and prints ::error annotations under GitHub Actions', async () => {
    rig.writePlan(PLAN);
    const summary = join(rig.dir, 'summary.md');
    writeFileSync(summary, '# earlier step\n');
    const r = await rig.coord(['run', 'plan.yaml'], { env: { GITHUB_STEP_SUMMARY: summary, GITHUB_ACTIONS: 'true' } });
    expect(r.code).toBe(1);
    const md = readFileSync(summary, 'utf8');
    expect(md.startsWith('# earlier step\n')).toBe(true);
    expect(md).toContain('### coord: ci-plan — failed');
    expect(md).toMatch(/\| bad \| ❌ failed \(exit-non-zero\) \| [\d.]+s \| 3 \| 1 \|/);
    expect(md).toMatch(/\| both \| ❌ failed \| 0\/2 \| - \|/);
    // at the line of each entry in the plan the rig wrote; ':' in a property is escaped (%3A), as the Actions toolkit does
    const text = readFileSync(join(rig.dir, 'plan.yaml'), 'utf8').split('\n');
    const line = (re: RegExp): number => text.findIndex((l) => re.test(l)) + 1;
    expect(r.stdout).toContain(`::error file=plan.yaml,line=${line(/^ {2}- id: bad$/)},title=coord%3A stream bad::bad failed: exit-non-zero`);
    expect(r.stdout).toContain(`::error file=plan.yaml,line=${line(/^ {4}- name: both$/)},title=coord%3A convergence point both::stream-failed`);
  });

  it('prints plain timestamped lines, no spinner or colour, under CI=true', async () => {
    rig.writePlan({ streams: [{ id: 'one', command: 'echo hello' }] });
    const r = await rig.coord(['run', 'plan.yaml'], { env: { CI: 'true', FORCE_COLOR: '' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} \[one\] hello$/m);
    // eslint-disable-next-line no-control-regex
    expect(r.stdout).not.toMatch(/\x1b\[/);
    const colored = await rig.coord(['run', 'plan.yaml'], { env: { FORCE_COLOR: '1' } });
    // eslint-disable-next-line no-control-regex
    expect(colored.stdout).toMatch(/\x1b\[/);
  });
});

describe('outputTail', () => {
  it('never starts or ends inside a character, wherever the cut falls', () => {
    // one-, two-, three- and four-byte characters
    const content = 'a\u00e9\u20ac\u{1F600}'.repeat(20);
    const file = join(rig.dir, 'out');
    writeFileSync(file, content);
    const size = Buffer.byteLength(content);
    for (let max = 1; max <= size; max++) {
      const t = outputTail(file, max);
      expect(t.text).not.toContain('\uFFFD');
      expect(content.endsWith(t.text)).toBe(true);
      expect(t.bytes).toBe(Buffer.byteLength(t.text));
      expect(t.bytes).toBeLessThanOrEqual(max);
      expect(t.bytes).toBeGreaterThan(max - 4);
      expect(t.cut).toBe(max < size);
    }
  });

  it('leaves out a last character the stream did not finish, and is empty for a missing file', () => {
    const file = join(rig.dir, 'out');
    writeFileSync(file, Buffer.concat([Buffer.from('done '), Buffer.from('\u{1F600}').subarray(0, 2)]));
    expect(outputTail(file)).toEqual({ text: 'done ', bytes: 5, size: 7, cut: false });
    expect(outputTail(join(rig.dir, 'none'))).toEqual({ text: '', bytes: 0, size: 0, cut: false });
  });
});
