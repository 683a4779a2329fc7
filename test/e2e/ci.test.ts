/** What a run leaves for CI: JUnit (validated against its schema), GitHub summary and annotations, plain output. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, ROOT, fixture } from '../rig.js';

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
  it('writes a JUnit report that validates against the JUnit schema', async () => {
    rig.writePlan(PLAN);
    const r = await rig.coord(['run', 'plan.yaml', '--report', 'junit.xml']);
    expect(r.code).toBe(1);
    const file = join(rig.dir, 'junit.xml');
    // xmllint exits non-zero when the document does not follow the schema
    execFileSync('xmllint', ['--noout', '--schema', join(ROOT, 'test', 'fixtures', 'junit.xsd'), file], { stdio: 'pipe' });
    const xml = readFileSync(file, 'utf8');
    expect(xml).toMatch(/<testsuite name="ci-plan" tests="4" failures="2" errors="0" skipped="1"/);
    expect(xml).toMatch(/<testcase classname="coord.stream" name="good" time="[\d.]+"\/>/);
    expect(xml).toMatch(/<failure message="bad failed: exit-non-zero" type="exit-non-zero">[\s\S]*broke: &lt;tag&gt; &amp; "quotes"/);
    expect(xml).toMatch(/<testcase classname="coord.stream" name="after"[^>]*><skipped message="dependency-failed"\/>/);
    expect(xml).toMatch(/<testcase classname="coord.convergence" name="both"[^>]*><failure message="barrier point failed \(stream-failed\)"/);
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
    expect(r.stdout).toContain('::error file=plan.yaml,title=coord: stream bad::bad failed: exit-non-zero');
    expect(r.stdout).toContain('::error file=plan.yaml,title=coord: convergence point both::stream-failed');
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
