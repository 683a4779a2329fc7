/** `coord events [RUN]`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, examples, lazy } from '../../options.js';

/** Adds `coord events` to `program`. */
export function register(program: Command): void {
  const cmd = program.command('events').helpGroup('Look at a run:').description("the run's event log");
  addRunSelector(cmd, { positional: true }).option('-f, --follow', 'keep printing new events until the run ends');
  addJson(cmd);
  addBackend(cmd);
  examples(
    cmd,
    ['coord events', 'coord events -f', 'coord events --json | jq \'select(.type == "stream-exited")\''],
    'With --json, one JSON object a line, as stored.',
  ).action(lazy(async () => (await import('./action.js')).eventsCommand));
}
