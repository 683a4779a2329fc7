/** What becomes of a stream after an attempt: retries with backoff on a fake clock, guardian restarts, lost workers, gather first. */
import { describe, expect, it } from '@jest/globals';
import { exitDecision, firstWins, lostDecision, retryDelayMs, RETRY_BACKOFF_CAP_MS, type AttemptEnd } from '../../src/orchestrator/exit-policy.js';

const NOW = 1_700_000_000_000;
const HEARTBEAT_MS = 600_000;
const exit = (over: Partial<AttemptEnd> = {}): AttemptEnd => ({
  stopping: false,
  killReason: undefined,
  exitCode: 0,
  signal: null,
  worktree: false,
  attempt: 1,
  retries: 0,
  restarts: 0,
  maxRestarts: 1,
  timeoutMs: undefined,
  heartbeatTimeoutMs: HEARTBEAT_MS,
  now: NOW,
  ...over,
});

describe('exitDecision', () => {
  it('succeeds on exit 0, and commits first in a git worktree', () => {
    expect(exitDecision(exit())).toEqual({ kind: 'end', state: 'succeeded', failure: null });
    expect(exitDecision(exit({ worktree: true }))).toEqual({ kind: 'commit' });
  });

  it('retries a failure while retries allow, after a backoff that doubles from the clock it is given', () => {
    expect(exitDecision(exit({ exitCode: 3, retries: 2, attempt: 1 }))).toEqual({
      kind: 'retry',
      failure: { reason: 'exit-non-zero', exitCode: 3 },
      delayMs: 1000,
      notBefore: NOW + 1000,
    });
    expect(exitDecision(exit({ exitCode: 3, retries: 2, attempt: 2, now: NOW + 5000 }))).toEqual({
      kind: 'retry',
      failure: { reason: 'exit-non-zero', exitCode: 3 },
      delayMs: 2000,
      notBefore: NOW + 7000,
    });
    expect(exitDecision(exit({ exitCode: 3, retries: 2, attempt: 3 }))).toEqual({
      kind: 'end',
      state: 'failed',
      failure: { reason: 'exit-non-zero', exitCode: 3 },
    });
    expect(exitDecision(exit({ exitCode: null, signal: 'SIGSEGV', retries: 1 }))).toEqual({
      kind: 'retry',
      failure: { reason: 'signal', signal: 'SIGSEGV' },
      delayMs: 1000,
      notBefore: NOW + 1000,
    });
    expect(exitDecision(exit({ exitCode: null, signal: 'SIGSEGV' }))).toEqual({
      kind: 'end',
      state: 'failed',
      failure: { reason: 'signal', signal: 'SIGSEGV' },
    });
  });

  it('caps the backoff', () => {
    expect([1, 2, 3, 4, 5, 6].map(retryDelayMs)).toEqual([1000, 2000, 4000, 8000, 16000, 30000]);
    expect(retryDelayMs(40)).toBe(RETRY_BACKOFF_CAP_MS);
  });

  it('restarts a stalled stream the guardian stopped while max_restarts allows, then fails it', () => {
    expect(exitDecision(exit({ exitCode: null, signal: 'SIGTERM', killReason: 'heartbeat-timeout', restarts: 0, maxRestarts: 1 }))).toEqual({
      kind: 'restart',
      failure: { reason: 'heartbeat-timeout', limitMs: HEARTBEAT_MS },
    });
    expect(exitDecision(exit({ exitCode: null, signal: 'SIGTERM', killReason: 'heartbeat-timeout', restarts: 1, maxRestarts: 1, retries: 5 }))).toEqual({
      kind: 'end',
      state: 'failed',
      failure: { reason: 'heartbeat-timeout', limitMs: HEARTBEAT_MS },
    });
  });

  it('fails a timed-out stream with its reason, never retrying it', () => {
    expect(exitDecision(exit({ exitCode: null, signal: 'SIGTERM', killReason: 'timeout', timeoutMs: 5000, retries: 3 }))).toEqual({
      kind: 'end',
      state: 'failed',
      failure: { reason: 'timeout', limitMs: 5000 },
    });
    // even when it exited 0 on the soft signal
    expect(exitDecision(exit({ exitCode: 0, killReason: 'point-timeout' }))).toEqual({ kind: 'end', state: 'failed', failure: { reason: 'point-timeout' } });
  });

  it('cancels on a stop, and a stream stopped for another’s sake, whatever its exit', () => {
    expect(exitDecision(exit({ stopping: true, exitCode: 0 }))).toEqual({ kind: 'end', state: 'cancelled', failure: { reason: 'cancelled' } });
    expect(exitDecision(exit({ stopping: true, killReason: 'heartbeat-timeout' }))).toEqual({
      kind: 'end',
      state: 'cancelled',
      failure: { reason: 'cancelled' },
    });
    expect(exitDecision(exit({ killReason: 'superseded', exitCode: 1, retries: 3 }))).toEqual({
      kind: 'end',
      state: 'cancelled',
      failure: { reason: 'superseded' },
    });
    expect(exitDecision(exit({ killReason: 'point-failed', exitCode: 0 }))).toEqual({ kind: 'end', state: 'cancelled', failure: { reason: 'point-failed' } });
  });

  it('fails on output that could not be stored before looking at the exit code', () => {
    expect(exitDecision(exit({ logError: { diskFull: true, message: 'disk full: /logs/a.log' } }))).toEqual({
      kind: 'end',
      state: 'failed',
      failure: { reason: 'disk-full', message: 'disk full: /logs/a.log' },
    });
    expect(exitDecision(exit({ logError: { diskFull: false, message: 'EIO: i/o error, write' }, retries: 2, exitCode: 1 }))).toEqual({
      kind: 'end',
      state: 'failed',
      failure: { reason: 'log-error', message: 'EIO: i/o error, write' },
    });
    expect(exitDecision(exit({ outputsError: 'outputs over the archive limit' }))).toEqual({
      kind: 'end',
      state: 'failed',
      failure: { reason: 'outputs-error', message: 'outputs over the archive limit' },
    });
    // a stop still wins
    expect(exitDecision(exit({ stopping: true, logError: { diskFull: true, message: 'disk full: /logs/a.log' } }))).toEqual({
      kind: 'end',
      state: 'cancelled',
      failure: { reason: 'cancelled' },
    });
  });

  it('fails a process that could not start, without retrying', () => {
    expect(exitDecision(exit({ spawnError: 'spawn nope ENOENT', exitCode: null, retries: 2 }))).toEqual({
      kind: 'end',
      state: 'failed',
      failure: { reason: 'spawn-error', message: 'spawn nope ENOENT' },
    });
    // an error with an exit code is judged by the code
    expect(exitDecision(exit({ spawnError: 'spawn nope ENOENT', exitCode: 0 }))).toEqual({ kind: 'end', state: 'succeeded', failure: null });
  });

  it('hands a lost worker to the lost-worker policy', () => {
    expect(exitDecision(exit({ lost: 'gone', stopping: true }))).toEqual({ kind: 'end', state: 'cancelled', failure: { reason: 'cancelled' } });
    expect(exitDecision(exit({ lost: 'gone', exitCode: null }))).toEqual({ kind: 'restart', failure: { reason: 'worker-lost', why: 'gone' } });
  });
});

describe('lostDecision', () => {
  const lost = { stopping: false, killReason: undefined, restarts: 0, maxRestarts: 2, lost: 'gone' };
  it('relaunches while max_restarts allows, then fails; a superseded one is cancelled', () => {
    expect(lostDecision(lost)).toEqual({ kind: 'restart', failure: { reason: 'worker-lost', why: 'gone' } });
    expect(lostDecision({ ...lost, restarts: 2 })).toEqual({ kind: 'end', state: 'failed', failure: { reason: 'worker-lost', why: 'gone' } });
    expect(lostDecision({ ...lost, killReason: 'superseded' })).toEqual({ kind: 'end', state: 'cancelled', failure: { reason: 'superseded' } });
    expect(lostDecision({ ...lost, stopping: true, killReason: 'superseded' })).toEqual({ kind: 'end', state: 'cancelled', failure: { reason: 'cancelled' } });
  });
});

describe('firstWins (gather: first)', () => {
  it('lets the first success win and names the members to stop; later ones change nothing', () => {
    const group: { members: string[]; won: boolean; winner?: string } = { members: ['a', 'b', 'c'], won: false };
    expect(firstWins(group, 'b')).toEqual(['a', 'c']);
    expect(group).toEqual({ members: ['a', 'b', 'c'], won: true, winner: 'b' });
    expect(firstWins(group, 'a')).toEqual([]);
    expect(group.winner).toBe('b');
    expect(firstWins(undefined, 'a')).toEqual([]);
  });
});
