/**
 * Hardening I, defect 3: CMD never outlives its `coord lock`. SIGKILL of the real `coord lock`
 * process stops CMD's whole process tree before the lock goes to the next waiter, and a
 * `coord write` / `coord append` that trusts a COORD_LOCK_CHAIN whose grant is no longer a live
 * holder is refused (exit 75) instead of skipping the lock.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, Rig, fixture, processAlive, shellQuote, type Spawned } from '../rig.js';

const coordCmd = [process.execPath, COORD].map(shellQuote).join(' ');

let rig: Rig;
afterEach(async () => rig?.cleanup());

async function until<T>(fn: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Collects `s`'s stdout from now on; the returned function waits for a line matching `re`. */
function output(s: Spawned): (re: RegExp) => Promise<RegExpExecArray> {
  let buf = '';
  s.child.stdout?.on('data', (d: Buffer) => (buf += d.toString()));
  return (re) => until(() => re.exec(buf) ?? undefined, `${re} in the output`);
}

interface LocksJson {
  locks: Array<{ holders: Array<{ owner: string; pid: number; token: number }>; waiters: Array<{ owner: string }> }>;
}

async function locks(): Promise<LocksJson> {
  const r = await rig.coord(['locks', '--all', '--json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as LocksJson;
}

/** Shell: prints "NAME alive" or "NAME gone" for the pid in FILE (a zombie is gone). */
const state = (name: string, file: string) =>
  `p=$(cat ${file}); if [ -e /proc/$p ] && ! grep -q '^State:[[:space:]]*Z' /proc/$p/status; then echo ${name} alive; else echo ${name} gone; fi`;

describe('the death of coord lock', () => {
  test('SIGKILL of coord lock stops CMD and its children before the lock goes to the next waiter', async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const cmdPid = join(rig.dir, 'cmd.pid');
    const childPid = join(rig.dir, 'child.pid');
    // CMD (a shell) with a child of its own, both inside the critical section
    const holder = rig.spawn(['lock', f, '--', 'sh', '-c', `${fixture('hang.js')} & echo $! > ${childPid}; echo $$ > ${cmdPid}; echo held; wait`]);
    await output(holder)(/held/);
    const waiter = rig.spawn(['lock', f, '--', 'sh', '-c', `${state('cmd', cmdPid)}; ${state('child', childPid)}; echo got $COORD_LOCK_TOKEN`]);
    await until(async () => ((await locks()).locks[0]?.waiters.length ? true : undefined), 'the waiter to queue');
    const pids = [Number(readFileSync(cmdPid, 'utf8')), Number(readFileSync(childPid, 'utf8'))];
    expect(pids.every(processAlive)).toBe(true);
    holder.child.kill('SIGKILL');
    const w = await waiter.done;
    // the waiter saw neither CMD nor its child when it was granted
    expect(w).toMatchObject({ code: 0, stdout: 'cmd gone\nchild gone\ngot 2\n' });
    expect(pids.filter(processAlive)).toEqual([]);
    await holder.done;
    expect(rig.leftovers()).toEqual([]);
  });

  test('CMD is stopped even when no one waits for the lock', async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const holder = rig.spawn(['lock', f, '--', 'sh', '-c', `echo held $$; exec ${fixture('hang.js')}`]);
    const [, pid] = await output(holder)(/held (\d+)/);
    holder.child.kill('SIGKILL');
    await until(() => (processAlive(Number(pid)) ? undefined : true), 'CMD to stop');
    await holder.done;
    expect(rig.leftovers()).toEqual([]);
  });

  test('the watchdog killed on its own: coord lock stops CMD and exits 75, and the lock goes on', async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const holder = rig.spawn(['lock', f, '--', 'sh', '-c', `echo held $$; exec ${fixture('hang.js')}`]);
    const [, pid] = await output(holder)(/held (\d+)/);
    const wrapper = holder.child.pid!;
    // the watchdog: the child of coord lock that runs watchdog.js
    const watchdog = await until(() => {
      for (const name of readdirSync('/proc')) {
        if (!/^\d+$/.test(name)) continue;
        try {
          const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
          const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
          if (ppid === wrapper && readFileSync(`/proc/${name}/cmdline`, 'latin1').includes('watchdog.js')) return Number(name);
        } catch {
          /* gone */
        }
      }
      return undefined;
    }, 'the watchdog');
    process.kill(watchdog, 'SIGKILL');
    const r = await holder.done;
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(new RegExp(`the watchdog of coord lock \\(pid ${watchdog}\\) ended; without it CMD could outlive this process`));
    expect(processAlive(Number(pid))).toBe(false);
    expect((await rig.coord(['lock', f, '--', 'sh', '-c', 'echo got $COORD_LOCK_TOKEN'])).stdout).toBe('got 2\n');
  });

  test("coord write and append with a dead coord lock's COORD_LOCK_CHAIN are refused with exit 75 and write nothing", async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const chainFile = join(rig.dir, 'chain');
    const holder = rig.spawn(['lock', f, '--', 'sh', '-c', `echo "$COORD_LOCK_CHAIN" > ${chainFile}; echo held $$; exec ${fixture('hang.js')}`]);
    const [, pid] = await output(holder)(/held (\d+)/);
    const chain = readFileSync(chainFile, 'utf8').trim();
    // coord lock and CMD both killed: whatever else carries the chain is on its own now
    holder.child.kill('SIGKILL');
    process.kill(Number(pid), 'SIGKILL');
    await holder.done;
    // what a process CMD left behind would run now: no waiter has reclaimed the lock yet
    for (const cmd of ['write', 'append']) {
      const r = await rig.coord([cmd, f], { env: { COORD_LOCK_CHAIN: chain }, input: `${cmd} after death\n` });
      expect(r.code).toBe(75);
      expect(r.stderr).toMatch(
        new RegExp(
          `refused to write ${f}: the enclosing coord lock no longer holds it: its coord lock \\(pid ${holder.child.pid}\\) has ended; nothing was written`,
        ),
      );
    }
    expect(existsSync(f)).toBe(false);
  });

  test('coord write and append with the COORD_LOCK_CHAIN of a released lock are refused with exit 75', async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const chainFile = join(rig.dir, 'chain');
    expect((await rig.coord(['lock', f, '--', 'sh', '-c', `echo "$COORD_LOCK_CHAIN" > ${chainFile}`])).code).toBe(0);
    const chain = readFileSync(chainFile, 'utf8').trim();
    for (const cmd of ['write', 'append']) {
      const r = await rig.coord([cmd, f], { env: { COORD_LOCK_CHAIN: chain }, input: 'late\n' });
      expect(r.code).toBe(75);
      expect(r.stderr).toMatch(/the enclosing coord lock no longer holds it: its grant is no longer a holder of the lock/);
    }
    expect(existsSync(f)).toBe(false);
    // a holder's own write still goes through without a lock of its own
    const ok = await rig.coord(['lock', f, '--', 'sh', '-c', `echo inside | ${coordCmd} write ${f}`]);
    expect(ok.code).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('inside\n');
  });
});
