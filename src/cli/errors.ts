/**
 * Errors at the edge of the command line: the CLI's own usage error, the one mapping from the
 * library's error codes to exit codes (SPEC §1), and the printing of what a command threw.
 */
import { CoordError, type ErrorCode } from '../core/errors.js';
import { isDiskFull } from '../util/disk-full.js';

/** The exit codes of coord (SPEC §1), by name. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  /** EX_TEMPFAIL: a lock, resource or wait timed out; a retry may cure it */
  tempfail: 75,
  cannotRun: 127,
  interrupted: 130,
} as const;

/** The one mapping from error codes to exit codes. */
const EXIT_OF: Record<ErrorCode, number> = {
  invalid: EXIT.usage,
  'not-found': EXIT.usage,
  unsafe: EXIT.usage,
  refused: EXIT.failed,
  'stored-invalid': EXIT.failed,
  failed: EXIT.failed,
  'disk-full': EXIT.failed,
  timeout: EXIT.tempfail,
  deadlock: EXIT.tempfail,
  'lock-lost': EXIT.tempfail,
  'version-conflict': EXIT.tempfail,
  'cannot-run': EXIT.cannotRun,
};

/** Bad usage of the command line (an option, an argument, a missing variable): exit 2. */
export class UsageError extends CoordError {
  constructor(message: string) {
    super('invalid', message);
    this.name = 'UsageError';
  }
}

/** The exit code a command ends with when it throws `e`. */
export function exitCodeOf(e: unknown): number {
  return e instanceof CoordError ? EXIT_OF[e.code] : EXIT.failed;
}

/** Turns what a command threw into a message on stderr and an exit code, at the edge only. */
export function reportError(e: unknown): void {
  process.exitCode = exitCodeOf(e);
  process.stderr.write(`coord: ${messageOf(e)}\n`);
  // an error coord did not make itself (a bug, an unexpected system error): where it came from
  if (process.env.COORD_DEBUG && !(e instanceof CoordError) && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
}

/** The words of what a command threw. */
function messageOf(e: unknown): string {
  if (e instanceof CoordError) return e.message;
  // a full disk names the file that could not be written (Node's errors of write(2) name none)
  const path = (e as NodeJS.ErrnoException | null)?.path;
  return isDiskFull(e) && !(e as Error).message.startsWith('disk full: ') && path ? `disk full: ${path}` : e instanceof Error ? e.message : String(e);
}
