/** The guardian's time limits and escalation, on a fake clock: soft signal at the limit, SIGKILL after the grace. */
import { describe, expect, it } from '@jest/globals';
import type { CoordEvent } from '../../src/events/types.js';
import { parsePlan } from '../../src/plan/load.js';
import { nodeSpawner, type ExitInfo, type StreamProcess } from '../../src/supervise/spawner.js';
import { EventBus } from '../../src/orchestrator/bus.js';
import type { Engine, StreamRt } from '../../src/orchestrator/engine.js';
import { Guardian } from '../../src/orchestrator/guardian.js';
import { attemptOf, move, newAttempt } from '../../src/orchestrator/stream-state.js';
import { FakeTimers } from '../supervise/fake-timers.js';

/** A process group that ignores the soft signal (or not) and records what it was sent. */
function stubborn(obeys: NodeJS.Signals[]): StreamProcess & { got: NodeJS.Signals[] } {
  let end: (i: ExitInfo) => void = () => undefined;
  const got: NodeJS.Signals[] = [];
  return {
    pid: 4242,
    pgid: 4242,
    procStartTime: null,
    exited: new Promise<ExitInfo>((r) => (end = r)),
    got,
    signal: (sig) => {
      got.push(sig);
      if (obeys.includes(sig)) end({ exitCode: null, signal: sig });
      return true;
    },
  };
}

function rig(graceSeconds: number) {
  const parsed = parsePlan(
    ['agent_coordination:', `  recovery: { guardian: { grace: ${graceSeconds} } }`, 'streams:', '  - { id: s, command: "true" }'].join('\n'),
    '/tmp/plan.yaml',
    { cwd: '/tmp' },
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  const bus = new EventBus('run-1');
  const events: CoordEvent[] = [];
  bus.on((e) => events.push(e));
  const e = { plan: parsed.value, spawner: nodeSpawner, bus } as Partial<Engine> as Engine;
  const clock = new FakeTimers();
  const guardian = new Guardian(e, clock);
  const rt = {
    spec: { id: 's' },
    phase: { kind: 'launching', shows: 'waiting', hold: undefined, abort: undefined, stopAs: undefined },
    rec: { state: 'waiting', attempt: 1 },
    paths: { heartbeatFile: '/tmp/heartbeat' },
  } as unknown as StreamRt;
  return { guardian, clock, events, rt };
}

const signalled = (events: CoordEvent[]) =>
  events.filter((e) => e.type === 'stream-signalled').map((e) => (e.type === 'stream-signalled' ? `${e.signal}:${e.reason}` : ''));

describe('the guardian on a fake clock', () => {
  it('stops an attempt at its time limit, then kills it after the grace', () => {
    const { guardian, clock, events, rt } = rig(5);
    const proc = stubborn([]);
    const att = move(rt, { kind: 'running', attempt: newAttempt(guardian.supervise(rt, proc), undefined) }).attempt;
    guardian.limit(rt, att, 1000);
    clock.advance(999);
    expect(proc.got).toEqual([]);
    clock.advance(1);
    expect(proc.got).toEqual(['SIGTERM']);
    expect(att.killReason).toBe('timeout');
    expect(att.killSent).toBe(false);
    clock.advance(4999);
    expect(proc.got).toEqual(['SIGTERM']);
    clock.advance(1);
    expect(proc.got).toEqual(['SIGTERM', 'SIGKILL']);
    expect(att.killSent).toBe(true);
    expect(signalled(events)).toEqual(['SIGTERM:timeout', 'SIGKILL:timeout']);
  });

  it('sends no SIGKILL to an attempt that ended within the grace, nor to the next attempt', () => {
    const { guardian, clock, rt } = rig(5);
    const first = stubborn(['SIGTERM']);
    const att = move(rt, { kind: 'running', attempt: newAttempt(guardian.supervise(rt, first), undefined) }).attempt;
    guardian.stopAttempt(rt, att, 'superseded');
    expect(first.got).toEqual(['SIGTERM']);
    // the attempt ended and the stream runs again before the old escalation fires: it must not touch the new one
    move(rt, { kind: 'recovering', readyAt: 0, notBefore: 0 });
    move(rt, { kind: 'launching', shows: 'recovering', hold: undefined, abort: undefined, stopAs: undefined });
    const second = stubborn([]);
    move(rt, { kind: 'running', attempt: newAttempt(guardian.supervise(rt, second), undefined) });
    clock.advance(60_000);
    expect(first.got).toEqual(['SIGTERM']);
    expect(second.got).toEqual([]);
  });

  it("calls an attempt's time limit and escalations off at its exit", () => {
    const { guardian, clock, rt } = rig(5);
    const proc = stubborn([]);
    const att = move(rt, { kind: 'running', attempt: newAttempt(guardian.supervise(rt, proc), undefined) }).attempt;
    guardian.limit(rt, att, 1000);
    clock.advance(1000);
    expect(clock.pending).toBe(1); // the escalation
    guardian.clearTimers(att);
    expect(clock.pending).toBe(0);
    expect(att.supervision.armedTimers).toBe(0);
    clock.advance(60_000);
    expect(proc.got).toEqual(['SIGTERM']);
  });

  it('keeps escalating across a stall: the attempt stays the same while stalled', () => {
    const { guardian, clock, rt } = rig(2);
    const proc = stubborn([]);
    const att = move(rt, { kind: 'running', attempt: newAttempt(guardian.supervise(rt, proc), undefined) }).attempt;
    guardian.stopAttempt(rt, att, 'heartbeat-timeout');
    move(rt, { kind: 'stalled', attempt: att });
    clock.advance(2000);
    expect(proc.got).toEqual(['SIGTERM', 'SIGKILL']);
    expect(attemptOf(rt)?.killSent).toBe(true);
  });
});
