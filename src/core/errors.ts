/**
 * The one error type of the library: a message for people and a `code` for programs. Codes say
 * what kind of failure it is, never how a process should exit: the command line maps codes to
 * exit codes in one place (src/cli/errors.ts), a library user switches on `code`.
 */

/** What kind of failure a {@link CoordError} is. */
export type ErrorCode =
  /** bad input: an option, a name, a value, a plan or a request that cannot be taken as given */
  | 'invalid'
  /** no such run, stream, point, proposal or topic */
  | 'not-found'
  /** refused as things stand: a stale fencing token, a second vote, a read-only path, a run that ended */
  | 'refused'
  /** a wait ran out: a lock, resource units, a message, a decision, a run to end */
  | 'timeout'
  /** granting the lock would close a cycle of waiters */
  | 'deadlock'
  /** a lock held was lost (its lease ran out, it was reclaimed, its guard ended) */
  | 'lock-lost'
  /** a compare-and-set whose expected version no longer holds */
  | 'version-conflict'
  /** a directory coord will not trust (another user could write it) */
  | 'unsafe'
  /** stored data coord cannot use as it is (over the limits an older coord allowed) */
  | 'stored-invalid'
  /** a command that could not be started */
  | 'cannot-run'
  /** a write refused for want of space: the disk or the quota is full (ENOSPC, EDQUOT); freeing space may cure it */
  | 'disk-full'
  /** a failure of the operation itself (a coordinator that cannot be reached, …) */
  | 'failed';

/** Every code, once: a table, so a code added to the type without its entry fails the build. */
const CODES: Record<ErrorCode, true> = {
  invalid: true,
  'not-found': true,
  refused: true,
  timeout: true,
  deadlock: true,
  'lock-lost': true,
  'version-conflict': true,
  unsafe: true,
  'stored-invalid': true,
  'cannot-run': true,
  failed: true,
  'disk-full': true,
};

/** True when `v` is one of the {@link ErrorCode}s (a code read from outside: a socket, a file). */
export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && Object.hasOwn(CODES, v);
}

/** An error of coord's own: `code` says what kind (see {@link ErrorCode}). */
export class CoordError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CoordError';
  }
}

/** True for errors of coord's own (whatever their subclass). */
export function isCoordError(e: unknown): e is CoordError {
  return e instanceof CoordError;
}
