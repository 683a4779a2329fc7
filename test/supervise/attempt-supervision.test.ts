/**
 * AttemptProcess as the one supervision of an attempt's process, on a fake clock: signals
 * before the process exists, the escalation to SIGKILL only while it has not exited, the time
 * limit, liveness in a shared monitor's slot, and the heartbeat key written and ended.
 */
import { describe, expect, it } from '@jest/globals';
import { hostname } from 'node:os';
import type { BeatKeys } from '../../src/backend/beat-writer.js';
import type { StreamBeat } from '../../src/backend/types.js';
import { AttemptProcess } from '../../src/supervise/attempt-process.js';
import { LivenessMonitor } from '../../src/supervise/liveness.js';
import type { ExitInfo, SpawnRequest, StreamProcess } from '../../src/supervise/spawner.js';
import { FakeTimers } from './fake-timers.js';

/** A process that records the signals it gets, exits when told, and answers `alive` for signal(). */
function stub(): StreamProcess & { got: NodeJS.Signals[]; exit(info?: ExitInfo): void; alive: boolean } {
  let end: (i: ExitInfo) => void = () => undefined;
  const got: NodeJS.Signals[] = [];
  const p = {
    pid: 77,
    pgid: 77,
    procStartTime: null,
    exited: new Promise<ExitInfo>((r) => (end = r)),
    got,
    alive: true,
    exit: (info: ExitInfo = { exitCode: 0, signal: null }) => {
      p.alive = false;
      end(info);
    },
    signal: (sig: NodeJS.Signals) => {
      got.push(sig);
      return p.alive;
    },
  };
  return p;
}

function supervised(clock = new FakeTimers()) {
  const beats: boolean[] = [];
  const p = new AttemptProcess({ heartbeatFile: '/nonexistent/heartbeat', pollMs: 3_600_000, onBeat: (_at, file) => beats.push(file), timers: clock });
  return { p, clock, beats };
}

const request: SpawnRequest = { command: 'true', cwd: '/', env: {}, stdoutFile: '/dev/null', stderrFile: '/dev/null' };

describe('AttemptProcess signals', () => {
  it('keeps a signal sent before the process exists and sends it, once, to the process attached', () => {
    const { p } = supervised();
    expect(p.signal('SIGINT')).toBe(true);
    expect(p.process).toBeUndefined();
    const proc = stub();
    p.attach(proc);
    expect(proc.got).toEqual(['SIGINT']);
    expect(p.signal('SIGTERM')).toBe(true);
    expect(proc.got).toEqual(['SIGINT', 'SIGTERM']);
  });

  it('lets a waiting SIGKILL replace a waiting signal, and no other signal replace the first', () => {
    const kill = supervised().p;
    kill.signal('SIGTERM');
    kill.signal('SIGKILL');
    kill.signal('SIGINT');
    const killed = stub();
    kill.attach(killed);
    expect(killed.got).toEqual(['SIGKILL']);

    const first = supervised().p;
    first.signal('SIGINT');
    first.signal('SIGTERM');
    const interrupted = stub();
    first.attach(interrupted);
    expect(interrupted.got).toEqual(['SIGINT']);
  });

  it('sends nothing to an attached process when no signal waited', () => {
    const proc = stub();
    supervised().p.attach(proc);
    expect(proc.got).toEqual([]);
  });

  it('says false when nothing of the process group was left to signal', () => {
    const { p } = supervised();
    const proc = stub();
    p.attach(proc);
    proc.alive = false;
    expect(p.signal('SIGTERM')).toBe(false);
  });

  it('takes one process: a second attach or a start after it is refused', () => {
    const { p } = supervised();
    p.attach(stub());
    expect(() => p.attach(stub())).toThrow('started already');
    expect(() => p.start(request)).toThrow('started already');
  });
});

describe('AttemptProcess escalation', () => {
  it('sends SIGKILL when the grace is over, and reports it sent', () => {
    const { p, clock } = supervised();
    const proc = stub();
    p.attach(proc);
    p.terminate(5000);
    expect(proc.got).toEqual(['SIGTERM']);
    clock.advance(4999);
    expect(proc.got).toEqual(['SIGTERM']);
    expect(p.killSent).toBe(false);
    clock.advance(1);
    expect(proc.got).toEqual(['SIGTERM', 'SIGKILL']);
    expect(p.killSent).toBe(true);
  });

  it('sends no SIGKILL once the process has exited, and arms nothing after', () => {
    const { p, clock } = supervised();
    const proc = stub();
    p.attach(proc);
    p.terminate(5000);
    p.end();
    expect(p.armedTimers).toBe(0);
    expect(clock.pending).toBe(0);
    p.escalate(1000);
    p.limit(1000, () => proc.got.push('SIGUSR1'));
    expect(clock.pending).toBe(0);
    clock.advance(60_000);
    expect(proc.got).toEqual(['SIGTERM']);
    expect(p.killSent).toBe(false);
  });

  it('counts SIGKILL as sent only when its sender says it reached something', () => {
    const { p, clock } = supervised();
    const proc = stub();
    p.attach(proc);
    const calls: number[] = [];
    p.escalate(100, () => {
      calls.push(clock.now);
      return false;
    });
    clock.advance(100);
    expect(calls).toEqual([100]);
    expect(proc.got).toEqual([]); // the owner's sender sent nothing
    expect(p.killSent).toBe(false);
    p.escalate(100, () => p.signal('SIGKILL'));
    clock.advance(100);
    expect(proc.got).toEqual(['SIGKILL']);
    expect(p.killSent).toBe(true);
  });

  it('reports no SIGKILL sent to a group that was gone at the grace', () => {
    const { p, clock } = supervised();
    const proc = stub();
    p.attach(proc);
    proc.alive = false; // gone, its exit not reported yet
    p.escalate(10);
    clock.advance(10);
    expect(proc.got).toEqual(['SIGKILL']);
    expect(p.killSent).toBe(false);
  });

  it('calls its escalation off when a started process exits', async () => {
    const clock = new FakeTimers();
    const proc = stub();
    const p = new AttemptProcess({ heartbeatFile: '/nonexistent/heartbeat', pollMs: 3_600_000, onBeat: () => undefined, timers: clock, spawn: () => proc });
    const { exited } = p.start(request);
    p.terminate(5000);
    expect(clock.pending).toBe(1);
    proc.exit({ exitCode: null, signal: 'SIGTERM' });
    await exited;
    expect(clock.pending).toBe(0);
    clock.advance(60_000);
    expect(proc.got).toEqual(['SIGTERM']);
  });
});

describe('AttemptProcess time limit', () => {
  it('calls its owner when the limit is reached, not before, and not after the end', () => {
    const { p, clock } = supervised();
    p.attach(stub());
    const hits: number[] = [];
    p.limit(1000, () => hits.push(clock.now));
    clock.advance(999);
    expect(hits).toEqual([]);
    clock.advance(1);
    expect(hits).toEqual([1000]);

    const later = supervised();
    later.p.attach(stub());
    later.p.limit(1000, () => hits.push(-1));
    later.clock.advance(500);
    later.p.end();
    later.clock.advance(10_000);
    expect(hits).toEqual([1000]);
  });
});

describe('AttemptProcess liveness in a shared monitor', () => {
  it('watches its slot from `watch` to `unwatch`, and counts its output there', () => {
    const monitor = new LivenessMonitor({ timeoutMs: 3_600_000, source: 'any', onStall: () => undefined, watcher: null, pollMs: 3_600_000 });
    try {
      const p = new AttemptProcess({ heartbeatFile: '/nonexistent/heartbeat', shared: { monitor, id: 's1' }, timers: new FakeTimers() }).attach(stub());
      p.output();
      expect(monitor.lastBeat('s1')).toBeNull(); // not watched yet
      p.watch();
      p.output();
      expect(monitor.lastBeat('s1')).toBeInstanceOf(Date);
      p.unwatch();
      expect(monitor.lastBeat('s1')).toBeNull();
    } finally {
      monitor.stop();
    }
  });
});

describe('AttemptProcess heartbeat key', () => {
  it('writes the key at once, renews it with beats, and hands over the writer whose finish deletes it', async () => {
    const log: Array<[string, ...unknown[]]> = [];
    let second!: () => void;
    const renewed = new Promise<void>((r) => (second = r));
    const keys: BeatKeys = {
      putBeat: async (run, stream, beat: StreamBeat, ttl) => {
        log.push(['put', run, stream, beat, ttl]);
        if (log.length === 2) second();
      },
      endBeat: async (run, stream, attempt) => {
        log.push(['end', run, stream, attempt]);
      },
    };
    const { p } = supervised();
    p.attach(stub());
    p.beat(new Date()); // no key kept yet: nothing written
    expect(log).toEqual([]);
    p.keepBeat(keys, { runId: 'r1', stream: 's', attempt: 3, startedAt: '2026-01-01T00:00:00.000Z', worker: 'w1', ttlMs: 9000 });
    expect(log).toEqual([
      [
        'put',
        'r1',
        's',
        { attempt: 3, startedAt: '2026-01-01T00:00:00.000Z', time: null, progress: null, message: null, host: hostname(), worker: 'w1' },
        9000,
      ],
    ]);
    const at = new Date('2026-01-01T00:00:05.000Z');
    p.beat(at, { progress: 0.5, message: 'half' });
    await renewed; // the second write comes once the writer's gap is over
    expect(log[1]).toEqual(['put', 'r1', 's', expect.objectContaining({ attempt: 3, time: at.toISOString(), progress: 0.5, message: 'half' }), 9000]);
    const writer = p.releaseBeat();
    expect(writer).toBeDefined();
    expect(p.releaseBeat()).toBeUndefined();
    p.beat(new Date()); // released: no beat reaches it
    await writer?.finish();
    expect(log.map((l) => l[0])).toEqual(['put', 'put', 'end']);
    expect(log[2]).toEqual(['end', 'r1', 's', 3]);
  });

  it('starts the key now when the start is not given', () => {
    const puts: StreamBeat[] = [];
    const { p } = supervised();
    const before = Date.now();
    p.keepBeat(
      { putBeat: async (_r, _s, beat) => void puts.push(beat), endBeat: async () => undefined },
      { runId: 'r', stream: 's', attempt: 1, worker: null, ttlMs: 1 },
    );
    expect(puts).toHaveLength(1);
    expect(Date.parse(puts[0]!.startedAt)).toBeGreaterThanOrEqual(before - 1);
    expect(puts[0]!.worker).toBeNull();
  });
});
