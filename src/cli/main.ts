/**
 * Entry of the `coord` command. `--version` answers without loading anything else; every
 * other command loads commander and then only the module of the command that runs, so that
 * short commands streams call in loops start fast.
 */
import { version } from './version.js';

export { version } from './version.js';

export function main(argv: string[]): void {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(version() + '\n');
    return;
  }
  // `coord events | head`: a reader that went away ends the command quietly, as for cat(1)
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  void import('./program.js').then((m) => m.runProgram(argv));
}
