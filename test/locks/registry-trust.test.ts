/**
 * Hardening I, defect 2: the lock registry, its token ledger and a run's `.coord` home are used
 * only when they are private to the user, and fencing tokens of a path never go back, whatever
 * happens to the registry (removed, put back from an older copy, entries swapped).
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Rig, fixture, type Spawned } from '../rig.js';
import { requires } from '../requires.js';
import { FileLockStore } from '../../src/locks/store.js';
import { removeTicket } from '../../src/locks/state.js';
import { lockKey } from '../../src/locks/registry.js';
import { grantTo as grant } from './waiters.js';

let rig: Rig;
afterEach(async () => rig?.cleanup());

/** Another user's uid (nobody): only root can give a directory to it. */
const OTHER_UID = 65534;
const rootTest = requires('root').test;

/** Collects `s`'s stdout from now on; the returned function waits for a line matching `re`. */
function output(s: Spawned): (re: RegExp, timeoutMs?: number) => Promise<RegExpExecArray> {
  let buf = '';
  s.child.stdout?.on('data', (d: Buffer) => (buf += d.toString()));
  return async (re, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(buf);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`no ${re} in output: ${buf}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
}

interface LocksJson {
  locks: Array<{ path: string; holders: Array<{ owner: string; token: number }>; waiters: Array<{ owner: string }> }>;
}

async function until(pred: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Every lock command on `target` with `env`, each expected to refuse with exit 2 and a message
 * matching `why`, writing nothing; `coord locks` too unless `listing` is false (it reads the
 * registry only, not the token ledger).
 */
async function allRefused(env: Record<string, string>, why: RegExp, listing = true): Promise<void> {
  const target = join(rig.dir, 'target');
  const lock = await rig.coord(['lock', target, '--', 'sh', '-c', 'echo ran'], { env });
  expect({ code: lock.code, stdout: lock.stdout }).toEqual({ code: 2, stdout: '' });
  expect(lock.stderr).toMatch(why);
  for (const cmd of ['write', 'append']) {
    const r = await rig.coord([cmd, target], { env, input: 'x\n' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(why);
  }
  expect(existsSync(target)).toBe(false);
  if (!listing) return;
  const locks = await rig.coord(['locks', '--all', '--json'], { env });
  expect(locks.code).toBe(2);
  expect(locks.stderr).toMatch(why);
}

describe('an unsafe lock registry is refused', () => {
  rootTest('pre-created by another user (mkdir -m 0777 /tmp/coord-locks-<uid>, owned by nobody): lock, write, append and locks exit 2 naming it', async () => {
    rig = new Rig();
    // the default registry name under TMPDIR, as another user would have made it before us
    const registry = join(rig.dir, `coord-locks-${process.getuid!()}`);
    mkdirSync(registry);
    chmodSync(registry, 0o777);
    chownSync(registry, OTHER_UID, OTHER_UID);
    const env = { TMPDIR: rig.dir, COORD_LOCK_DIR: '', XDG_STATE_HOME: join(rig.dir, 'state') };
    await allRefused(env, new RegExp(`lock registry ${registry} is owned by uid ${OTHER_UID}, not by the current user`));
    expect(readdirSync(registry)).toEqual([]);
  });

  test('a symbolic link, or a directory writable by group or others, is refused the same way', async () => {
    rig = new Rig();
    const real = join(rig.dir, 'real');
    mkdirSync(real, { mode: 0o700 });
    const link = join(rig.dir, 'link');
    symlinkSync(real, link);
    await allRefused({ COORD_LOCK_DIR: link }, new RegExp(`lock registry ${link} is a symbolic link`));
    for (const [mode, who] of [
      [0o770, 'its group'],
      [0o707, 'others'],
      [0o777, 'its group and others'],
    ] as const) {
      const dir = join(rig.dir, `open-${mode.toString(8)}`);
      mkdirSync(dir);
      chmodSync(dir, mode);
      await allRefused({ COORD_LOCK_DIR: dir }, new RegExp(`lock registry ${dir} is writable by ${who} \\(mode 0${mode.toString(8)}\\)`));
      expect(readdirSync(dir)).toEqual([]);
    }
  });

  test('the token ledger is held to the same rules', async () => {
    rig = new Rig();
    const ledger = join(rig.dir, 'tokens');
    mkdirSync(ledger);
    chmodSync(ledger, 0o777);
    await allRefused({ COORD_LOCK_TOKENS: ledger }, new RegExp(`lock token ledger ${ledger} is writable by its group and others`), false);
  });
});

describe('an unsafe .coord home is refused by coord run', () => {
  const plan = () => rig.writePlan({ streams: [{ id: 'a', command: `touch ${join(rig.dir, 'ran')}` }] });

  test('a symbolic link, or a directory writable by others: exit 2 naming it, no stream runs', async () => {
    rig = new Rig();
    plan();
    const elsewhere = join(rig.dir, 'elsewhere');
    mkdirSync(elsewhere, { mode: 0o700 });
    symlinkSync(elsewhere, rig.home);
    const linked = await rig.coord(['run', 'plan.yaml']);
    expect(linked.code).toBe(2);
    expect(linked.stderr).toMatch(new RegExp(`coord home ${rig.home} is a symbolic link`));
    expect(readdirSync(elsewhere)).toEqual([]);
    rmSync(rig.home);
    mkdirSync(rig.home);
    chmodSync(rig.home, 0o777);
    const open = await rig.coord(['run', 'plan.yaml']);
    expect(open.code).toBe(2);
    expect(open.stderr).toMatch(new RegExp(`coord home ${rig.home} is writable by its group and others \\(mode 0777\\)`));
    expect(readdirSync(rig.home)).toEqual([]);
    expect(existsSync(join(rig.dir, 'ran'))).toBe(false);
  });

  rootTest('owned by another user: exit 2 naming it, no stream runs', async () => {
    rig = new Rig();
    plan();
    mkdirSync(rig.home, { mode: 0o700 });
    chownSync(rig.home, OTHER_UID, OTHER_UID);
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`coord home ${rig.home} is owned by uid ${OTHER_UID}, not by the current user`));
    expect(readdirSync(rig.home)).toEqual([]);
    expect(existsSync(join(rig.dir, 'ran'))).toBe(false);
  });
});

describe('fencing tokens never go back, whatever happens to the registry', () => {
  test('rm -rf of the registry while a lock is held: the next grant gets a higher token, the old token is refused', async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    expect((await rig.coord(['lock', f, '--', 'sh', '-c', 'echo $COORD_LOCK_TOKEN'])).stdout).toBe('1\n');
    const holder = rig.spawn(['lock', f, '--', 'sh', '-c', `echo held $COORD_LOCK_TOKEN; exec ${fixture('wait-for-file.js', join(rig.dir, 'go'))}`]);
    await output(holder)(/held 2/);
    rmSync(join(rig.dir, 'locks'), { recursive: true, force: true });
    const next = await rig.coord(['lock', f, '--', 'sh', '-c', 'echo got $COORD_LOCK_TOKEN']);
    expect(next).toMatchObject({ code: 0, stdout: 'got 3\n' });
    // the holder of token 2 is out of date: its fenced write is refused
    const stale = await rig.coord(['write', '--fence', '2', f], { input: 'stale\n' });
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/fencing token 2 is stale, token 3 has been granted since/);
    expect(existsSync(f)).toBe(false);
    execFileSync('touch', [join(rig.dir, 'go')]);
    await holder.done;
    // with nothing held, removing the registry once more still does not set the lock back
    rmSync(join(rig.dir, 'locks'), { recursive: true, force: true });
    expect((await rig.coord(['lock', f, '--', 'sh', '-c', 'echo $COORD_LOCK_TOKEN'])).stdout).toBe('4\n');
  });

  test('the registry put back from an older copy: the next grant gets a higher token, the holder it lists as a waiter stops with "lock lost"', async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const registry = join(rig.dir, 'locks');
    const backup = join(rig.dir, 'locks-backup');
    const first = rig.spawn(['lock', f, '--', 'sh', '-c', `echo first $COORD_LOCK_TOKEN; exec ${fixture('wait-for-file.js', join(rig.dir, 'gate'))}`]);
    await output(first)(/first 1/);
    const holder = rig.spawn(['lock', '--lease', '3s', f, '--', 'sh', '-c', `echo held $COORD_LOCK_TOKEN; exec ${fixture('hang.js')}`]);
    const holderLine = output(holder);
    await until(async () => {
      const r = await rig.coord(['locks', '--all', '--json']);
      return r.code === 0 && (JSON.parse(r.stdout) as LocksJson).locks[0]?.waiters.length === 1;
    });
    // a copy taken while `first` holds token 1 and `holder` waits
    execFileSync('cp', ['-a', registry, backup]);
    execFileSync('touch', [join(rig.dir, 'gate')]);
    expect((await first.done).code).toBe(0);
    await holderLine(/held 2/);
    // put the copy back while the holder is paused (not for long: far less than its lease)
    process.kill(holder.child.pid!, 'SIGSTOP');
    try {
      rmSync(registry, { recursive: true, force: true });
      execFileSync('cp', ['-a', backup, registry]);
    } finally {
      process.kill(holder.child.pid!, 'SIGCONT');
    }
    const next = await rig.coord(['lock', '--timeout', '20s', f, '--', 'sh', '-c', 'echo got $COORD_LOCK_TOKEN']);
    expect(next).toMatchObject({ code: 0, stdout: 'got 3\n' });
    const h = await holder.done;
    expect(h.code).toBe(75);
    expect(h.stderr).toMatch(/lock lost on .*\/f/);
  }, 60_000);

  test('a grant committed on a state read just before an rm -rf is taken back and made again above the newest token', () => {
    rig = new Rig();
    const registry = join(rig.dir, 'reg');
    const f = join(rig.dir, 'f');
    const other = new FileLockStore(registry);
    other.updateSync(f, grant('a'));
    other.updateSync(f, (s) => removeTicket(s, 'a').state);
    // this store reads the free lock (token 1); before it commits, another process is granted
    // token 2 and the lock's entry is removed (an rm -rf of the registry, caught at that moment)
    const mine = new FileLockStore(registry);
    let first = true;
    const r = mine.updateSync(f, (s) => {
      if (first) {
        first = false;
        expect(other.updateSync(f, grant('b')).state.holders.map((h) => h.token)).toEqual([2]);
        rmSync(join(registry, lockKey(f)), { recursive: true, force: true });
      }
      return grant('c')(s);
    });
    // its grant of token 2 (a second token 2) was taken back and made again as token 3
    expect(r.state.holders.map((h) => [h.ticket, h.token])).toEqual([['c', 3]]);
    expect(mine.readSync(f).token).toBe(3);
    expect(
      readdirSync(`${registry}.tokens/${lockKey(f)}`)
        .filter((n) => /^\d+$/.test(n))
        .sort(),
    ).toEqual(['1', '2', '3']);
  });

  test("two lock entries swapped by hand: the lock is refused (exit 2) naming the entry, not granted with the other lock's token", async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const g = join(rig.dir, 'g');
    const registry = join(rig.dir, 'locks');
    const entries = () => new Set(readdirSync(registry).filter((n) => /^[0-9a-f]{32}$/.test(n)));
    await rig.coord(['lock', f, '--', 'true']);
    await rig.coord(['lock', f, '--', 'true']);
    const fKey = [...entries()][0]!;
    await rig.coord(['lock', g, '--', 'true']);
    const gKey = [...entries()].find((k) => k !== fKey)!;
    renameSync(join(registry, fKey), join(registry, 'tmp'));
    renameSync(join(registry, gKey), join(registry, fKey));
    renameSync(join(registry, 'tmp'), join(registry, gKey));
    const r = await rig.coord(['lock', f, '--', 'sh', '-c', 'echo got $COORD_LOCK_TOKEN']);
    expect(r.stdout).toBe('');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`lock registry entry ${join(registry, fKey)} holds the lock of ${g}, not of ${f}`));
  });
});
