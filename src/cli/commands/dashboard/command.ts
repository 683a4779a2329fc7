/** `coord dashboard [RUN]`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, examples, lazy } from '../../options.js';

/** Adds `coord dashboard` to `program`. */
export function register(program: Command): void {
  const cmd = program.command('dashboard').helpGroup('Look at a run:').description('a live web page of a run (the newest unless RUN_ID), on 127.0.0.1 only');
  addRunSelector(cmd, { positional: true })
    .option('-p, --port <port>', 'port to listen on (default: any free port)')
    .option('--open', 'open the page in the default browser');
  addJson(cmd);
  addBackend(cmd);
  examples(
    cmd,
    ['coord dashboard', 'coord dashboard --port 8080 --open'],
    'The first line printed is the URL, with the access token (--json: {"url","run"}); Ctrl-C stops the server.',
  ).action(lazy(async () => (await import('./action.js')).dashboardCommand));
}
