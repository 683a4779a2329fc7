/**
 * Trackers: the coordinator's side of remote attempts, fed wire reports by hand, against a
 * Redis server (COORD_TEST_REDIS or a private one) for the archives; the queue is injected.
 */
import { expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import { packDir } from '../../src/distribute/archive.js';
import { LaunchAborted, WorkerLost } from '../../src/distribute/errors.js';
import { keys, type WireMessage } from '../../src/distribute/profile.js';
import type { RemoteRequest } from '../../src/distribute/remote-request.js';
import { Trackers } from '../../src/distribute/tracking.js';
import { CoordinatorTunnels } from '../../src/distribute/tunnel.js';
import { requires } from '../requires.js';
import { useRedis } from './server.js';
import { writeTree } from '../workspace/fsfix.js';

const needs = requires('redis');
const f = useRedis(needs, 'tracking');

function setup() {
  const signals: string[] = [];
  const removed: string[] = [];
  const queue = { remove: async (id: string) => (removed.push(id), 1) } as unknown as Queue;
  const tunnels = new CoordinatorTunnels(
    () => undefined,
    () => undefined,
  );
  const trackers = new Trackers({
    runId: 'r1',
    cmd: f.cmd,
    k: keys(f.prefix),
    tunnels,
    sendSignal: async (w, s, a, sig) => signals.push(`${w} ${s}:${a} ${sig}`),
  });
  const lines: string[] = [];
  let outputs = 0;
  const req: RemoteRequest = {
    command: 'x',
    cwd: join(f.tmp, 'ws'),
    env: {},
    stdoutFile: join(f.tmp, 'stdout'),
    stderrFile: join(f.tmp, 'stderr'),
    onLine: (fd, line) => lines.push(`${fd} ${line}`),
    onOutput: () => outputs++,
    remote: {
      stream: 's1',
      attempt: 1,
      workspace: join(f.tmp, 'ws'),
      heartbeatFile: join(f.tmp, 'heartbeat'),
      inputs: [],
      requires: [],
      resources: {},
      priority: 0,
      planEnv: {},
      workspaceRoot: f.tmp,
      heartbeat: { timeoutMs: 60_000, source: 'any' },
    },
  };
  const t = trackers.track(req, 'r1.s1.1', queue);
  return { trackers, t, signals, removed, lines, outputs: () => outputs };
}

const base = { s: 's1', a: 1, w: 'w1' };

needs.describe('Trackers', () => {
  needs.it(
    'follows an attempt: started on its worker, output to the log files and the engine once each, heartbeat to the local file, outputs into the workspace',
    async () => {
      const { trackers, t, signals, lines, outputs } = setup();
      await writeTree(join(f.tmp, 'ws'), { 'stale.txt': 'from before\n' });
      await trackers.handle({ k: 'taken', ...base, host: 'far' });
      await trackers.handle({ k: 'started', ...base, pid: 4242 });
      const proc = await t.started;
      expect(proc).toMatchObject({ pid: 0, pgid: 0, worker: 'w1', host: 'far' });
      expect(proc.signal('SIGTERM')).toBe(true);
      expect(signals).toEqual(['w1 s1:1 SIGTERM']);
      const out: WireMessage = { k: 'out', ...base, n: 1, fd: 'stdout', data: 'one\ntwo' };
      await trackers.handle(out);
      await trackers.handle(out); // sent twice across a reconnect
      await trackers.handle({ k: 'out', ...base, n: 2, fd: 'stderr', data: 'oops' });
      await trackers.handle({ k: 'beat', ...base, data: '{"progress":1}' });
      expect(readFileSync(join(f.tmp, 'heartbeat'), 'utf8')).toBe('{"progress":1}');
      await writeTree(join(f.tmp, 'made'), { 'out.txt': 'made\n' });
      const outKey = keys(f.prefix).outputs('r1', 's1', 1);
      await f.cmd.hset(outKey, 'workspace', await packDir(join(f.tmp, 'made'), 1 << 20, 'made'));
      await trackers.handle({ k: 'exit', ...base, exitCode: 0, signal: null, outputs: outKey, bytes: 100 });
      expect(await proc.exited).toEqual({ exitCode: 0, signal: null });
      expect(lines).toEqual(['stdout one', 'stdout two', 'stderr oops']);
      expect(outputs()).toBe(2);
      expect(readFileSync(join(f.tmp, 'stdout'), 'utf8')).toBe('one\ntwo\n');
      expect(readFileSync(join(f.tmp, 'stderr'), 'utf8')).toBe('oops\n');
      expect(readFileSync(join(f.tmp, 'ws', 'out.txt'), 'utf8')).toBe('made\n');
      expect(() => readFileSync(join(f.tmp, 'ws', 'stale.txt'))).toThrow();
      expect(await f.cmd.exists(outKey)).toBe(0);
      expect(proc.signal('SIGKILL')).toBe(false); // ended: nothing to signal
      expect(trackers.held()).toEqual([]);
    },
  );

  needs.it('discards the reports of another worker than the one that took the attempt, and deletes their outputs unread', async () => {
    const { trackers, t, lines } = setup();
    await trackers.handle({ k: 'taken', ...base, host: 'far' });
    const other = { ...base, w: 'w2' };
    const outKey = keys(f.prefix).outputs('r1', 's1', 1);
    await f.cmd.hset(outKey, 'workspace', 'x');
    await trackers.handle({ k: 'out', ...other, n: 1, fd: 'stdout', data: 'not mine' });
    await trackers.handle({ k: 'exit', ...other, exitCode: 0, signal: null, outputs: outKey, bytes: 1 });
    expect(lines).toEqual([]);
    expect(await f.cmd.exists(outKey)).toBe(0);
    expect(t.state).toBe('taken');
    expect(trackers.held()).toEqual([t]);
  });

  needs.it('says when the outputs could not come back, and an empty workspace on the worker empties the local one', async () => {
    const { trackers, t } = setup();
    await trackers.handle({ k: 'started', ...base, pid: 1 });
    await trackers.handle({ k: 'exit', ...base, exitCode: 0, signal: null, outputs: keys(f.prefix).outputs('r1', 's1', 1), bytes: 2048 });
    const info = await t.exited;
    expect(info.outputsError).toContain(
      'the outputs of "s1" (2.0 KiB from worker w1) could not be unpacked: the outputs archive is not on the server (expired?)',
    );

    const empty = setup();
    await writeTree(join(f.tmp, 'ws'), { 'left.txt': 'x' });
    await empty.trackers.handle({ k: 'exit', ...base, exitCode: 1, signal: null, outputs: null, bytes: 0 });
    expect(await empty.t.exited).toEqual({ exitCode: 1, signal: null });
    expect(() => readFileSync(join(f.tmp, 'ws', 'left.txt'))).toThrow();
  });

  needs.it('ends a lost attempt: its launch fails with WorkerLost before it started, its exit says lost after; its job is removed', async () => {
    const before = setup();
    await before.trackers.handle({ k: 'taken', ...base, host: 'far' });
    await before.trackers.handle({ k: 'lost', ...base, why: 'the job lock was lost' });
    await expect(before.t.started).rejects.toThrow(WorkerLost);
    await expect(before.t.started).rejects.toThrow('worker w1: the job lock was lost');
    expect(before.removed).toEqual(['r1.s1.1']);

    const after = setup();
    await after.trackers.handle({ k: 'started', ...base, pid: 1 });
    after.trackers.lost(after.t, 'worker w1 is gone');
    expect(await after.t.exited).toEqual({ exitCode: null, signal: null, lost: 'worker w1 is gone' });
  });

  needs.it('calls off a job nobody took: removed from its queue, its inputs deleted, its launch aborted', async () => {
    const { trackers, t, removed } = setup();
    const inputsKey = keys(f.prefix).inputs('r1', 's1', 1);
    await f.cmd.hset(inputsKey, 'workspace', 'x');
    await trackers.abortQueued(t);
    await expect(t.started).rejects.toThrow(LaunchAborted);
    expect(removed).toEqual(['r1.s1.1']);
    expect(await f.cmd.exists(inputsKey)).toBe(0);
    expect(t.state).toBe('done');
  });
});
