/** The one mapping from the library's error codes to the command line's exit codes (SPEC §1). */
import { describe, expect, it } from '@jest/globals';
import { EXIT, exitCodeOf, UsageError } from '../../src/cli/errors.js';
import { CoordError, type ErrorCode } from '../../src/core/errors.js';
import { LockTimeoutError } from '../../src/locks/manager.js';
import { QueueError } from '../../src/queue/queue.js';
import { VersionConflictError } from '../../src/state/store.js';
import { DiskFullError } from '../../src/util/disk-full.js';
import { MergeLimitError } from '../../src/merge/collect.js';
import { GitError } from '../../src/workspace/git.js';
import { WorkspaceError } from '../../src/workspace/root.js';

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
      'disk-full': 1,
    };
    for (const [code, exit] of Object.entries(codes)) expect([code, exitCodeOf(new CoordError(code as ErrorCode, 'x'))]).toEqual([code, exit]);
    expect(exitCodeOf(new UsageError('bad flag'))).toBe(EXIT.usage);
    expect(exitCodeOf(new Error('plain'))).toBe(EXIT.failed);
    expect(exitCodeOf('a string')).toBe(EXIT.failed);
  });

  it("library errors carry a code and no exit code, and are not the command line's UsageError", () => {
    const errors = [new LockTimeoutError('/f', 10, [], 'write'), new QueueError('bad name'), new VersionConflictError(1, 2)];
    expect(errors.map((e) => e.code)).toEqual(['timeout', 'invalid', 'version-conflict']);
    for (const e of errors) {
      expect(e).toBeInstanceOf(CoordError);
      expect(e).not.toBeInstanceOf(UsageError);
      expect('exitCode' in e).toBe(false);
    }
  });

  it('workspace, git, merge-limit and disk-full errors are CoordErrors with their code, exiting 1 as before', () => {
    const cases: Array<[CoordError, string, ErrorCode, number]> = [
      [new WorkspaceError('workspace /w is a symbolic link; refusing to follow it', '/w'), 'WorkspaceError', 'refused', 1],
      [new GitError('git merge x: conflict', ['git', 'merge', 'x'], 'CONFLICT', 1), 'GitError', 'failed', 1],
      [new MergeLimitError('b', 'maxFiles', 4, 3), 'MergeLimitError', 'refused', 1],
      [new DiskFullError('/logs/a.log', 'EDQUOT'), 'DiskFullError', 'disk-full', 1],
    ];
    for (const [e, name, code, exit] of cases) {
      expect(e).toBeInstanceOf(CoordError);
      expect(e).not.toBeInstanceOf(UsageError);
      expect([e.name, e.code, exitCodeOf(e)]).toEqual([name, code, exit]);
    }
    // their own fields stay: the path, git's command and exit status, the limit, the errno name
    expect(cases.map(([e]) => e)).toMatchObject([
      { path: '/w', message: 'workspace /w is a symbolic link; refusing to follow it' },
      { command: ['git', 'merge', 'x'], stderr: 'CONFLICT', exitCode: 1 },
      { stream: 'b', limit: 'maxFiles', actual: 4, max: 3 },
      { path: '/logs/a.log', errnoCode: 'EDQUOT', message: 'disk full: /logs/a.log (disk quota exceeded)' },
    ]);
  });
});
