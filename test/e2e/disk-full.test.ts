/**
 * A full disk under COORD_HOME, from the outside: a small tmpfs (mounting needs root) holds the
 * run's home; `coord run`, `coord status --json`, `coord state set`, `coord queue send` and
 * `coord write` are run on it as a user would, and the files left there are looked at.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rig, type Result } from '../rig.js';

/** The tmpfs every test's COORD_HOME is on (made only when it can be mounted). */
let MOUNT = '';
const SIZE = 1024 * 1024;
/** Why the tests are skipped, when the small disk cannot be made. */
function mountSmallDisk(): string | undefined {
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  const dir = mkdtempSync(join(tmpdir(), 'coord-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return `mount -t tmpfs failed: ${
      String((e as { stderr?: Buffer }).stderr ?? e)
        .trim()
        .split('\n')[0]
    }`;
  }
  MOUNT = dir;
  return undefined;
}
const skipped = mountSmallDisk();
const test = skipped ? it.skip : it;

afterAll(() => {
  if (!MOUNT) return;
  try {
    execFileSync('umount', [MOUNT], { stdio: 'pipe' });
  } catch {
    // still busy (a process of a failed test holding a file there): detached now, gone when it ends
    execFileSync('umount', ['-l', MOUNT], { stdio: 'pipe' });
  }
  rmSync(MOUNT, { recursive: true, force: true });
});

let rig: Rig;
let home: string;
let n = 0;
beforeEach(() => {
  rig = new Rig();
  home = join(MOUNT, `home-${++n}`);
});
afterEach(async () => {
  await rig.cleanup();
  // the next test starts on an empty disk
  for (const name of readdirSync(MOUNT)) rmSync(join(MOUNT, name), { recursive: true, force: true });
});

const coord = (args: string[], input?: string): Promise<Result> => rig.coord(args, { env: { COORD_HOME: home }, ...(input !== undefined ? { input } : {}) });

/** Fills the disk with one file until write(2) fails with ENOSPC; returns the file. */
function fillDisk(): string {
  const file = join(MOUNT, 'filler');
  const fd = openSync(file, 'a');
  try {
    for (const size of [64 * 1024, 512]) {
      const chunk = Buffer.alloc(size, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

/** Every path under `dir` whose name is a temp file of coord (`.tmp-*`, `*.tmp`, `*.coord-tmp`). */
function tempFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).filter((p) => /(^|\/)\.tmp-|\.tmp$|\.coord-tmp$/.test(p));
}

function runIds(): string[] {
  const dir = join(home, 'runs');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

interface Status {
  run: { id: string; state: string; endedAt: string | null };
  streams: Array<{ id: string; state: string; reason: string | null }>;
  convergence: Array<{ name: string; state: string; reason: string | null }>;
}

async function status(): Promise<Status> {
  const r = await coord(['status', '--json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Status;
}

describe(skipped ? `disk full (skipped: ${skipped})` : 'disk full', () => {
  test('a stream whose output fills the disk fails as disk-full naming its log; run, stream and point are stored as printed', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'p', type: 'barrier', streams: ['a'] }] },
      streams: [
        { id: 'a', command: `yes 'a line of output that fills the disk' | head -c ${8 * SIZE}` },
        { id: 'b', depends_on: ['p'], command: 'true' },
      ],
    });
    const r = await coord(['run', 'plan.yaml', '-q']);
    const [id] = runIds();
    const log = join(home, 'runs', id!, 'streams', 'a', 'stdout');
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain(`disk full: ${log}`);
    expect(r.stdout + r.stderr).not.toContain('launcher process exited');
    expect(r.stderr).not.toMatch(/Warning|ENOSPC|at .*\.js:\d+/);
    expect(r.stdout).toMatch(/a\s+failed \(disk-full\)/);
    expect(r.stdout).toMatch(/run \S+ failed/);

    const s = await status();
    expect(s.run.state).toBe('failed');
    expect(s.run.endedAt).not.toBeNull();
    expect(s.streams.find((x) => x.id === 'a')).toMatchObject({ state: 'failed', reason: 'disk-full' });
    expect(s.streams.find((x) => x.id === 'b')).toMatchObject({ state: 'skipped' });
    expect(s.convergence[0]).toMatchObject({ name: 'p', state: 'failed' });
    expect(tempFiles(home)).toEqual([]);
    // the space set aside for the run's last records is given back
    expect(existsSync(join(home, 'runs', id!, '.reserve'))).toBe(false);
  });

  test('once space is freed, --resume reruns the stream the full disk failed and keeps the one that succeeded', async () => {
    const plan = (bytes: number) => ({
      streams: [
        { id: 'a', command: `yes 'a line of output' | head -c ${bytes}` },
        // silent: no log to write on the full disk
        { id: 'b', command: 'true' },
      ],
    });
    rig.writePlan(plan(8 * SIZE));
    const first = await coord(['run', 'plan.yaml', '-q']);
    expect(first.code).toBe(1);
    expect(first.stdout).toMatch(/a\s+failed \(disk-full\)/);
    expect(first.stdout).toMatch(/b\s+succeeded/);
    const [id] = runIds();
    rmSync(join(home, 'runs', id!, 'streams', 'a', 'stdout'));
    rig.writePlan(plan(1000));
    const r = await coord(['run', 'plan.yaml', '--resume', id!, '-q']);
    expect(r.code).toBe(0);
    const s = await status();
    expect(s.run).toMatchObject({ id, state: 'succeeded' });
    expect(s.streams.map((x) => [x.id, x.state])).toEqual([
      ['a', 'succeeded'],
      ['b', 'succeeded'],
    ]);
    expect(r.stdout).toMatch(/a\s+succeeded\s+\S+\s+0\s+2/);
    expect(r.stdout).toMatch(/b\s+succeeded\s+\S+\s+0\s+1/);
  });

  test('a merge that fills the disk fails its point naming the file; nothing half-merged is published', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'p', type: 'barrier', streams: ['a'] }] },
      // the workspace is not on the small disk; the merged tree (converged/p) is
      streams: [{ id: 'a', command: `head -c ${2 * SIZE} /dev/zero > big.bin` }],
    });
    const r = await coord(['run', 'plan.yaml', '-q']);
    const [id] = runIds();
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(new RegExp(`p failed \\(merge-error\\): disk full: ${home}/runs/${id}/\\S+`));
    expect(r.stderr).not.toMatch(/Warning|ENOSPC/);
    const s = await status();
    expect(s.run.state).toBe('failed');
    expect(s.streams[0]).toMatchObject({ id: 'a', state: 'succeeded' });
    expect(s.convergence[0]).toMatchObject({ name: 'p', state: 'failed', reason: 'merge-error' });
    expect(existsSync(join(home, 'runs', id!, 'converged', 'p', 'big.bin'))).toBe(false);
    expect(tempFiles(home)).toEqual([]);
  });

  test('a disk already full at the start: exit 1 with "disk full: <path>", and no half-made run left', async () => {
    mkdirSync(home, { mode: 0o700 });
    fillDisk();
    rig.writePlan({ streams: [{ id: 'a', command: 'true' }] });
    const r = await coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^coord: disk full: ${home}/runs/\\S+\\n$`));
    expect(runIds()).toEqual([]);
    expect(tempFiles(home)).toEqual([]);
    const s = await coord(['status']);
    expect(s.stdout + s.stderr).not.toMatch(/running|interrupted/);
  });

  test('records that cannot be written while the disk is full are written at the end: what status says is what the run printed', async () => {
    const filler = join(MOUNT, 'filler');
    rig.writePlan({
      streams: [
        // fills the disk COORD_HOME is on (not with its output: its log stays small)
        { id: 'a', command: `cat /dev/zero > ${filler} 2>/dev/null; exit 0` },
        { id: 'b', depends_on: ['a'], command: 'true' },
      ],
    });
    const r = await coord(['run', 'plan.yaml']);
    const [id] = runIds();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/warning: disk full: \S+/);
    expect(r.stderr).toMatch(new RegExp(`^coord: disk full: ${home}/runs/${id}/\\S+: run ${id} failed; its final state is stored`));
    expect(r.stderr).not.toMatch(/Warning|ENOSPC/);
    expect(r.stdout).toMatch(/a\s+succeeded/);
    expect(r.stdout).toMatch(/b\s+succeeded/);
    expect(r.stdout).toMatch(new RegExp(`run ${id} failed`));

    const s = await status();
    expect(s.run).toMatchObject({ id, state: 'failed' });
    expect(s.run.endedAt).not.toBeNull();
    expect(s.streams.map((x) => [x.id, x.state])).toEqual([
      ['a', 'succeeded'],
      ['b', 'succeeded'],
    ]);
    expect(tempFiles(home)).toEqual([]);
  });

  test('when even the reserved space is gone, the run record is still rewritten in place and stderr says the rest could not be stored', async () => {
    const filler = join(MOUNT, 'filler');
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'p', type: 'barrier', streams: ['a'] }] },
      streams: [{ id: 'a', command: `rm -f "$COORD_RUN_DIR/.reserve"; cat /dev/zero > ${filler} 2>/dev/null; exit 0` }],
    });
    const r = await coord(['run', 'plan.yaml', '-q']);
    const [id] = runIds();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^coord: disk full: ${home}/runs/${id}/\\S+: run ${id} failed, but its final state could not be stored whole: the run record says failed`),
    );
    expect(r.stderr).not.toMatch(/Warning|ENOSPC/);
    const run = JSON.parse(readFileSync(join(home, 'runs', id!, 'run.json'), 'utf8')) as { state: string; endedAt: string | null };
    expect(run.state).toBe('failed');
    expect(run.endedAt).not.toBeNull();
    expect((await status()).run.state).toBe('failed');
    expect(tempFiles(home)).toEqual([]);
  });

  test('coord state set, coord queue send, coord write and coord append on a full disk: exit 1, "disk full: <path>", no temp file left', async () => {
    rig.writePlan({ streams: [{ id: 'a', command: 'true' }] });
    expect((await coord(['run', 'plan.yaml', '-q'])).code).toBe(0);
    const [id] = runIds();
    const runDir = join(home, 'runs', id!);
    fillDisk();

    const set = await coord(['state', 'set', 'k', '{"a":1}', '--run', id!]);
    expect(set.code).toBe(1);
    // the temp file of the version that could not be written is gone
    expect(tempFiles(runDir)).toEqual([]);
    expect(set.stderr).toBe(`coord: disk full: ${join(runDir, 'state', 'versions', '1.json')}\n`);

    const send = await coord(['queue', 'send', 'jobs', 'hello', '--run', id!]);
    expect(send.code).toBe(1);
    expect(tempFiles(runDir)).toEqual([]);
    expect(send.stderr).toMatch(new RegExp(`^coord: disk full: ${join(runDir, 'queues', 'jobs', 'messages')}/\\S+\\.json\\n$`));

    const target = join(MOUNT, 'written.txt');
    const write = await coord(['write', target], 'x'.repeat(64 * 1024));
    expect(write.code).toBe(1);
    expect(write.stderr).toBe(`coord: disk full: ${target}\n`);
    expect(existsSync(target)).toBe(false);

    const log = join(MOUNT, 'log.txt');
    const append = await coord(['append', log], 'a record\n'.repeat(8 * 1024));
    expect(append.code).toBe(1);
    expect(append.stderr).toBe(`coord: disk full: ${log}\n`);
    // no journal of the append stays, and no part of the record
    expect(readdirSync(MOUNT).filter((f) => f.includes('coord-append'))).toEqual([]);
    expect(existsSync(log) ? readFileSync(log, 'utf8') : '').toBe('');

    expect(tempFiles(MOUNT)).toEqual([]);
    // nothing was stored: the state is as it was
    const get = await coord(['state', 'get', '--run', id!]);
    expect(get.code).toBe(0);
    expect(get.stdout.trim()).not.toContain('"a"');
  });
});
