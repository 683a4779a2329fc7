/** `coord clean [RUN | --all]`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, examples, lazy } from '../../options.js';

/** Adds `coord clean` to `program`. */
export function register(program: Command): void {
  const cmd = program.command('clean').helpGroup('Manage runs:').description('remove a run (or all finished runs) and their workspaces');
  addRunSelector(cmd, { positional: true }).option('--all', 'every run that is not running (the default without RUN_ID)');
  addJson(cmd);
  addBackend(cmd);
  examples(cmd, ['coord clean 20261202-101500-3fa2c1', 'coord clean --all', 'coord clean --all --json']).action(
    lazy(async () => (await import('./action.js')).cleanCommand),
  );
}
