/**
 * Process identity on this host. A pid alone can be reused after its process dies, so runs
 * record the pid together with its start time (field 22 of /proc/PID/stat, in clock ticks
 * since boot; see proc(5)) and compare both before signalling anything.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

/** Fields of /proc/PID/stat coord uses; null when the process (or /proc) is not there. */
interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  start: number | null;
}

function readStat(pid: number): ProcStat | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return { state: fields[0] ?? '', ppid: Number(fields[1]), pgrp: Number(fields[2]), start: Number.isFinite(start) ? start : null };
}

/** The start time of `pid` in clock ticks since boot, or null where /proc is not available. */
export function processStartTime(pid: number): number | null {
  return readStat(pid)?.start ?? null;
}

/**
 * The live process `pid` as /proc sees it: undefined when it does not exist or is a zombie
 * (signal 0 succeeds on a zombie — dead, not yet reaped by its parent, which for an orphan may
 * take a while — so /proc's state field decides where it exists); null where there is no /proc
 * and the signal probe is all there is.
 */
function liveStat(pid: number): ProcStat | null | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  const stat = readStat(pid);
  if (!stat) return existsSync('/proc/self') ? undefined : null;
  return stat.state === 'Z' || stat.state === 'X' ? undefined : stat;
}

/** True when a process with this pid exists and has not exited (a zombie counts as exited). */
export function pidAlive(pid: number): boolean {
  return liveStat(pid) !== undefined;
}

/** True when `pid` still names the process that had `startTime` (null start time: pid check only). One read of /proc. */
export function sameProcess(pid: number, startTime: number | null | undefined): boolean {
  const stat = liveStat(pid);
  if (stat === undefined) return false;
  if (stat === null || startTime === null || startTime === undefined || stat.start === null) return true;
  return stat.start === startTime;
}

/** The parent of live process `pid` and the parent's start time, from /proc; null where it cannot be read. */
export function parentOf(pid: number): { pid: number; start: number | null } | null {
  const stat = liveStat(pid);
  if (!stat || stat.ppid <= 1) return null;
  return { pid: stat.ppid, start: processStartTime(stat.ppid) };
}

/** The command line of `pid` (its arguments joined by spaces), or '' where /proc does not show it. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Every descendant of `pid` (children, then theirs), from /proc; empty where there is none. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const stat = readStat(Number(e));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(e));
    children.set(stat.ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/**
 * True when a live process is still in process group `pgid`. Signal 0 finds zombies too (dead,
 * not reaped: an orphan waits for an init that may never reap it), so where signal 0 finds the
 * group, /proc decides: the leader itself when it lives, else a scan for a live member.
 */
export function groupAlive(pgid: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  const leader = liveStat(pgid);
  if (leader === null || leader?.pgrp === pgid) return true;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const stat = readStat(Number(e));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') return true;
  }
  return false;
}

/**
 * Waits until no live process is left in group `pgid` (after a SIGKILL the kernel tears the
 * processes down on their next run, later on a loaded machine), polling every `pollMs`, for at
 * most `limitMs` (a process in uninterruptible sleep dies only when its I/O returns). True
 * when the group is gone.
 */
export async function groupGone(pgid: number, limitMs: number, pollMs = 10, alive: (pgid: number) => boolean = groupAlive): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (!alive(pgid)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * Sends `signal` to every process of group `pgid` (kill(2) with a negative pid). Returns false
 * when the group is already gone. Never throws: a stop must go on for the other streams.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}
