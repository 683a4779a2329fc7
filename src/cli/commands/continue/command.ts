/** `coord continue [RUN]`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, examples, lazy, reporterOption } from '../../options.js';
import { concurrencyOption, quietOption } from '../run/command.js';

/** Adds `coord continue` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('continue')
    .helpGroup('Run a plan:')
    .description('go on with a run whose convergence point failed on a conflict: publish the resolution, run what was skipped');
  addRunSelector(cmd, { positional: true })
    .addOption(concurrencyOption())
    .addOption(quietOption())
    .addOption(reporterOption())
    .option('--report <file>', 'write a JUnit XML report');
  addJson(cmd);
  addBackend(cmd);
  examples(
    cmd,
    ['coord continue', 'coord continue 20261202-101500-3fa2c1'],
    'A failed point leaves its conflicts in .coord/runs/<run>/conflicts/<point>/: each conflicting path, to resolve\n' +
      '(the text with markers, or the first version; delete it to take a deletion), with the base and every\n' +
      "stream's version in .coord-conflict/ beside it. Resolve them, then run coord continue: the point is published\n" +
      'with the resolutions and its dependents run (like git merge --continue).',
  ).action(lazy(async () => (await import('./action.js')).continueCommand));
}
