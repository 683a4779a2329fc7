/** `coord diff STREAM [RUN]`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, examples, lazy } from '../../options.js';

/** Adds `coord diff` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('diff')
    .helpGroup('Look at a run:')
    .description("a stream's change set against the base it was seeded from (a patch git apply takes)")
    .argument('<stream>', 'stream id');
  addRunSelector(cmd, { positional: true }).option('--stat', 'a summary per file (like git diff --stat)');
  addJson(cmd);
  addBackend(cmd);
  examples(cmd, ['coord diff auth', 'coord diff auth --stat', 'coord diff auth | git apply', 'coord diff auth --json']).action(
    lazy(async () => (await import('./action.js')).diffCommand),
  );
}
