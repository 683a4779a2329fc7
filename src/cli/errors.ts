/** Turns what a command threw into a message and an exit code, at the edge only. */
import { UsageError } from '../util/result.js';
import { isDiskFull } from '../util/disk-full.js';

export function reportError(e: unknown): void {
  if (e instanceof UsageError) {
    process.stderr.write(`coord: ${e.message}\n`);
    process.exitCode = e.exitCode;
    return;
  }
  // a full disk names the file that could not be written (Node's errors of write(2) name none)
  const path = (e as NodeJS.ErrnoException | null)?.path;
  const message = isDiskFull(e) && !(e as Error).message.startsWith('disk full: ') && path ? `disk full: ${path}` : e instanceof Error ? e.message : String(e);
  process.stderr.write(`coord: ${message}\n`);
  if (process.env.COORD_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  process.exitCode = 1;
}
