/** The engine with an injected spawner: a stop that comes while a stream's process is still being started. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { StreamCoordinator } from '../../src/orchestrator/coordinator.js';
import { parsePlan } from '../../src/plan/load.js';
import type { CoordEvent } from '../../src/events/types.js';
import type { ExitInfo, Spawner, SpawnRequest, StreamProcess } from '../../src/supervise/spawner.js';
import { makeTemp, removeTemp } from '../workspace/fsfix.js';

let tmp: string;
beforeEach(async () => {
  tmp = await makeTemp('coord-launch-');
});
afterEach(async () => {
  await removeTemp(tmp);
});

/** A process that exists only in the test: it ends when signalled, or when the test says. */
function fakeProcess(): StreamProcess & { end(info: ExitInfo): void; signals: NodeJS.Signals[] } {
  let end: (info: ExitInfo) => void = () => undefined;
  const exited = new Promise<ExitInfo>((r) => (end = r));
  const signals: NodeJS.Signals[] = [];
  return {
    pid: 0,
    pgid: 0,
    procStartTime: null,
    exited,
    signals,
    end: (info) => end(info),
    signal: (sig) => {
      signals.push(sig);
      end({ exitCode: null, signal: sig });
      return true;
    },
  };
}

/** A spawner whose spawns wait until the test lets them through. */
function gatedSpawner() {
  const asked: Array<{ req: SpawnRequest; release: (p: StreamProcess) => void }> = [];
  let onAsk: () => void = () => undefined;
  const spawner: Spawner = {
    spawn: (req) =>
      new Promise<StreamProcess>((release) => {
        asked.push({ req, release });
        onAsk();
      }),
  };
  const nextAsk = () => new Promise<void>((r) => (onAsk = r));
  return { spawner, asked, nextAsk };
}

function plan(...streams: string[]) {
  const parsed = parsePlan(['streams:', ...streams].join('\n'), path.join(tmp, 'plan.yaml'), { cwd: tmp });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return parsed.value;
}

describe('a stream still launching', () => {
  it('is stopped as soon as its process exists when the run is stopped meanwhile', async () => {
    const { spawner, asked, nextAsk } = gatedSpawner();
    const coord = new StreamCoordinator({ plan: plan('  - { id: slow, command: "true" }'), home: path.join(tmp, '.coord'), spawner, outputLines: false });
    const events: CoordEvent[] = [];
    coord.on((e) => events.push(e));
    const asking = nextAsk();
    const done = coord.run();
    await asking;
    // the spawn is under way: the stream shows the state it was queued in
    expect(events.filter((e) => e.type === 'stream-started')).toHaveLength(0);
    coord.stop('interrupted');
    const proc = fakeProcess();
    asked[0]?.release(proc);
    const outcome = await done;
    expect(proc.signals).toEqual(['SIGTERM']);
    expect(events.find((e) => e.type === 'stream-signalled')).toMatchObject({ stream: 'slow', signal: 'SIGTERM', reason: 'stop' });
    expect(outcome.state).toBe('interrupted');
    expect(outcome.exitCode).toBe(130);
    expect(outcome.streams[0]).toMatchObject({ id: 'slow', state: 'cancelled', reason: 'cancelled', attempt: 1 });
  });

  it('runs to success through launching and running with the process the spawner gave', async () => {
    const { spawner, asked, nextAsk } = gatedSpawner();
    const coord = new StreamCoordinator({ plan: plan('  - { id: quick, command: "true" }'), home: path.join(tmp, '.coord'), spawner, outputLines: false });
    const states: string[] = [];
    coord.on((e) => {
      if (e.type === 'stream-started' || e.type === 'stream-exited' || e.type === 'stream-ended') states.push(e.type);
    });
    const asking = nextAsk();
    const done = coord.run();
    await asking;
    expect(asked[0]?.req.env['COORD_STREAM_ID']).toBe('quick');
    expect(asked[0]?.req.env['COORD_ATTEMPT']).toBe('1');
    const proc = fakeProcess();
    asked[0]?.release(proc);
    proc.end({ exitCode: 0, signal: null });
    const outcome = await done;
    expect(states).toEqual(['stream-started', 'stream-exited', 'stream-ended']);
    expect(outcome.streams[0]).toMatchObject({ id: 'quick', state: 'succeeded', exitCode: 0, attempt: 1 });
    expect(outcome.exitCode).toBe(0);
  });
});
