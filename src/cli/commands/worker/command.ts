/** `coord worker`: the definition (options, help, examples); the action is ./action.ts. */
import { Option, type Command } from 'commander';
import { addBackend, durationOption, examples, lazy, positiveInt } from '../../options.js';

/** Adds `coord worker` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('worker')
    .helpGroup('Run a plan:')
    .description('run streams of runs coordinated through a Redis server (coord run --workers) on this host')
    .addOption(new Option('--slots <n>', 'streams run at once (default: the number of CPUs)').argParser(positiveInt))
    .option('--capabilities <list>', "comma-separated capabilities this host offers (matched with streams' `requires:`)")
    .option('--resources <list>', "units this host has, as NAME=N,… (matched with streams' `resources:`)")
    .option('--name <id>', 'the worker id (default: <host>-<pid>)')
    .addOption(
      durationOption(
        '--lease <duration>',
        "how long the worker counts as alive without renewing (a lost worker's streams run again elsewhere after it)",
      ).default(10_000, '10s'),
    );
  addBackend(cmd);
  examples(cmd, [
    'coord worker --backend redis://10.0.0.5:6379 --slots 8',
    'coord worker --backend redis://10.0.0.5:6379 --capabilities gpu --resources gpu=2',
  ]).action(lazy(async () => (await import('./action.js')).workerCommand));
}
