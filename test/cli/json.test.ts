/**
 * `--json` of the commands that printed only text (validate, run --dry-run, init, clean, stop,
 * spawn, dashboard), in the shapes docs/cli.md gives, and the run selector: the positional
 * RUN_ID and `--run ID` name the same run, two different ones are bad usage.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rig } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

const twoStreams = {
  streams: [
    { id: 'a', command: 'true' },
    { id: 'b', command: 'true', depends_on: ['a'] },
  ],
};

describe('--json', () => {
  it('coord validate: ok, errors and warnings with their places; the exit codes of the text form', async () => {
    rig.writePlan(twoStreams);
    expect(await rig.coord(['validate', 'plan.yaml', '--json'])).toMatchObject({ code: 0, stderr: '', stdout: '{"ok":true,"errors":[],"warnings":[]}\n' });
    rig.writePlan(
      {
        streams: [
          { id: 'a', command: 'true', depends_on: ['ghost'] },
          { id: 'a', command: 'true' },
        ],
      },
      'bad.yaml',
    );
    const bad = await rig.coord(['validate', 'bad.yaml', '--json']);
    expect([bad.code, bad.stderr]).toEqual([2, '']);
    const out = JSON.parse(bad.stdout) as { ok: boolean; errors: Array<{ file: string; line: number; col: number; message: string }> };
    expect(out.ok).toBe(false);
    expect(out.errors.length).toBe(2);
    for (const e of out.errors)
      expect(e).toEqual({ file: expect.stringMatching(/bad\.yaml$/), line: expect.any(Number), col: expect.any(Number), message: expect.any(String) });
    expect(out.errors.map((e) => e.message).join('\n')).toMatch(/ghost/);
  });

  it('coord run --dry-run: the waves and the points; nothing runs', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'p', type: 'barrier', streams: ['a', 'b'] }] },
      streams: [
        { id: 'a', command: 'true' },
        { id: 'b', command: 'true' },
        { id: 'c', command: 'true', depends_on: ['p'] },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml', '--dry-run', '--json']);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(JSON.parse(r.stdout)).toMatchObject({ waves: [['a', 'b'], ['c']], points: [{ name: 'p', type: 'barrier', streams: ['a', 'b'] }] });
    expect(rig.runIds()).toEqual([]);
  });

  it('coord init: --list gives every template with its summary; a write names the file', async () => {
    const list = await rig.coord(['init', '--list', '--json']);
    expect(list.code).toBe(0);
    const { templates } = JSON.parse(list.stdout) as { templates: Array<{ name: string; summary: string }> };
    expect(templates.map((t) => t.name)).toEqual(expect.arrayContaining(['fork-join', 'pipeline', 'map-reduce', 'research']));
    for (const t of templates) expect(t.summary.length).toBeGreaterThan(0);
    const text = await rig.coord(['init', '--list']);
    expect(text.stdout.split('\n').filter(Boolean).length).toBe(templates.length);
    const wrote = await rig.coord(['init', 'pipeline', '-o', 'p.yaml', '--json']);
    expect(JSON.parse(wrote.stdout)).toEqual({ wrote: join(rig.dir, 'p.yaml'), template: 'pipeline' });
    expect(existsSync(join(rig.dir, 'p.yaml'))).toBe(true);
  });

  it('coord stop and coord clean: what was done to which run', async () => {
    rig.writePlan(twoStreams);
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    const [id] = rig.runIds();
    expect(JSON.parse((await rig.coord(['stop', '--json'])).stdout)).toEqual({ run: id, state: 'succeeded', already: true, orphansStopped: 0 });
    const clean = await rig.coord(['clean', '--all', '--json']);
    expect([clean.code, JSON.parse(clean.stdout)]).toEqual([0, { removed: [id] }]);
    expect(JSON.parse((await rig.coord(['clean', '--json'])).stdout)).toEqual({ removed: [] });
  });

  it('coord spawn: one JSON object a line, registered then ended', async () => {
    rig.writePlan({ streams: [{ id: 'planner', command: 'coord spawn --id child --wait --json -- sh -c "exit 3"; echo "exit $?"' }] });
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(1);
    const [id] = rig.runIds();
    const lines = readFileSync(join(rig.runDir(), 'streams', 'planner', 'stdout'), 'utf8')
      .trim()
      .split('\n');
    expect(lines.map((l) => (l.startsWith('{') ? JSON.parse(l) : l))).toEqual([
      { event: 'registered', id: 'child', run: id },
      { event: 'ended', id: 'child', run: id, state: 'failed', exitCode: 3 },
      'exit 3',
    ]);
  });

  it('coord dashboard: the first line is {"url","run"}', async () => {
    rig.writePlan(twoStreams);
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    const [id] = rig.runIds();
    const d = rig.spawn(['dashboard', '--json']);
    const first = await new Promise<string>((resolve) => {
      let out = '';
      d.child.stdout?.on('data', (c: Buffer) => {
        out += c.toString('utf8');
        if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
      });
    });
    expect(JSON.parse(first)).toEqual({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/\?token=\w+$/), run: id });
    d.child.kill('SIGINT');
    expect((await d.done).code).toBe(0);
  });
});

describe('the run selector', () => {
  it('takes the positional RUN_ID or --run ID; two different runs are bad usage', async () => {
    rig.writePlan(twoStreams);
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    const runOf = async (args: string[]) => (JSON.parse((await rig.coord(args)).stdout) as { run: { id: string } }).run.id;
    const newer = await runOf(['status', '--json']);
    const older = rig.runIds().find((id) => id !== newer);
    expect(older).toBeDefined();
    expect(await runOf(['status', older!, '--json'])).toBe(older);
    expect(await runOf(['status', '--run', older!, '--json'])).toBe(older);
    expect(await runOf(['status', older!, '--run', older!, '--json'])).toBe(older);
    const both = await rig.coord(['events', older!, '--run', newer!]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain(`two runs named: ${older} and --run ${newer}`);
    const events = await rig.coord(['events', '--run', older!, '--json']);
    expect(
      events.stdout
        .split('\n')
        .filter(Boolean)
        .every((l) => (JSON.parse(l) as { run: string }).run === older),
    ).toBe(true);
  });
});
