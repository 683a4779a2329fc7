/** Stopping runs: SIGINT with grandchildren, coord stop, a dead coordinator, status during a run. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, Rig, fixture, processAlive } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

const alive = processAlive;

interface Status {
  run: { state: string };
  streams: Array<{ id: string; state: string; pid: number | null }>;
}

describe('stopping a run', () => {
  it('SIGINT stops every stream, grandchildren included, and exits 130 as interrupted', async () => {
    const pidA = join(rig.dir, 'a.pid');
    const pidB = join(rig.dir, 'b.pid');
    rig.writePlan({
      agent_coordination: { recovery: { guardian: { grace: '500ms' } } },
      streams: [
        { id: 'a', command: fixture('spawn-grandchild.js', pidA) },
        { id: 'b', command: `${fixture('spawn-grandchild.js', pidB)}; echo never` },
        { id: 'ignores', command: fixture('hang.js', '--ignore-term') },
        { id: 'later', command: 'true', depends_on: ['a'] },
      ],
    });
    const run = rig.spawn(['run', 'plan.yaml']);
    const grandA = Number(await rig.waitForFile(pidA));
    const grandB = Number(await rig.waitForFile(pidB));
    await rig.waitForEvent((e) => e.type === 'stream-started' && e.stream === 'ignores');
    await rig.waitForFile(join(rig.runDir(), 'streams', 'ignores', 'stdout')); // "ready": its SIGTERM handler is set

    // during the run, status says running
    const during = JSON.parse((await rig.coord(['status', '--json'])).stdout) as Status;
    expect(during.run.state).toBe('running');
    expect(during.streams.find((s) => s.id === 'a')?.state).toBe('running');

    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(alive(grandA)).toBe(false);
    expect(alive(grandB)).toBe(false);
    expect(rig.leftovers()).toEqual([]);
    const after = JSON.parse((await rig.coord(['status', '--json'])).stdout) as Status;
    expect(after.run.state).toBe('interrupted');
    expect(after.streams.every((s) => s.state === 'cancelled')).toBe(true);
    const signals = rig.events().filter((e) => e.type === 'stream-signalled');
    expect(signals.some((e) => e.stream === 'ignores' && e.signal === 'SIGKILL')).toBe(true);
  });

  it('Ctrl-C to the whole foreground process group stops streams gracefully', async () => {
    const pid = join(rig.dir, 'g.pid');
    rig.writePlan({
      agent_coordination: { recovery: { guardian: { grace: '5s' } } },
      streams: [{ id: 'polite', command: `trap 'echo got TERM; exit 0' TERM; ${fixture('spawn-grandchild.js', pid)} & wait` }],
    });
    const run = rig.spawn(['run', 'plan.yaml'], { ownGroup: true });
    const grand = Number(await rig.waitForFile(pid));
    process.kill(-(run.child.pid ?? 0), 'SIGINT'); // what a terminal does on Ctrl-C
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(r.stdout).toContain('[polite] got TERM'); // SIGTERM reached it, not a KILL from a dead launcher
    expect(alive(grand)).toBe(false);
    expect(rig.leftovers()).toEqual([]);
    const signals = rig
      .events()
      .filter((e) => e.type === 'stream-signalled')
      .map((e) => e.signal);
    expect(signals).toEqual(['SIGTERM']);
  });

  it('a second Ctrl-C forces: SIGKILL at once instead of waiting out the grace', async () => {
    rig.writePlan({
      agent_coordination: { recovery: { guardian: { grace: '60s' } } },
      // an array command: the stream's leader is the process that ignores SIGTERM
      streams: [{ id: 'stubborn', command: [process.execPath, join(FIXTURES, 'hang.js'), '--ignore-term'] }],
    });
    const run = rig.spawn(['run', 'plan.yaml']);
    await rig.waitForEvent((e) => e.type === 'stream-started');
    await rig.waitForFile(join(rig.runDir(), 'streams', 'stubborn', 'stdout')); // "ready": its handler is set
    const t0 = Date.now();
    run.child.kill('SIGINT');
    await rig.waitForEvent((e) => e.type === 'stream-signalled' && e.signal === 'SIGTERM');
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(Date.now() - t0).toBeLessThan(30_000); // far from the 60 s grace
    expect(
      rig
        .events()
        .filter((e) => e.type === 'stream-signalled')
        .map((e) => e.signal),
    ).toEqual(['SIGTERM', 'SIGKILL']);
    expect(rig.leftovers()).toEqual([]);
  });

  it('status --watch follows a run until it ends', async () => {
    const gate = join(rig.dir, 'gate');
    rig.writePlan({ streams: [{ id: 'w', command: fixture('wait-for-file.js', gate) }] });
    const run = rig.spawn(['run', 'plan.yaml']);
    await rig.waitForEvent((e) => e.type === 'stream-started');
    const watch = rig.spawn(['status', '--watch', '--json']);
    await new Promise<void>((resolve) => watch.child.stdout?.once('data', () => resolve()));
    rig.write('gate', '');
    const [w] = await Promise.all([watch.done, run.done]);
    const snapshots = w.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { run: { state: string } });
    expect(snapshots[0]?.run.state).toBe('running');
    expect(snapshots.at(-1)?.run.state).toBe('succeeded');
  });

  it('coord stop cancels a run from another terminal', async () => {
    rig.writePlan({ streams: [{ id: 'h', command: fixture('hang.js') }] });
    const run = rig.spawn(['run', 'plan.yaml']);
    await rig.waitForEvent((e) => e.type === 'stream-started');
    const stop = await rig.coord(['stop']);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain('cancelled');
    const r = await run.done;
    expect(r.code).toBe(130);
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as Status;
    expect(status.run.state).toBe('cancelled');
    expect(rig.leftovers()).toEqual([]);
  });

  it('shows a run whose coordinator died as interrupted, and coord stop ends its leftovers', async () => {
    const pidFile = join(rig.dir, 'g.pid');
    rig.writePlan({ streams: [{ id: 'orphan', command: fixture('spawn-grandchild.js', pidFile) }] });
    const run = rig.spawn(['run', 'plan.yaml']);
    const grand = Number(await rig.waitForFile(pidFile));
    run.child.kill('SIGKILL');
    await run.done;
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as Status;
    expect(status.run.state).toBe('interrupted');
    expect(alive(grand)).toBe(true); // the dead coordinator could not stop it...
    // ...nor its launcher, the stream leader's parent, which stays to record the stream's exit
    const leader = status.streams.find((x) => x.id === 'orphan')?.pid ?? 0;
    const stat = readFileSync(`/proc/${leader}/stat`, 'latin1');
    const launcher = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    expect(readFileSync(`/proc/${launcher}/cmdline`, 'latin1')).toContain('launcher.js');
    const stop = await rig.coord(['stop']);
    expect(stop.code).toBe(0);
    expect(alive(grand)).toBe(false); // ...coord stop did
    expect(alive(launcher)).toBe(false); // and the launcher has gone by the time coord stop returns
    expect(rig.leftovers()).toEqual([]);
  });
});

describe('logs and events', () => {
  it('prints a stream log and the event log, after the run and while following', async () => {
    rig.writePlan({ streams: [{ id: 'talker', command: fixture('exit-with.js', '0') }] });
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    const logs = await rig.coord(['logs', 'talker']);
    expect(logs.stdout).toBe('exit-with 0 stdout\n');
    expect(logs.stderr).toBe('exit-with 0 stderr\n');
    const events = await rig.coord(['events', '--json']);
    const types = events.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types[0]).toBe('run-started');
    expect(types).toContain('stream-exited');
    expect(types.at(-1)).toBe('run-ended');
    const human = await rig.coord(['events']);
    expect(human.stdout).toContain('talker succeeded');
    const missing = await rig.coord(['logs', 'nobody']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no stream "nobody"');
  });

  it('follows events and logs until the run ends', async () => {
    const gate = join(rig.dir, 'gate');
    rig.writePlan({ streams: [{ id: 'w', command: `echo before; ${fixture('wait-for-file.js', gate)}; echo after` }] });
    const run = rig.spawn(['run', 'plan.yaml']);
    await rig.waitForEvent((e) => e.type === 'stream-started');
    const events = rig.spawn(['events', '-f']);
    const logs = rig.spawn(['logs', 'w', '-f']);
    rig.write('gate', '');
    const [ev, lg] = await Promise.all([events.done, logs.done]);
    await run.done;
    expect(ev.stdout).toMatch(/run-ended/);
    expect(lg.stdout).toContain('before');
    expect(lg.stdout).toContain('after');
  });
});
