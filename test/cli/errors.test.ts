/** The one mapping from the library's error codes to the command line's exit codes (SPEC §1). */
import { describe, expect, it } from '@jest/globals';
import { EXIT, exitCodeOf, UsageError } from '../../src/cli/errors.js';
import { CoordError, type ErrorCode } from '../../src/core/errors.js';
import { LockTimeoutError } from '../../src/locks/manager.js';
import { QueueError } from '../../src/queue/queue.js';
import { VersionConflictError } from '../../src/state/store.js';

describe('exit codes of errors', () => {
  it('maps every code: bad usage 2, refusals 1, what a retry may cure 75, a command that cannot start 127', () => {
    const codes: Record<ErrorCode, number> = {
      invalid: 2,
      'not-found': 2,
      unsafe: 2,
      refused: 1,
      'stored-invalid': 1,
      failed: 1,
      timeout: 75,
      deadlock: 75,
      'lock-lost': 75,
      'version-conflict': 75,
      'cannot-run': 127,
    };
    for (const [code, exit] of Object.entries(codes)) expect([code, exitCodeOf(new CoordError(code as ErrorCode, 'x'))]).toEqual([code, exit]);
    expect(exitCodeOf(new UsageError('bad flag'))).toBe(EXIT.usage);
    expect(exitCodeOf(new Error('plain'))).toBe(EXIT.failed);
    expect(exitCodeOf('a string')).toBe(EXIT.failed);
  });

  it('library errors carry a code and no exit code, and are not the command line\'s UsageError', () => {
    const errors = [new LockTimeoutError('/f', 10, [], 'write'), new QueueError('bad name'), new VersionConflictError(1, 2)];
    expect(errors.map((e) => e.code)).toEqual(['timeout', 'invalid', 'version-conflict']);
    for (const e of errors) {
      expect(e).toBeInstanceOf(CoordError);
      expect(e).not.toBeInstanceOf(UsageError);
      expect('exitCode' in e).toBe(false);
    }
  });
});
