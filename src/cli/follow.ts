/** Polling helpers for `-f`: files and the event log are re-read on a short timer until the run ends. */
import type { HostBackend } from '../backend/types.js';
import { coordinatorAlive } from '../status/snapshot.js';
import { TERMINAL_RUN_STATES } from '../events/types.js';

export const FOLLOW_POLL_MS = 150;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True once the run has ended or its coordinator is gone. */
export async function runOver(backend: HostBackend, runId: string): Promise<boolean> {
  const run = await backend.getRun(runId);
  if (!run) return true;
  return TERMINAL_RUN_STATES.has(run.state) || !(await coordinatorAlive(run, backend));
}
