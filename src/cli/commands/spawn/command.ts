/** `coord spawn --id ID … -- CMD`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, examples, lazy } from '../../options.js';
import { runsCommand } from '../../runs-command.js';

/** Adds `coord spawn` to `program`. */
export function register(program: Command): void {
  const cmd = runsCommand(program, 'spawn', { takes: () => false, needs: 0 })
    .helpGroup('Inside a stream:')
    .description('add a stream to the running run (from a stream: its own run)')
    .requiredOption('--id <id>', 'the new stream id')
    .option('--depends-on <ids...>', 'stream ids, convergence point names or capability:NAME (comma-separated or repeated)')
    .option('--capabilities <names...>', 'capabilities the new stream offers')
    .option('--wait', 'wait for the stream to end and exit with its exit code')
    .argument('<command...>', 'the command after --; one argument with spaces runs through sh -c');
  addRunSelector(cmd, { positional: false });
  addJson(cmd);
  addBackend(cmd);
  examples(cmd, ['coord spawn --id shard-1 -- ./test.sh 1', 'coord spawn --id report --depends-on shard-1,shard-2 --wait -- sh -c "cat results/*"']).action(
    lazy(async () => {
      const { spawnCommand } = await import('./action.js');
      return (command: string[], flags: import('./action.js').SpawnFlags) => spawnCommand(command, flags);
    }),
  );
}
