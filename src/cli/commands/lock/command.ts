/** `coord lock PATH … -- CMD`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, durationOption, examples, lazy } from '../../options.js';
import { runsCommand } from '../../runs-command.js';

/** Adds `coord lock` to `program`. */
export function register(program: Command): void {
  const cmd = runsCommand(program, 'lock', { takes: (_word, count) => count < 1, needs: 1 })
    .helpGroup('Inside a stream:')
    .description('run CMD holding a read or write lock on PATH (like flock(1)); CMD gets COORD_LOCK_TOKEN')
    .argument('<path>', 'the file to lock (it need not exist)')
    .option('-r, --read', 'a shared lock: many readers at once')
    .option('-w, --write', 'an exclusive lock (the default)')
    .addOption(durationOption('-t, --timeout <duration>', 'give up (exit 75) when not granted in time'))
    .addOption(durationOption('--lease <duration>', 'how long the grant lives without renewal (default 10s; renewed every third)'))
    .argument('<command...>', 'the command after --; one argument with spaces runs through sh -c');
  addBackend(cmd);
  examples(
    cmd,
    ["coord lock notes.md -- sh -c 'cat notes.md; echo more >> notes.md'", 'coord lock data.json --read --timeout 30s -- ./report.sh'],
    "Options may come before or after PATH; CMD is what follows --.\n\nExit: CMD's code; 75 when the lock is not granted in time, a deadlock is found, or the lock is lost while CMD runs.",
  ).action(lazy(async () => (await import('./action.js')).lockCommand));
}
