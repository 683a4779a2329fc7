/** `coord apply POINT [RUN]`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, examples, lazy } from '../../options.js';

/** Adds `coord apply` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('apply')
    .helpGroup('Manage runs:')
    .description("write a point's merged change set onto DIR (default: the base directory, i.e. your checkout)")
    .argument('<point>', 'convergence point name');
  addRunSelector(cmd, { positional: true })
    .option('--to <dir>', 'apply there instead of the base directory')
    .option('-n, --dry-run', 'print what would change, write nothing');
  addJson(cmd);
  addBackend(cmd);
  examples(
    cmd,
    ['coord apply review --dry-run', 'coord apply review', 'coord apply review --to ../other-checkout'],
    'Refuses (exit 1, nothing written) where DIR changed one of those paths since the run seeded from it.',
  ).action(lazy(async () => (await import('./action.js')).applyCommand));
}
