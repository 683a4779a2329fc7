/** `coord stop [RUN]`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, durationOption, examples, lazy } from '../../options.js';

/** Adds `coord stop` to `program`. */
export function register(program: Command): void {
  const cmd = program.command('stop').helpGroup('Manage runs:').description("cancel a run: every stream's process tree ends, nothing is merged half-way");
  addRunSelector(cmd, { positional: true }).addOption(
    durationOption('--timeout <duration>', 'how long to wait for the run to end (exit 75 after it)').default(60_000, '60s'),
  );
  addJson(cmd);
  addBackend(cmd);
  examples(cmd, ['coord stop', 'coord stop 20261202-101500-3fa2c1 --timeout 2m']).action(lazy(async () => (await import('./action.js')).stopCommand));
}
