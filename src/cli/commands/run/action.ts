/** `coord run PLAN`: validate, run to the end with a reporter, print the summary, set the exit code. */
import { StreamCoordinator } from '../../../orchestrator/coordinator.js';
import { loadPlanFile } from '../../../plan/load.js';
import { formatDiagnostics } from '../../../plan/diagnostics.js';
import { dryRun, formatDryRun } from './dry-run.js';
import { createReporter } from '../../../report/reporter.js';
import { coordHome, openBackend } from '../../../context/backend.js';
import { coordinatorAlive } from '../../../status/snapshot.js';
import type { Plan } from '../../../plan/types.js';
import { WorkspaceError } from '../../../workspace/root.js';
import { EXIT, UsageError } from '../../errors.js';
import { writeCiOutputs } from '../../../report/ci.js';
import type { ReporterName } from '../../../report/types.js';
import { resolve } from 'node:path';
import { durationMs } from '../../../util/duration.js';
import type { Resolution } from '../../../merge/conflicts.js';

export interface RunFlags {
  concurrency?: number;
  json?: boolean;
  dryRun?: boolean;
  rm?: boolean;
  keepWorkspaces?: boolean;
  quiet?: boolean;
  /** `--reporter`: the reporter asked for, over the one the environment suggests. */
  reporter?: ReporterName;
  report?: string;
  resume?: string;
  adopt?: boolean;
  workers?: boolean;
  /** `coord continue`: the resolved conflicts of the run's failed points. */
  resolutions?: ReadonlyMap<string, Resolution>;
}

/** With --workers, how many streams the coordinator hands out at once unless -c says otherwise: the workers' slots decide. */
export const WORKERS_CONCURRENCY = 100_000;

export async function runCommand(planPath: string, flags: RunFlags): Promise<void> {
  const loaded = await loadPlanFile(planPath);
  if (!loaded.ok) {
    process.stderr.write(formatDiagnostics(loaded.error) + '\n');
    process.exitCode = EXIT.usage;
    return;
  }
  const plan = loaded.value;
  if (flags.dryRun) {
    const order = dryRun(plan);
    process.stdout.write(flags.json ? JSON.stringify(order) + '\n' : formatDryRun(order));
    return;
  }
  if (flags.adopt && !flags.resume) throw new UsageError('--adopt goes with --resume RUN_ID');
  const backendUrl = process.env.COORD_BACKEND;
  if (flags.workers && !backendUrl) throw new UsageError('--workers needs a Redis server: add --backend redis://HOST[:PORT][/DB] (or set COORD_BACKEND)');
  // read before anything starts: a bad value is bad usage (exit 2, naming the variable), with no run left behind
  const runLeaseMs = process.env.COORD_RUN_LEASE ? durationMs(process.env.COORD_RUN_LEASE, 'COORD_RUN_LEASE') : undefined;
  const workerLeaseMs = flags.workers && process.env.COORD_WORKER_LEASE ? durationMs(process.env.COORD_WORKER_LEASE, 'COORD_WORKER_LEASE') : undefined;
  if (flags.resume) {
    const verdict = await checkResumable(flags.resume, plan);
    if (verdict) {
      process.stdout.write(verdict + '\n');
      return;
    }
  }
  const reporter = await createReporter({
    quiet: flags.quiet ?? false,
    json: flags.json ?? false,
    ...(flags.reporter ? { reporter: flags.reporter } : {}),
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
  });
  const coordinator = new StreamCoordinator({
    plan,
    home: coordHome(),
    backend: await openBackend(),
    ...(flags.concurrency ? { concurrency: flags.concurrency } : flags.workers ? { concurrency: WORKERS_CONCURRENCY } : {}),
    ...(runLeaseMs !== undefined ? { runLeaseMs } : {}),
    ...(flags.workers && backendUrl ? { workers: { url: backendUrl, ...(workerLeaseMs !== undefined ? { leaseMs: workerLeaseMs } : {}) } } : {}),
    removeWorkspaces: flags.rm ?? false,
    keepWorkspaces: flags.keepWorkspaces ?? false,
    ...(flags.resume ? { runId: flags.resume, resume: { adopt: flags.adopt ?? false, ...(flags.resolutions ? { resolutions: flags.resolutions } : {}) } } : {}),
    // --quiet prints no output lines, so none are forwarded (--json prints them all).
    outputLines: !(flags.quiet ?? false) || (flags.json ?? false),
  });
  coordinator.on((e) => reporter.onEvent(e));

  // First SIGINT/SIGTERM: stop gracefully (TERM, then KILL after the grace); second: KILL now.
  let signals = 0;
  const onSignal = (): void => {
    signals += 1;
    coordinator.stop('interrupted', signals > 1);
  };
  const handled: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of handled) process.on(s, onSignal);
  try {
    const outcome = await coordinator.run();
    reporter.done(outcome);
    if (outcome.diskFull) {
      const { message, stored, runStored } = outcome.diskFull;
      const id = outcome.runId;
      process.stderr.write(
        stored
          ? `coord: ${message}: run ${id} ${outcome.state}; its final state is stored (output and events written while the disk was full are lost)\n`
          : runStored
            ? `coord: ${message}: run ${id} ${outcome.state}, but its final state could not be stored whole: the run record says ${outcome.state}, stream and point records are as last stored\n`
            : `coord: ${message}: run ${id} ${outcome.state}, but its final state could not be stored: coord status shows what was stored before (the run as interrupted)\n`,
      );
    }
    writeCiOutputs(outcome, {
      ...(flags.report ? { report: resolve(flags.report) } : {}),
      name: plan.name,
      plan,
      ...(flags.reporter ? { reporter: flags.reporter } : {}),
      env: process.env,
      // annotations go where CI logs are read; with --json stdout is reserved for events
      stdout: flags.json ? process.stderr : process.stdout,
    });
    process.exitCode = outcome.exitCode;
  } catch (e) {
    if (e instanceof WorkspaceError) throw new UsageError(e.message);
    throw e;
  } finally {
    for (const s of handled) process.off(s, onSignal);
  }
}

/**
 * Whether run `id` can be resumed with `plan`: a usage error when it cannot, a message when
 * there is nothing to do (it succeeded), undefined when it can.
 */
async function checkResumable(id: string, plan: Plan): Promise<string | undefined> {
  const backend = await openBackend();
  const run = await backend.getRun(id);
  if (!run) throw new UsageError(`--resume: no run "${id}" in ${backend.where}`);
  if (run.state === 'running' && (await coordinatorAlive(run, backend)))
    throw new UsageError(`--resume: run ${id} is still running (pid ${run.coordinator.pid})`);
  if (run.state === 'succeeded') return `run ${id} already succeeded; nothing to resume`;
  if (plan.streams.some((s) => s.isolation === 'worktree')) {
    throw new UsageError('--resume: a plan with worktree streams cannot be resumed (their branches and worktrees exist); start a new run');
  }
  return undefined;
}
