/** `coord status [RUN]`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, examples, lazy } from '../../options.js';

/** Adds `coord status` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('status')
    .helpGroup('Look at a run:')
    .description('state of a run (the newest unless RUN_ID): streams, convergence points, resources');
  addRunSelector(cmd, { positional: true }).option('-w, --watch', 'refresh until the run ends');
  addJson(cmd);
  addBackend(cmd);
  examples(cmd, ['coord status', 'coord status 20261202-101500-3fa2c1 --json', 'coord status --watch']).action(
    lazy(async () => (await import('./action.js')).statusCommand),
  );
}
