/** Dynamic registration: a running stream adds streams with `coord spawn`. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, Rig } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

describe('coord spawn', () => {
  it('adds streams to the running run, scheduled with their dependencies; --wait exits with the stream', async () => {
    const planner = [
      `coord spawn --id worker-1 --capabilities build -- "echo one > w.txt"`,
      `coord spawn --id worker-2 --depends-on worker-1 -- "cat \\"\\$COORD_INPUTS/worker-1/w.txt\\""`,
      `coord spawn --id failing --wait -- sh -c "exit 3"; echo "failing exited $?"`,
      `coord spawn --id after-build --depends-on capability:build --wait -- true; echo "after-build exited $?"`,
    ].join(' && ');
    rig.writePlan({ streams: [{ id: 'planner', command: planner }] });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1); // "failing" failed
    const out = readFileSync(join(rig.runDir(), 'streams', 'planner', 'stdout'), 'utf8');
    expect(out).toContain('registered worker-1 in run');
    expect(out).toContain('failing exited 3');
    expect(out).toContain('after-build exited 0');
    expect(readFileSync(join(rig.runDir(), 'streams', 'worker-2', 'stdout'), 'utf8')).toBe('one\n');
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as {
      streams: Array<{ id: string; state: string; dependsOn: string[]; capabilities: string[] }>;
    };
    const by = Object.fromEntries(status.streams.map((s) => [s.id, s]));
    expect(by['worker-1']).toMatchObject({ state: 'succeeded', capabilities: ['build'] });
    expect(by['worker-2']).toMatchObject({ state: 'succeeded', dependsOn: ['worker-1'] });
    expect(by['failing']).toMatchObject({ state: 'failed' });
    expect(by['after-build']).toMatchObject({ state: 'succeeded', dependsOn: ['worker-1'] });
    expect(
      rig
        .events()
        .filter((e) => e.type === 'stream-registered')
        .map((e) => e.stream),
    ).toEqual(['planner', 'worker-1', 'worker-2', 'failing', 'after-build']);
  });

  it('refuses a taken id, an unknown dependency, and a wait on a stream that waits for the caller', async () => {
    const tries = [
      `coord spawn --id planner -- true; echo "dup $?"`,
      `coord spawn --id x --depends-on ghost -- true; echo "ghost $?"`,
      `coord spawn --id y --depends-on planner --wait -- true; echo "cycle $?"`,
      `coord spawn --id a..b -- true; echo "dots $?"`,
    ].join('; ');
    rig.writePlan({ streams: [{ id: 'planner', command: tries }] });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const err = readFileSync(join(rig.runDir(), 'streams', 'planner', 'stderr'), 'utf8');
    const out = readFileSync(join(rig.runDir(), 'streams', 'planner', 'stdout'), 'utf8');
    expect(err).toContain('"planner" is already the id of a stream');
    expect(err).toContain('unknown dependency "ghost"');
    expect(err).toContain('dependency cycle: planner waits for y, which depends on planner');
    expect(err).toContain('spawn a..b: bad stream id "a..b": id "a..b" must not contain ".."');
    expect(out).toContain('dup 2');
    expect(out).toContain('ghost 2');
    expect(out).toContain('cycle 2');
    expect(out).toContain('dots 2');
    expect(rig.events().some((e) => e.type === 'stream-registered' && e.stream === 'a..b')).toBe(false);
  });

  it("resolves a group id as a plan does: a stream after a gather: first group starts on one replica's success", async () => {
    const replica = `if [ "$COORD_REPLICA" = 1 ]; then echo "from $COORD_REPLICA" > answer.txt; else ${fixture('hang.js')}; fi`;
    const planner = `coord spawn --id after --depends-on solve --wait -- "cat \\"\\$COORD_INPUTS/solve/answer.txt\\""; echo "after exited $?"`;
    rig.writePlan({
      streams: [
        { id: 'solve', replicas: 2, gather: 'first', command: replica },
        { id: 'planner', command: planner },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    expect(readFileSync(join(rig.runDir(), 'streams', 'planner', 'stdout'), 'utf8')).toContain('after exited 0');
    expect(readFileSync(join(rig.runDir(), 'streams', 'after', 'stdout'), 'utf8')).toBe('from 1\n');
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as { streams: Array<{ id: string; state: string; dependsOn: string[] }> };
    expect(status.streams.find((s) => s.id === 'after')).toMatchObject({ state: 'succeeded', dependsOn: ['solve-1', 'solve-2'] });
  });

  it('outside a running run it is a usage error', async () => {
    rig.writePlan({ streams: [{ id: 'a', command: 'true' }] });
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    const r = await rig.coord(['spawn', '--id', 'late', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not running');
  });
});
