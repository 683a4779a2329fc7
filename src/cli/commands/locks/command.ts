/** `coord locks [RUN]`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, examples, lazy } from '../../options.js';

/** Adds `coord locks` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('locks')
    .helpGroup('Look at a run:')
    .description("locks held now, their holders and waiters, contention per lock (a run's, or --all)");
  addRunSelector(cmd, { positional: true }).option('--all', "every lock of this machine's lock registry, inside a run or not");
  addJson(cmd);
  addBackend(cmd);
  examples(cmd, ['coord locks', 'coord locks --all --json', 'coord locks 20261202-101500-3fa2c1']).action(
    lazy(async () => (await import('./action.js')).locksCommand),
  );
}
