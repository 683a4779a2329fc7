/**
 * `coord resource acquire NAME=N… [--timeout DUR] [--priority P] -- CMD ARGS…`: runs CMD while
 * holding units of the run's resource pools, granted by its coordinator (the same pools and
 * the same fair queue as plan streams' `resources:`). Exits with CMD's code; 75 when the
 * units were not granted within --timeout; 2 for an unknown pool or a demand over its
 * capacity. The units go back when CMD ends, however it ends — and when this process dies,
 * since the coordinator sees its connection close.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { ResourcePool } from '../../../client/resource-pool.js';
import { UsageError } from '../../errors.js';
import { CoordError } from '../../../core/errors.js';

/** The options; the timeout in ms (parsed by commander: a bad one is a usage error before this runs). */
export interface AcquireFlags {
  timeout?: number;
  priority?: string;
  run?: string;
}

const SPEC = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,63})=(\d+)$/;

/**
 * The units the NAME=N arguments ask for (told apart from CMD by the command line, see
 * src/cli/runs-command.ts: a CMD after `--` that starts with `X=1` is still CMD).
 */
export function parseUnits(specs: string[], command: string[]): Record<string, number> {
  const units: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const s of specs) {
    const m = SPEC.exec(s);
    if (!m) throw new UsageError(`bad resource "${s}": write NAME=N, N a whole number (gpu=1)`);
    const [, name = '', n = '0'] = m;
    if (Number(n) < 1) throw new UsageError(`bad resource "${s}": at least 1 unit`);
    if (name in units) throw new UsageError(`resource "${name}" named twice`);
    units[name] = Number(n);
  }
  if (Object.keys(units).length === 0) throw new UsageError('name at least one pool: coord resource acquire NAME=N… -- CMD ARGS…');
  if (command.length === 0) throw new UsageError('missing command: coord resource acquire NAME=N… -- CMD ARGS…');
  return { ...units };
}

export async function resourceAcquireCommand(specs: string[], command: string[], flags: AcquireFlags): Promise<void> {
  const units = parseUnits(specs, command);
  const timeoutMs = flags.timeout;
  let priority: number | undefined;
  if (flags.priority !== undefined) {
    priority = Number(flags.priority);
    if (!Number.isInteger(priority)) throw new UsageError(`--priority must be a whole number, got "${flags.priority}"`);
  }
  const lease = await new ResourcePool({ run: flags.run }).acquire(units, {
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(priority !== undefined ? { priority } : {}),
  });

  const shell = command.length === 1 && /\s/.test(command[0] ?? '');
  const [file = '', ...rest] = command;
  let result: { code: number | null; signal: NodeJS.Signals | null; error?: Error };
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  try {
    const child = shell ? spawn('/bin/sh', ['-c', file], { stdio: 'inherit' }) : spawn(file, rest, { stdio: 'inherit' });
    // Signals for this process are CMD's too: it ends, then the units go back.
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as NodeJS.Signals[]) {
      const h = () => {
        if (child.exitCode === null && child.signalCode === null) child.kill(s);
      };
      handlers.push([s, h]);
      process.on(s, h);
    }
    result = await new Promise((resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
  } finally {
    await lease.release();
    for (const [s, h] of handlers) process.off(s, h);
  }
  if (result.error) throw new CoordError('cannot-run', `cannot run ${file}: ${result.error.message}`);
  if (result.signal) {
    process.exitCode = 128 + ((constants.signals as Record<string, number>)[result.signal] ?? 0);
    return;
  }
  process.exitCode = result.code ?? 1;
}
