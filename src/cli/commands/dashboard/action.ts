/**
 * `coord dashboard [RUN] [--port P] [--open]`: serves a live page of the run on 127.0.0.1 only.
 * The first line on stdout is the page's URL, token included; the server runs until SIGINT or
 * SIGTERM, then closes its connections and exits 0.
 */
import { spawn } from 'node:child_process';
import { openBackend, resolveRun } from '../../../context/backend.js';
import { startDashboard, type Dashboard } from '../../../dashboard/server.js';
import { EXIT, UsageError } from '../../errors.js';

/** Runs the dashboard server for `runId` (the newest run when omitted) until a stop signal. */
export async function dashboardCommand(runId: string | undefined, flags: { port?: string; open?: boolean; json?: boolean }): Promise<void> {
  const port = parsePort(flags.port);
  const backend = await openBackend();
  const run = await resolveRun(backend, runId);
  let dashboard: Dashboard;
  try {
    dashboard = await startDashboard({ backend, runId: run.id, runDir: backend.runDir(run.id), port });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`port ${port} on 127.0.0.1 is in use (choose another with --port, or 0 for any free one)`);
    throw e;
  }
  // listening before the URL is out: a signal sent once it is read stops the server, not the process
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  process.stdout.write(flags.json ? JSON.stringify({ url: dashboard.url, run: run.id }) + '\n' : dashboard.url + '\n');
  process.stderr.write(`dashboard of run ${run.id} on 127.0.0.1 only; Ctrl-C to stop\n`);
  if (flags.open) openBrowser(dashboard.url);
  const signal = await stopped;
  await dashboard.close();
  process.stderr.write(`dashboard stopped (${signal})\n`);
  process.exitCode = EXIT.ok;
}

function parsePort(value: string | undefined): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n > 65535) throw new UsageError(`--port: expected 0-65535 (0: any free port), got "${value}"`);
  return n;
}

/** Best effort: the desktop's URL opener; the URL is printed anyway. */
function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : 'xdg-open';
  try {
    const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => process.stderr.write(`could not open a browser (${cmd}); open the URL above\n`));
    child.unref();
  } catch {
    /* printed URL is enough */
  }
}
