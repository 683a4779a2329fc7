/** An attempt's end: what its leader left in its group is stopped, and gone, before the exit is reported. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnProcess, type GroupProbe } from '../../src/supervise/spawner.js';
import { groupAlive, groupGone } from '../../src/util/proc.js';
import { processAlive } from '../rig.js';
import { makeTemp, removeTemp } from '../workspace/fsfix.js';

let tmp: string;
beforeEach(async () => {
  tmp = await makeTemp('coord-spawner-');
});
afterEach(async () => {
  await removeTemp(tmp);
});

function request(command: string) {
  return { command, cwd: tmp, env: process.env, stdoutFile: path.join(tmp, 'out'), stderrFile: path.join(tmp, 'err') };
}

/** Waits until /proc shows `pid` as a zombie. */
async function zombie(pid: number): Promise<void> {
  for (;;) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('the end of an attempt', () => {
  it('reports the exit only after every leftover of the group is gone, not just signalled', async () => {
    // leftovers that ignore SIGTERM and do not hold the pipes: the SIGKILL comes at once
    const pids = path.join(tmp, 'pids');
    const proc = spawnProcess(request(`for i in 1 2 3 4 5 6 7 8; do (trap '' TERM; exec sleep 30) >/dev/null 2>&1 & echo $! >> ${pids}; done; exit 0`));
    const info = await proc.exited;
    expect(info.exitCode).toBe(0);
    const left = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    expect(left).toHaveLength(8);
    expect(left.filter(processAlive)).toEqual([]);
    expect(groupAlive(proc.pgid)).toBe(false);
  });

  it('waits for the group to be seen gone after its SIGKILL', async () => {
    // the group is reported alive for a few looks after the kill, as on a loaded machine
    let looksAfterKill = 0;
    let seenGone = false;
    const probe: GroupProbe = {
      goneMs: 20_000,
      groupAlive: (g) => {
        if (!groupAlive(g) && looksAfterKill === 0) return false;
        looksAfterKill++;
        if (looksAfterKill <= 5) return true;
        seenGone = true;
        return false;
      },
    };
    const proc = spawnProcess(request(`(trap '' TERM; exec sleep 30) >/dev/null 2>&1 & exit 0`), probe);
    await proc.exited;
    expect(seenGone).toBe(true);
    expect(groupAlive(proc.pgid)).toBe(false);
  });

  it('gives up waiting after its limit: a process that cannot die does not hold the exit forever', async () => {
    const proc = spawnProcess(request('exit 4'), { goneMs: 50, groupAlive: () => true });
    expect((await proc.exited).exitCode).toBe(4);
  });
});

describe('groupAlive', () => {
  it('does not count a zombie: a group whose one member is dead but not reaped is gone', async () => {
    // perl forks a child into a group of its own; the child exits and perl never reaps it
    const parent = spawn('perl', ['-e', '$| = 1; my $p = fork; if (!$p) { setpgrp(0, 0); exit 0 } print "$p\\n"; sleep 60'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const child = await new Promise<number>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
      await zombie(child);
      expect(() => process.kill(-child, 0)).not.toThrow(); // signal 0 still finds the group
      expect(groupAlive(child)).toBe(false);
      expect(await groupGone(child, 1000)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('counts a live member whose leader is gone', async () => {
    // the group's leader (sh) exits and leaves sleep behind in its group
    const sh = spawn('sh', ['-c', 'sleep 60 & echo $!'], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    const sleeper = await new Promise<number>((resolve) => sh.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))));
    const pgid = sh.pid ?? 0;
    await new Promise((r) => sh.once('exit', r));
    try {
      expect(groupAlive(pgid)).toBe(true);
      expect(await groupGone(pgid, 30)).toBe(false);
    } finally {
      process.kill(sleeper, 'SIGKILL');
    }
    expect(await groupGone(pgid, 20_000)).toBe(true);
  });
});
