/**
 * `coord lock PATH [--read|--write] [--timeout DUR] [--lease DUR] -- CMD ARGS…` (the options
 * before or after PATH, see src/cli/runs-command.ts): runs CMD while holding a lock on PATH,
 * like flock(1), and exits with CMD's code. CMD gets the
 * fencing token as COORD_LOCK_TOKEN. When the lock is lost while CMD runs (this process was
 * paused past its lease, or the lock was removed by hand), CMD's process tree is stopped and
 * the command exits 75 with a "lock lost" message.
 *
 * CMD stays in this process's process group, so whoever stops the group (the guardian, a
 * terminal's Ctrl-C) stops both; signals sent to this process alone are passed on to CMD.
 * CMD never outlives this process: a watchdog (src/locks/watchdog.ts), started before the lock
 * is asked for and named in the grant, stops CMD's process tree when this process dies without
 * a word (SIGKILL), and the lock is not handed on before it has. Should the watchdog die
 * instead, CMD is stopped too and the command exits 75.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { EXIT, UsageError } from '../../errors.js';
import { CoordError } from '../../../core/errors.js';
import { formatChain, heldByChain, managerFromEnv, parseChain } from '../../../locks/env.js';
import { canonicalPath, lockKey } from '../../../locks/registry.js';
import { LockLostError, type LockHandle } from '../../../locks/manager.js';
import { refuseSharedRead } from '../../../locks/access.js';
import { descendants, processStartTime } from '../../../util/proc.js';
import { constants } from 'node:os';

/** The options, durations in ms (parsed by commander: a bad one is a usage error before this runs). */
export interface LockFlags {
  read?: boolean;
  write?: boolean;
  timeout?: number;
  lease?: number;
}

/** How long CMD has between SIGTERM and SIGKILL when it must stop (lock lost, coord lock or its watchdog gone). */
const STOP_GRACE_MS = 2000;
const WATCHDOG = fileURLToPath(new URL('../../../locks/watchdog.js', import.meta.url));

/**
 * Starts the watchdog with a pipe to its stdin: the pipe closing is how it learns that this
 * process died. Unreferenced: it never keeps this process alive.
 */
function startWatchdog(): { proc: ChildProcess; pid: number; tell: (line: string) => void; stop: () => void } {
  const proc = spawn(process.execPath, [WATCHDOG, String(STOP_GRACE_MS)], { stdio: ['pipe', 'ignore', 'inherit'] });
  if (proc.pid === undefined) throw new CoordError('lock-lost', `cannot start the watchdog of coord lock (${process.execPath} ${WATCHDOG})`);
  const pipe = proc.stdin as Socket | null;
  pipe?.on('error', () => {}); // it ended: its exit is handled
  pipe?.unref();
  proc.unref();
  return {
    proc,
    pid: proc.pid,
    tell: (line) => void pipe?.write(line + '\n'),
    // SIGKILL: its end must not wait for it (it may still be starting); it has nothing to clean up
    stop: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

function signalTree(pid: number, signal: NodeJS.Signals): void {
  for (const p of [pid, ...descendants(pid)]) {
    try {
      process.kill(p, signal);
    } catch {
      /* gone */
    }
  }
}

export async function lockCommand(path: string, command: string[], flags: LockFlags): Promise<void> {
  if (flags.read && flags.write) throw new UsageError('--read and --write exclude each other');
  if (command.length === 0) throw new UsageError('missing command: coord lock PATH -- CMD ARGS…');
  const mode = flags.read ? 'read' : 'write';
  const timeout = flags.timeout;
  const canonical = canonicalPath(path);
  if (mode === 'write') refuseSharedRead(canonical);
  const chain = parseChain(process.env.COORD_LOCK_CHAIN);
  const manager = await managerFromEnv({ ...(flags.lease !== undefined ? { leaseMs: flags.lease } : {}) });
  const enclosing = heldByChain(chain, canonical);
  if (enclosing && enclosing.mode === 'read' && mode === 'write') {
    throw new CoordError('deadlock', `deadlock: an enclosing coord lock holds a read lock on ${canonical}; a read lock cannot be upgraded to a write lock`);
  }

  const watchdog = startWatchdog();
  // the watchdog gone (killed on its own): give up the request, or stop CMD (below)
  const watchdogGone = new AbortController();
  const onWatchdogGone = () =>
    watchdogGone.abort(
      new CoordError('lock-lost', `the watchdog of coord lock (pid ${watchdog.pid}) ended; without it CMD could outlive this process, so it does not run`),
    );
  watchdog.proc.once('exit', onWatchdogGone);
  let handle: LockHandle;
  try {
    handle = await manager.acquire(canonical, {
      mode,
      ...(timeout !== undefined ? { timeout } : {}),
      holding: chain.map((c) => c.ticket),
      signal: watchdogGone.signal,
      watchdog: { pid: watchdog.pid, procStart: processStartTime(watchdog.pid) },
    });
  } catch (e) {
    watchdog.proc.off('exit', onWatchdogGone);
    watchdog.stop();
    throw e;
  }
  if (watchdogGone.signal.aborted) {
    // it ended while the lock was granted at once: CMD does not start
    await handle.release();
    throw watchdogGone.signal.reason instanceof Error ? watchdogGone.signal.reason : new CoordError('lock-lost', 'the watchdog of coord lock ended');
  }
  watchdog.tell(`ticket ${handle.ticket}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    COORD_LOCK_TOKEN: String(handle.token),
    COORD_LOCK_PATH: canonical,
    COORD_LOCK_OWNER: manager.owner,
    COORD_LOCK_CHAIN: formatChain([...chain, { key: lockKey(canonical), ticket: handle.ticket, mode }]),
  };
  const shell = command.length === 1 && /\s/.test(command[0] ?? '');
  const child = shell ? spawn('/bin/sh', ['-c', command[0]!], { stdio: 'inherit', env }) : spawn(command[0]!, command.slice(1), { stdio: 'inherit', env });
  if (child.pid !== undefined) watchdog.tell(`cmd ${child.pid} ${processStartTime(child.pid) ?? '-'}`);

  const forward = (sig: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  const handlers: Array<[NodeJS.Signals, () => void]> = (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as NodeJS.Signals[]).map((s) => [
    s,
    forward(s),
  ]);
  for (const [s, h] of handlers) process.on(s, h);

  let lostError: Error | null = null;
  let killTimer: NodeJS.Timeout | undefined;
  const stopCommand = (why: Error) => {
    if (lostError) return;
    lostError = why;
    process.stderr.write(`coord: ${why.message}; stopping ${shell ? command[0] : command.join(' ')}\n`);
    signalTree(child.pid ?? -1, 'SIGTERM');
    killTimer = setTimeout(() => signalTree(child.pid ?? -1, 'SIGKILL'), STOP_GRACE_MS);
    killTimer.unref();
  };
  const onLost = () => stopCommand(handle.lost.reason instanceof LockLostError ? handle.lost.reason : new LockLostError(canonical, 'lost'));
  const onWatchdogAbort = () =>
    stopCommand(watchdogGone.signal.reason instanceof Error ? watchdogGone.signal.reason : new Error('the watchdog of coord lock ended'));
  handle.lost.addEventListener('abort', onLost, { once: true });
  watchdogGone.signal.addEventListener('abort', onWatchdogAbort, { once: true });

  const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  if (killTimer) clearTimeout(killTimer);
  handle.lost.removeEventListener('abort', onLost);
  watchdogGone.signal.removeEventListener('abort', onWatchdogAbort);
  watchdog.proc.off('exit', onWatchdogGone);
  // the watchdog first: killed between the two, this process leaves a grant nobody guards, reclaimed at once
  watchdog.stop();
  await handle.release();
  for (const [s, h] of handlers) process.off(s, h);

  if (lostError) {
    process.exitCode = EXIT.tempfail;
    return;
  }
  if (result.error) throw new CoordError('cannot-run', `cannot run ${command[0]}: ${result.error.message}`);
  if (result.signal) {
    const n = (constants.signals as Record<string, number>)[result.signal] ?? 0;
    process.exitCode = 128 + n;
    return;
  }
  process.exitCode = result.code ?? 1;
}
