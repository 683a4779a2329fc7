/** `coord append PATH`: the definition (options, help, examples); the action is in ../write/action.ts. */
import type { Command } from 'commander';
import { examples, lazy } from '../../options.js';
import { writeOptions } from '../write/command.js';

/** Adds `coord append` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('append')
    .helpGroup('Inside a stream:')
    .description('append standard input to PATH as one whole record, under its write lock')
    .argument('<path>', 'the file to append to (created when missing)');
  examples(
    writeOptions(cmd),
    ['echo "shard 3 done" | coord append progress.log', 'coord append --timeout 5s results.ndjson < line.json'],
    'A newline is added when the record does not end with one.',
  ).action(lazy(async () => (await import('../write/action.js')).appendCommand));
}
