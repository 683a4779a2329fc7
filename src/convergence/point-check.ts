/**
 * One check of a point's merge (`verify:`): the command, run in a scratch tree of the merge
 * (src/verify/scratch.ts), in its own process group, with stdout and stderr in one log file.
 * A run longer than `verify_timeout` gets SIGTERM, then SIGKILL after the grace, and counts as
 * failed; so does a run that does not exit 0. `verify_retries` runs a failing check again (a
 * flaky test passes on a later try). A check called off (`signal`: a search no longer needs it,
 * the run stops) is stopped the same way and ends `cancelled`.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { CheckOutcome } from '../events/types.js';
import type { ExitInfo, Spawner } from '../supervise/spawner.js';
import { fileTail } from '../util/tail.js';
import { checkPool, type CheckPool } from '../verify/scratch.js';
import type { BaseTree } from '../workspace/basetree.js';

export interface CheckRequest {
  command: string | string[];
  /** The scratch tree: the check's working directory. */
  tree: string;
  env: NodeJS.ProcessEnv;
  /** Where its output goes (appended: one section per try). */
  log: string;
  timeoutMs: number;
  retries: number;
  /** How long a stopped check has between SIGTERM and SIGKILL. */
  graceMs: number;
  /** Calls the check off. */
  signal?: AbortSignal;
}

export interface CheckResult {
  outcome: CheckOutcome;
  exitCode: number | null;
  signal: string | null;
  tries: number;
  durationMs: number;
}

/** Runs the check, again while it fails and `retries` allow; how the last try ended. */
export async function runCheck(spawner: Spawner, req: CheckRequest): Promise<CheckResult> {
  const t0 = performance.now();
  mkdirSync(dirname(req.log), { recursive: true, mode: 0o700 });
  const most = 1 + Math.max(0, req.retries);
  let last: Omit<CheckResult, 'tries' | 'durationMs'> = { outcome: 'cancelled', exitCode: null, signal: null };
  let tries = 0;
  while (tries < most && !req.signal?.aborted) {
    tries++;
    appendFileSync(req.log, `${tries > 1 ? '\n' : ''}── try ${tries} of ${most}: ${commandText(req.command)} ──\n`, { mode: 0o600 });
    last = await once(spawner, req);
    appendFileSync(req.log, `── ${describe(last)} ──\n`);
    if (last.outcome === 'passed' || last.outcome === 'cancelled') break;
  }
  if (tries === 0) last = { outcome: 'cancelled', exitCode: null, signal: null };
  return { ...last, tries, durationMs: performance.now() - t0 };
}

function describe(r: { outcome: CheckOutcome; exitCode: number | null; signal: string | null }): string {
  if (r.outcome === 'failed') return r.signal ? `failed: signal ${r.signal}` : `failed: exit ${r.exitCode}`;
  return r.outcome === 'timed-out' ? 'timed out' : r.outcome;
}

async function once(spawner: Spawner, req: CheckRequest): Promise<Omit<CheckResult, 'tries' | 'durationMs'>> {
  const proc = await spawner.spawn({ command: req.command, cwd: req.tree, env: req.env, stdoutFile: req.log, stderrFile: req.log });
  let stoppedFor: 'timed-out' | 'cancelled' | undefined;
  const timers: NodeJS.Timeout[] = [];
  const stop = (why: 'timed-out' | 'cancelled'): void => {
    if (stoppedFor) return;
    stoppedFor = why;
    proc.signal('SIGTERM');
    timers.push(setTimeout(() => proc.signal('SIGKILL'), req.graceMs));
  };
  timers.push(setTimeout(() => stop('timed-out'), req.timeoutMs));
  const onAbort = (): void => stop('cancelled');
  req.signal?.addEventListener('abort', onAbort, { once: true });
  if (req.signal?.aborted) onAbort();
  let info: ExitInfo;
  try {
    info = await proc.exited;
  } finally {
    for (const t of timers) clearTimeout(t);
    req.signal?.removeEventListener('abort', onAbort);
  }
  if (info.error) appendFileSync(req.log, `could not start the check: ${info.error}\n`);
  if (stoppedFor) return { outcome: stoppedFor, exitCode: info.exitCode, signal: info.signal };
  return { outcome: info.exitCode === 0 && !info.error ? 'passed' : 'failed', exitCode: info.exitCode, signal: info.signal };
}

/** The last `lines` lines of a check's log (what a failure message and feedback quote). */
export function logTail(log: string, lines: number, maxBytes = 16 * 1024): string {
  return fileTail(log, maxBytes).text.replace(/\n$/, '').split('\n').slice(-lines).join('\n');
}

/** The run's check pool of `base` (`<run>/verify/pool/<key>`), shared by a run's checks and resolvers. */
export function runPool(runDir: string, base: BaseTree): CheckPool {
  return checkPool(base, join(runDir, 'verify', 'pool', basename(base.dir)));
}

/** A command as the plan wrote it, in one line. */
export const commandText = (c: string | string[]): string => (typeof c === 'string' ? c : c.join(' '));
