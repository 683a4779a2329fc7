/** The Failure union and the one mapping from a failure to the `reason` of records and events (SPEC §5). */
import { describe, expect, it } from '@jest/globals';
import type { Failure } from '../../src/core/failures.js';
import { unreachable } from '../../src/core/unreachable.js';
import type { FailureReason } from '../../src/events/types.js';
import { exitDecision, reasonOf, type AttemptEnd } from '../../src/orchestrator/exit-policy.js';

/**
 * One failure per reason of the events: a reason of the events without its variant in the union
 * (or a variant whose `reason` is not this key) fails the type check of this table.
 */
const EXAMPLES: { [R in FailureReason]: Extract<Failure, { reason: R }> } = {
  'exit-non-zero': { reason: 'exit-non-zero', exitCode: 3 },
  signal: { reason: 'signal', signal: 'SIGKILL' },
  'spawn-error': { reason: 'spawn-error', message: 'spawn nope ENOENT' },
  timeout: { reason: 'timeout', limitMs: 5000 },
  'heartbeat-timeout': { reason: 'heartbeat-timeout', limitMs: 600_000 },
  'dependency-failed': { reason: 'dependency-failed', wait: { kind: 'stream', id: 'build', state: 'failed' } },
  cancelled: { reason: 'cancelled', stop: 'interrupted' },
  conflict: { reason: 'conflict', conflicts: [{ path: 'out.txt', streams: ['a', 'b'] }] },
  'merge-error': { reason: 'merge-error', message: 'EACCES: permission denied' },
  'stream-failed': { reason: 'stream-failed', streams: ['a'] },
  'point-timeout': { reason: 'point-timeout', point: 'merge', limitMs: 60_000 },
  superseded: { reason: 'superseded', group: 'solve', winner: 'solve-2' },
  rejected: { reason: 'rejected', message: 'approval rejected: 0 yes, 2 no, 2 needed of 3' },
  'no-majority': { reason: 'no-majority', group: 'judge', results: [{ stream: 'judge-1', digest: null }] },
  'worker-lost': { reason: 'worker-lost', why: 'no beat for 30s' },
  'outputs-error': { reason: 'outputs-error', message: 'over the archive limit' },
  'point-failed': { reason: 'point-failed', points: ['merge'] },
  'disk-full': { reason: 'disk-full', message: 'disk full: /logs/a.log' },
  'verify-failed': { reason: 'verify-failed', point: 'review', message: 'check `npm test` failed (exit 1)' },
  'log-error': { reason: 'log-error', message: 'EIO: i/o error, write' },
};

const attempt = (over: Partial<AttemptEnd>): AttemptEnd => ({
  stopping: false,
  killReason: undefined,
  exitCode: 0,
  signal: null,
  worktree: false,
  attempt: 1,
  retries: 0,
  restarts: 0,
  maxRestarts: 0,
  timeoutMs: undefined,
  heartbeatTimeoutMs: 600_000,
  now: 0,
  ...over,
});

describe('Failure', () => {
  it('has one variant per reason, and each maps to that reason string', () => {
    for (const [reason, failure] of Object.entries(EXAMPLES)) expect(reasonOf(failure)).toBe(reason);
    expect(reasonOf(null)).toBeNull();
  });

  it('the reason a decided end gives the record and event is the one SPEC §5 names, whatever data it carries', () => {
    const reasonOfEnd = (over: Partial<AttemptEnd>): FailureReason | null => {
      const d = exitDecision(attempt(over));
      if (d.kind !== 'end') throw new Error(`not an end: ${d.kind}`);
      return reasonOf(d.failure);
    };
    expect(reasonOfEnd({ exitCode: 0 })).toBeNull();
    expect(reasonOfEnd({ exitCode: 2 })).toBe('exit-non-zero');
    expect(reasonOfEnd({ exitCode: null, signal: 'SIGKILL' })).toBe('signal');
    expect(reasonOfEnd({ exitCode: null, spawnError: 'spawn nope ENOENT' })).toBe('spawn-error');
    expect(reasonOfEnd({ exitCode: null, signal: 'SIGTERM', killReason: 'timeout', timeoutMs: 100 })).toBe('timeout');
    expect(reasonOfEnd({ exitCode: null, signal: 'SIGTERM', killReason: 'heartbeat-timeout' })).toBe('heartbeat-timeout');
    expect(reasonOfEnd({ lost: 'gone' })).toBe('worker-lost');
    expect(reasonOfEnd({ logError: { diskFull: true, message: 'disk full: /l' } })).toBe('disk-full');
  });

  it('a switch over the union is total: every variant has its words, and an unknown one reaches unreachable', () => {
    const words = (f: Failure): string => {
      switch (f.reason) {
        case 'exit-non-zero':
          return `exit code ${f.exitCode}`;
        case 'signal':
          return `killed by ${f.signal}`;
        case 'spawn-error':
        case 'outputs-error':
        case 'disk-full':
        case 'log-error':
          return f.message;
        case 'timeout':
        case 'heartbeat-timeout':
          return `over ${f.limitMs} ms`;
        case 'worker-lost':
          return f.why;
        case 'dependency-failed':
        case 'cancelled':
        case 'conflict':
        case 'merge-error':
        case 'stream-failed':
        case 'point-timeout':
        case 'superseded':
        case 'rejected':
        case 'no-majority':
        case 'point-failed':
        case 'verify-failed':
          return f.reason;
        default:
          return unreachable(f);
      }
    };
    expect(words(EXAMPLES['exit-non-zero'])).toBe('exit code 3');
    expect(words(EXAMPLES.signal)).toBe('killed by SIGKILL');
    expect(() => words({ reason: 'new-reason' } as unknown as Failure)).toThrow('unreachable: {"reason":"new-reason"}');
  });
});
