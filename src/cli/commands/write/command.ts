/** `coord write PATH`: the definition (options, help, examples); the action is ./action.ts (with append's). */
import type { Command } from 'commander';
import { addBackend, durationOption, examples, lazy } from '../../options.js';

/** The options write and append share. */
export function writeOptions(cmd: Command): Command {
  cmd
    .option('--fence <token>', 'refuse (exit 1, nothing written) unless this is the newest lock token granted for PATH')
    .addOption(durationOption('-t, --timeout <duration>', "how long to wait for PATH's write lock (exit 75)"));
  return addBackend(cmd);
}

/** Adds `coord write` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('write')
    .helpGroup('Inside a stream:')
    .description('replace PATH with standard input atomically (temp file, fsync, rename)')
    .argument('<path>', 'the file to replace');
  examples(writeOptions(cmd), [
    'echo \'{"ok":true}\' | coord write result.json',
    'coord lock result.json -- sh -c \'... | coord write --fence "$COORD_LOCK_TOKEN" result.json\'',
  ]).action(lazy(async () => (await import('./action.js')).writeCommand));
}
