/**
 * Process identity on this host. A pid alone can be reused after its process dies, so runs
 * record the pid together with its start time (field 22 of /proc/PID/stat, in clock ticks
 * since boot; see proc(5)) and compare both before signalling anything.
 */
import { existsSync, readFileSync } from 'node:fs';

/** The start time of `pid` in clock ticks since boot, or null where /proc is not available. */
export function processStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : null;
  } catch {
    return null;
  }
}

/**
 * True when a process with this pid exists and has not exited. Signal 0 probes without
 * sending anything, but it also succeeds on a zombie (dead, not yet reaped by its parent —
 * which, for an orphan, may take a while), so /proc's state field decides where it exists.
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch (e) {
    // no /proc on this system: the signal probe is all there is
    return (e as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync('/proc/self');
  }
}

/** True when `pid` still names the process that had `startTime` (null start time: pid check only). */
export function sameProcess(pid: number, startTime: number | null | undefined): boolean {
  if (!pidAlive(pid)) return false;
  if (startTime === null || startTime === undefined) return true;
  const now = processStartTime(pid);
  return now === null || now === startTime;
}

/** True when any process is still in process group `pgid`. */
export function groupAlive(pgid: number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
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
