/**
 * Resuming a run whose coordinator died. Streams it left running are found by the pid and
 * start time their records hold: either stopped (their process group gets TERM, then KILL
 * after the grace) so they run again, or, with `--adopt`, watched to their end: their
 * launcher outlives the coordinator and records the exit in `exit-<attempt>.json`.
 */
import { readFileSync } from 'node:fs';
import type { StreamRecord } from '../backend/types.js';
import type { ExitInfo, StreamProcess } from '../supervise/spawner.js';
import type { ExitRecord } from '../supervise/launcher-protocol.js';
import { LIVE_STREAM_STATES } from '../events/types.js';
import { groupAlive, sameProcess, signalGroup } from '../util/proc.js';

const POLL_MS = 100;

/** True when the record's process is still the one the dead coordinator started. */
export function leftoverAlive(rec: StreamRecord): boolean {
  return LIVE_STREAM_STATES.has(rec.state) && rec.pid !== null && rec.pgid !== null && sameProcess(rec.pid, rec.procStartTime);
}

/** The exit file the launcher writes for an attempt (see launcher.ts). */
export function exitFileOf(logDir: string, attempt: number): string {
  return `${logDir}/exit-${attempt}.json`;
}

/** Stops a leftover stream's process group: TERM, then KILL after `graceMs`. */
export async function stopLeftover(rec: StreamRecord, graceMs: number): Promise<void> {
  const pgid = rec.pgid ?? 0;
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
  signalGroup(pgid, 'SIGKILL');
  while (groupAlive(pgid)) await new Promise((r) => setTimeout(r, 20));
}

/**
 * A running stream of the dead coordinator, taken over: signals go to its group; its exit is
 * read from the exit file its launcher writes (or, with no launcher left to write it, the
 * end of its process group is an exit with an unknown code).
 */
export function adoptProcess(rec: StreamRecord, exitFile: string): StreamProcess {
  const pid = rec.pid ?? -1;
  const pgid = rec.pgid ?? pid;
  const exited = new Promise<ExitInfo>((resolve) => {
    let goneSince = 0;
    const timer = setInterval(() => {
      const recorded = readExit(exitFile);
      if (recorded) {
        clearInterval(timer);
        resolve({ exitCode: recorded.exitCode, signal: recorded.signal as NodeJS.Signals | null });
        return;
      }
      if (groupAlive(pgid)) return;
      // the group is gone: give the launcher a moment to write the exit file
      goneSince ||= Date.now();
      if (Date.now() - goneSince > 1000) {
        clearInterval(timer);
        resolve({ exitCode: null, signal: null, error: 'the adopted stream ended without a recorded exit status' });
      }
    }, POLL_MS);
  });
  return {
    pid,
    pgid,
    procStartTime: rec.procStartTime,
    exited,
    signal: (sig) => signalGroup(pgid, sig),
  };
}

function readExit(file: string): ExitRecord | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ExitRecord;
  } catch {
    return undefined;
  }
}
