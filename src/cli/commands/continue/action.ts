/**
 * `coord continue [RUN]`: after a convergence point failed on a conflict and its conflicts
 * were resolved in `<run>/conflicts/<point>/`, go on with the run — the way `git merge
 * --continue` does after a conflicted merge. Files where coord wrote conflict markers must
 * have none left (exit 1 otherwise, nothing done). The run is then resumed with its plan:
 * the point is published with the resolutions, its skipped dependents run, streams that
 * succeeded are kept.
 */
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { openBackend, resolveRun } from '../../../context/backend.js';
import { EXIT, UsageError } from '../../errors.js';
import { readConflicts, readResolution, unresolved, type Resolution } from '../../../merge/conflicts.js';
import { runCommand, type RunFlags } from '../run/action.js';

export async function continueCommand(runId: string | undefined, flags: Omit<RunFlags, 'resume' | 'adopt' | 'dryRun'>): Promise<void> {
  const backend = await openBackend();
  const run = await resolveRun(backend, runId);
  const points = (await backend.listPoints(run.id)).filter((p) => p.state === 'failed' && p.reason === 'conflict');
  if (points.length === 0) {
    throw new UsageError(
      `run ${run.id} has no convergence point that failed on a conflict; to run what did not succeed again: coord run ${relative(process.cwd(), run.plan) || run.plan} --resume ${run.id}`,
    );
  }
  const resolutions = new Map<string, Resolution>();
  const left: string[] = [];
  for (const p of points) {
    const dir = p.conflictDir ?? join(backend.runDir(run.id), 'conflicts', p.name);
    const index = readConflicts(dir);
    if (!index) throw new UsageError(`point "${p.name}" of run ${run.id} has no conflict material in ${dir}`);
    for (const path of unresolved(dir, index)) left.push(join(dir, path));
    resolutions.set(p.name, await readResolution(dir, index));
  }
  if (left.length > 0) {
    process.stderr.write(
      `coord continue: ${left.length} file(s) still have conflict markers:\n${left.map((f) => `  ${relative(process.cwd(), f) || f}\n`).join('')}` +
        'Resolve them (keep what belongs, remove the <<<<<<<, ======= and >>>>>>> lines; delete a file to take a deletion) and run coord continue again.\n',
    );
    process.exitCode = EXIT.failed;
    return;
  }
  if (!existsSync(run.plan)) throw new UsageError(`the plan of run ${run.id} (${run.plan}) is gone; coord continue runs the run's own plan`);
  await runCommand(run.plan, { ...flags, resume: run.id, resolutions });
}
