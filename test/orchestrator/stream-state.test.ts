/** The stream state machine: every move the table lists is made, every other move is refused. */
import { describe, expect, it } from '@jest/globals';
import type { StreamState } from '../../src/events/types.js';
import { AttemptProcess } from '../../src/supervise/attempt-process.js';
import type { StreamProcess } from '../../src/supervise/spawner.js';
import {
  attemptOf,
  canMove,
  IllegalTransition,
  isQueued,
  isTerminal,
  move,
  newAttempt,
  shownState,
  TRANSITIONS,
  type Moving,
  type PhaseKind,
  type StreamPhase,
} from '../../src/orchestrator/stream-state.js';

const proc: StreamProcess = {
  pid: 4242,
  pgid: 4242,
  procStartTime: null,
  exited: new Promise(() => undefined),
  signal: () => true,
};
const supervised = () => new AttemptProcess({ heartbeatFile: '/tmp/heartbeat', pollMs: 1000, onBeat: () => undefined }).attach(proc);

/** A phase of each kind, with the data that kind carries. */
function phaseOf(kind: PhaseKind): StreamPhase {
  switch (kind) {
    case 'waiting':
    case 'recovering':
      return { kind, readyAt: 1, notBefore: 0 };
    case 'launching':
      return { kind, shows: 'recovering', hold: undefined, abort: undefined, stopAs: undefined };
    case 'running':
    case 'stalled':
      return { kind, attempt: newAttempt(supervised(), undefined) };
    case 'committing':
      return { kind, shows: 'stalled' };
    default:
      return { kind };
  }
}

const KINDS = Object.keys(TRANSITIONS) as PhaseKind[];
const stream = (kind: PhaseKind): Moving => {
  const phase = phaseOf(kind);
  return { spec: { id: 'alpha' }, phase, rec: { state: shownState(phase) } };
};

describe('the transition table', () => {
  const legal = KINDS.flatMap((from) => TRANSITIONS[from].map((to) => [from, to] as const));
  const illegal = KINDS.flatMap((from) => KINDS.filter((to) => !TRANSITIONS[from].includes(to)).map((to) => [from, to] as const));

  it('names every phase', () => {
    expect(new Set(KINDS)).toEqual(
      new Set(['pending', 'waiting', 'recovering', 'launching', 'running', 'stalled', 'committing', 'succeeded', 'failed', 'skipped', 'cancelled']),
    );
    for (const to of KINDS.flatMap((k) => TRANSITIONS[k])) expect(KINDS).toContain(to);
  });

  it.each(legal)('moves from %s to %s and shows it in the record', (from, to) => {
    const s = stream(from);
    const next = phaseOf(to);
    expect(move(s, next)).toBe(next);
    expect(s.phase).toBe(next);
    expect(s.rec.state).toBe(shownState(next));
  });

  it.each(illegal)('refuses to move from %s to %s, naming both', (from, to) => {
    const s = stream(from);
    const before = s.phase;
    const state = s.rec.state;
    expect(() => move(s, phaseOf(to))).toThrow(new IllegalTransition('alpha', from, to));
    expect(() => move(s, phaseOf(to))).toThrow(`internal error: stream "alpha" cannot move from ${from} to ${to}`);
    // nothing changed
    expect(s.phase).toBe(before);
    expect(s.rec.state).toBe(state);
  });

  it("ends a stream once: no move leaves a terminal phase but a success its point's check left out or asked to run again", () => {
    for (const k of KINDS) if (k !== 'succeeded') expect(isTerminal(k)).toBe(TRANSITIONS[k].length === 0);
    expect(TRANSITIONS.succeeded).toEqual(['failed', 'waiting']);
    expect(KINDS.filter(isTerminal).sort()).toEqual(['cancelled', 'failed', 'skipped', 'succeeded']);
  });

  it('lets a stop requested while launching cancel it, and a lost worker put it back to recovering', () => {
    expect(canMove('launching', 'cancelled')).toBe(true);
    expect(canMove('launching', 'recovering')).toBe(true);
    expect(canMove('launching', 'waiting')).toBe(false);
    expect(canMove('launching', 'succeeded')).toBe(false);
    expect(canMove('pending', 'launching')).toBe(false);
    expect(canMove('pending', 'failed')).toBe(false);
  });
});

describe('what a phase shows and carries', () => {
  it('shows launching as the state it was queued in and committing as the one its process exited in', () => {
    const shown: Array<[StreamPhase, StreamState]> = [
      [{ kind: 'launching', shows: 'waiting', hold: undefined, abort: undefined, stopAs: undefined }, 'waiting'],
      [{ kind: 'launching', shows: 'recovering', hold: undefined, abort: undefined, stopAs: { reason: 'superseded' } }, 'recovering'],
      [{ kind: 'committing', shows: 'running' }, 'running'],
      [{ kind: 'committing', shows: 'stalled' }, 'stalled'],
      [{ kind: 'stalled', attempt: newAttempt(supervised(), undefined) }, 'stalled'],
      [{ kind: 'pending' }, 'pending'],
    ];
    for (const [phase, state] of shown) expect(shownState(phase)).toBe(state);
  });

  it('has an attempt only while running or stalled, and is queued only while waiting or recovering', () => {
    for (const k of KINDS) {
      const s = stream(k);
      expect(attemptOf(s) !== undefined).toBe(k === 'running' || k === 'stalled');
      expect(isQueued(s)).toBe(k === 'waiting' || k === 'recovering');
    }
  });

  it('keeps the attempt across stalled and running', () => {
    const s = stream('running');
    const attempt = attemptOf(s);
    if (!attempt) throw new Error('no attempt');
    move(s, { kind: 'stalled', attempt });
    move(s, { kind: 'running', attempt });
    expect(attemptOf(s)).toBe(attempt);
  });
});
