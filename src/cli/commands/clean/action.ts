/**
 * `coord clean [RUN | --all]`: removes a run's directory and the workspaces coord made for it
 * (`<workspace_root>/<run id>`). Bare `coord clean` is `--all`. A run whose coordinator is
 * alive is never removed; workspaces the plan named explicitly are the user's and stay.
 */
import { rmSync } from 'node:fs';
import { basename } from 'node:path';
import { openBackend } from '../../../context/backend.js';
import { coordinatorAlive } from '../../../status/snapshot.js';
import type { RunRecord } from '../../../backend/types.js';
import { UsageError } from '../../errors.js';

/** Removes runs; --json prints `{"removed":[ids]}`. */
export async function cleanCommand(runId: string | undefined, flags: { all?: boolean; json?: boolean }): Promise<void> {
  const backend = await openBackend();
  if (runId && flags.all) throw new UsageError('give a run id or --all, not both');
  let runs: RunRecord[];
  if (runId) {
    const run = await backend.getRun(runId);
    if (!run) throw new UsageError(`no run "${runId}" in ${backend.where}`);
    if (run.state === 'running' && (await coordinatorAlive(run, backend)))
      throw new UsageError(`run ${runId} is still running (stop it first: coord stop ${runId})`);
    runs = [run];
  } else {
    runs = [];
    for (const r of await backend.listRuns()) if (!(r.state === 'running' && (await coordinatorAlive(r, backend)))) runs.push(r);
  }
  for (const run of runs) {
    // The recorded workspace directory is only removed when it is the run's own directory.
    if (run.workspaceDir && basename(run.workspaceDir) === run.id) rmSync(run.workspaceDir, { recursive: true, force: true });
    await backend.removeRun(run.id);
    rmSync(backend.runDir(run.id), { recursive: true, force: true }); // this host's files of a run stored on a server
    if (!flags.json) process.stdout.write(`removed ${run.id}\n`);
  }
  if (flags.json) process.stdout.write(JSON.stringify({ removed: runs.map((r) => r.id) }) + '\n');
  else if (runs.length === 0) process.stdout.write('nothing to clean\n');
}
