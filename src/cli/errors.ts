/** Turns what a command threw into a message and an exit code, at the edge only. */
import { UsageError } from '../util/result.js';

export function reportError(e: unknown): void {
  if (e instanceof UsageError) {
    process.stderr.write(`coord: ${e.message}\n`);
    process.exitCode = e.exitCode;
    return;
  }
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`coord: ${message}\n`);
  if (process.env.COORD_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  process.exitCode = 1;
}
