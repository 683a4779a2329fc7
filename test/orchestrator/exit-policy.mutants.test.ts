import { describe, expect, it } from '@jest/globals';
import { exitCodeOf, runEndState, type RunEnd } from '../../src/orchestrator/exit-policy.js';

const end = (over: Partial<RunEnd> = {}): RunEnd => ({
  stopping: undefined,
  cancelRequested: false,
  streams: [
    { id: 'a', state: 'succeeded', reason: null },
    { id: 'b', state: 'succeeded', reason: null },
  ],
  points: [{ state: 'done' }],
  voteWon: () => false,
  unsettledVoteGroups: 0,
  ...over,
});

describe('exit policy', () => {
  it('maps each end state to its exit code: 0, 1, 130', () => {
    expect(exitCodeOf('succeeded')).toBe(0);
    expect(exitCodeOf('failed')).toBe(1);
    expect(exitCodeOf('interrupted')).toBe(130);
    expect(exitCodeOf('cancelled')).toBe(130);
  });

  it('a run whose streams all succeeded and points all merged succeeds', () => {
    expect(runEndState(end())).toBe('succeeded');
    expect(runEndState(end({ streams: [], points: [] }))).toBe('succeeded');
  });

  it('one failed stream among succeeded ones fails the run', () => {
    const streams = [
      { id: 'a', state: 'succeeded' as const, reason: null },
      { id: 'b', state: 'failed' as const, reason: 'exit-non-zero' as const },
    ];
    expect(runEndState(end({ streams }))).toBe('failed');
    expect(runEndState(end({ streams: [streams[1]!, streams[0]!] }))).toBe('failed');
  });

  it('a skipped or cancelled stream fails the run', () => {
    expect(runEndState(end({ streams: [{ id: 'a', state: 'skipped', reason: 'dependency-failed' }] }))).toBe('failed');
    expect(runEndState(end({ streams: [{ id: 'a', state: 'cancelled', reason: null }] }))).toBe('failed');
  });

  it('a stream superseded by a replacement does not fail the run', () => {
    expect(runEndState(end({ streams: [{ id: 'a', state: 'failed', reason: 'superseded' }] }))).toBe('succeeded');
  });

  it('a failed replica counts as succeeded when its vote group won, and only then', () => {
    const streams = [
      { id: 'r1', state: 'failed' as const, reason: 'exit-non-zero' as const },
      { id: 'r2', state: 'succeeded' as const, reason: null },
    ];
    expect(runEndState(end({ streams, voteWon: (id) => id === 'r1' }))).toBe('succeeded');
    expect(runEndState(end({ streams, voteWon: (id) => id === 'r2' }))).toBe('failed');
  });

  it('a run that met a full disk fails even when every stream succeeded; a stop still says how it was stopped', () => {
    expect(runEndState(end({ diskFull: true }))).toBe('failed');
    expect(runEndState(end({ diskFull: false }))).toBe('succeeded');
    expect(runEndState(end({ diskFull: true, stopping: 'interrupted' }))).toBe('interrupted');
  });

  it('a vote group that did not agree fails the run even when every stream succeeded', () => {
    expect(runEndState(end({ unsettledVoteGroups: 1 }))).toBe('failed');
  });

  it('a point that failed or never merged fails the run', () => {
    expect(runEndState(end({ points: [{ state: 'done' }, { state: 'failed' }] }))).toBe('failed');
    expect(runEndState(end({ points: [{ state: 'pending' }] }))).toBe('failed');
  });

  it('a stopped run is interrupted, or cancelled when the run record asks for it, whatever its streams did', () => {
    expect(runEndState(end({ stopping: 'interrupted' }))).toBe('interrupted');
    expect(runEndState(end({ stopping: 'interrupted', cancelRequested: true }))).toBe('cancelled');
    expect(runEndState(end({ stopping: 'cancelled' }))).toBe('cancelled');
    const failing = end({ stopping: 'interrupted', streams: [{ id: 'a', state: 'failed', reason: 'signal' }] });
    expect(runEndState(failing)).toBe('interrupted');
    expect(exitCodeOf(runEndState(failing))).toBe(130);
  });

  it('a cancel request without a stop does not change a finished run', () => {
    expect(runEndState(end({ cancelRequested: true }))).toBe('succeeded');
  });
});
