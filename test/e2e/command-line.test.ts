/**
 * The command line itself: where options may stand in the commands that run a CMD (`lock`,
 * `resource acquire`, `spawn`), and durations, given as flags or environment variables, that
 * are bad usage (exit 2, naming the option or variable) wherever they are read.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, Rig, fixture } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

describe('options around the positional arguments of commands that run CMD', () => {
  it('coord lock: options after PATH are its own; what follows -- is CMD, untouched', async () => {
    const f = join(rig.dir, 'f');
    // --read after PATH takes a read lock (it ran "--read" as the command, exit 127)
    const locks = await rig.coord(['lock', f, '--timeout', '5s', '--read', '--', process.execPath, COORD, 'locks', '--all', '--json']);
    expect(locks.stderr).toBe('');
    expect(locks.code).toBe(0);
    const held = (JSON.parse(locks.stdout) as { locks: Array<{ path: string; mode: string | null }> }).locks;
    expect(held).toEqual([expect.objectContaining({ path: f, mode: 'read' })]);
    // options before PATH, and options after PATH with no -- (CMD starts at the next word)
    expect(await rig.coord(['lock', '--read', f, '--', 'echo', '--read', '--timeout', '1s'])).toMatchObject({ code: 0, stdout: '--read --timeout 1s\n' });
    expect(await rig.coord(['lock', f, '--timeout', '5s', 'sh', '-c', 'echo "no dashes $0"', '--read'])).toMatchObject({
      code: 0,
      stdout: 'no dashes --read\n',
    });
    expect(await rig.coord(['lock', f, '--', 'sh', '-c', 'echo "$COORD_LOCK_TOKEN"'])).toMatchObject({ code: 0, stdout: '4\n' });
    const unknown = await rig.coord(['lock', f, '--bogus', '--', 'true']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--bogus'");

    // the mode and --timeout after PATH hold while another process holds a read lock
    const gate = join(rig.dir, 'gate');
    const reader = rig.spawn(['lock', f, '--read', '--', 'sh', '-c', `touch ${join(rig.dir, 'reading')} && ${fixture('wait-for-file.js', gate)}`]);
    await rig.waitForFile(join(rig.dir, 'reading'));
    expect(await rig.coord(['lock', f, '--read', '--timeout', '10s', '--', 'echo', 'shared'])).toMatchObject({ code: 0, stdout: 'shared\n' });
    const writer = await rig.coord(['lock', f, '--timeout', '300ms', '--', 'echo', 'ran']);
    expect(writer).toMatchObject({ code: 75, stdout: '' });
    expect(writer.stderr).toMatch(/timed out after \d+ms waiting for a write lock on .*\/f: held by /);
    expect((await rig.coord(['lock', f, '--write', '-t', '300ms', '--', 'true'])).code).toBe(75);
    writeFileSync(gate, '');
    expect((await reader.done).code).toBe(0);
  });

  it('coord resource acquire: options after NAME=N are its own; what follows -- is CMD, untouched', async () => {
    rig.writePlan({
      agent_coordination: { resources: { gpu: 1 } },
      streams: [
        {
          id: 'asker',
          command: [
            `coord resource acquire gpu=1 --timeout 5s --priority 2 -- echo --timeout 1s --priority; echo "dashes $?"`,
            `coord resource acquire --priority 1 gpu=1 --timeout 5s sh -c 'echo "no dashes $0"' --timeout; echo "no dashes $?"`,
            `coord resource acquire gpu=1 --bogus -- true; echo "unknown $?"`,
          ].join('; '),
        },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const out = readFileSync(join(rig.runDir(), 'streams', 'asker', 'stdout'), 'utf8');
    expect(out).toBe('--timeout 1s --priority\ndashes 0\nno dashes --timeout\nno dashes 0\nunknown 2\n');
    expect(readFileSync(join(rig.runDir(), 'streams', 'asker', 'stderr'), 'utf8')).toContain("unknown option '--bogus'");
    expect(rig.events().filter((e) => e.type === 'resource-granted')).toHaveLength(2);
  });

  it('coord spawn: its options go before CMD; what follows -- is CMD, untouched', async () => {
    const planner = [
      `coord spawn --id dashes --wait -- echo --wait --id x; echo "dashes $?"`,
      `coord spawn --wait --id no-dashes sh -c 'echo "no dashes $0"' --wait; echo "no dashes $?"`,
      `coord spawn --id unknown --bogus -- true; echo "unknown $?"`,
    ].join('; ');
    rig.writePlan({ streams: [{ id: 'planner', command: planner }] });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const stdout = (id: string): string => readFileSync(join(rig.runDir(), 'streams', id, 'stdout'), 'utf8');
    expect(stdout('planner')).toMatch(
      /^registered dashes in run .*\ndashes succeeded \(exit code 0\)\ndashes 0\nregistered no-dashes in run .*\nno-dashes succeeded \(exit code 0\)\nno dashes 0\nunknown 2\n$/,
    );
    expect(stdout('dashes')).toBe('--wait --id x\n');
    expect(stdout('no-dashes')).toBe('no dashes --wait\n');
  });
});

describe('durations', () => {
  it('a bad duration flag is a usage error (exit 2) naming the flag, in every command', async () => {
    const bad = async (args: string[], flag: string, input?: string): Promise<void> => {
      const r = await rig.coord(args, input === undefined ? {} : { input });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toContain(`option '${flag}' argument '5x' is invalid. bad duration "5x": use 500ms, 30s, 5m, 1h or a number of seconds`);
    };
    await bad(['stop', '--timeout', '5x'], '--timeout <duration>');
    await bad(['lock', join(rig.dir, 'f'), '--timeout', '5x', '--', 'true'], '-t, --timeout <duration>');
    await bad(['lock', join(rig.dir, 'f'), '--lease', '5x', '--', 'true'], '--lease <duration>');
    await bad(['write', join(rig.dir, 'f'), '-t', '5x'], '-t, --timeout <duration>', 'x\n');
    await bad(['append', join(rig.dir, 'f'), '--timeout', '5x'], '-t, --timeout <duration>', 'x\n');
    await bad(['resource', 'acquire', 'gpu=1', '--timeout', '5x', '--', 'true'], '-t, --timeout <duration>');
    await bad(['queue', 'recv', 'jobs', '--as', 'me', '--wait', '5x'], '-w, --wait <duration>');
    await bad(['queue', 'recv', 'jobs', '--as', 'me', '--ack-timeout', '5x'], '--ack-timeout <duration>');
    await bad(['propose', 'release', '--timeout', '5x'], '-t, --timeout <duration>');
    await bad(['decision', 'release', '--wait', '5x'], '-w, --wait <duration>');
    await bad(['worker', '--backend', 'redis://127.0.0.1:1', '--lease', '5x'], '--lease <duration>');
    expect(existsSync(join(rig.dir, 'f'))).toBe(false);
  });

  it('a bad duration in an environment variable is a usage error (exit 2) naming the variable', async () => {
    const bad = async (args: string[], env: Record<string, string>): Promise<void> => {
      const [name = '', value = ''] = Object.entries(env)[0] ?? [];
      const r = await rig.coord(args, { env: { COORD_BACKEND_WAIT: '300ms', ...env } });
      expect({ args, env, code: r.code }).toEqual({ args, env, code: 2 });
      expect(r.stderr).toContain(`coord: ${name}: bad duration "${value}": use 500ms, 30s, 5m, 1h or a number of seconds`);
    };
    rig.writePlan({ streams: [{ id: 'a', command: 'touch ran' }] });
    await bad(['run', 'plan.yaml'], { COORD_RUN_LEASE: '5x' });
    // nothing was started, no run directory made
    expect(rig.runIds()).toEqual([]);
    await bad(['run', 'plan.yaml', '--workers', '--backend', 'redis://127.0.0.1:1'], { COORD_WORKER_LEASE: '5x' });
    await bad(['lock', join(rig.dir, 'f'), '--', 'true'], { COORD_LOCK_LEASE: '5x' });
    await bad(['status', '--backend', 'redis://127.0.0.1:1'], { COORD_BACKEND_WAIT: '5x' });
    expect(rig.runIds()).toEqual([]);
  });
});
