/** `coord decision NAME`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, durationOption, examples, lazy } from '../../options.js';

/** Adds `coord decision` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('decision')
    .helpGroup('Inside a stream:')
    .description("print a proposal's decision: accepted, rejected or pending")
    .argument('<name>', 'proposal name')
    .addOption(durationOption('-w, --wait <duration>', 'wait this long for a decision (exit 75 when still pending)'));
  addRunSelector(cmd, { positional: false });
  addJson(cmd);
  addBackend(cmd);
  examples(
    cmd,
    ['coord decision release --wait 5m && echo decided', 'coord decision release --json'],
    'Exit: 0 (whatever the decision), 75 when --wait ended with it pending, 2 no such proposal.',
  ).action(lazy(async () => (await import('./action.js')).decisionCommand));
}
