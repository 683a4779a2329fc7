/** `coord heartbeat`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { examples, lazy } from '../../options.js';

/** Adds `coord heartbeat` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('heartbeat')
    .helpGroup('Inside a stream:')
    .description('record a heartbeat for the calling stream (COORD_HEARTBEAT_FILE)')
    .option('--progress <n>', 'progress, 0-100')
    .option('--message <text>', 'what the stream is doing');
  examples(cmd, ['coord heartbeat', 'coord heartbeat --progress 40 --message "shard 2 of 5"']).action(
    lazy(async () => (await import('./action.js')).heartbeatCommand),
  );
}
