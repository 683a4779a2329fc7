/**
 * Trackers: the coordinator's side of remote attempts, fed wire reports by hand, against a
 * Redis server (COORD_TEST_REDIS or a private one) for the archives; the queue is injected.
 */
import { expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { packDir } from '../../src/distribute/archive.js';
import { LaunchAborted, WorkerLost } from '../../src/distribute/errors.js';
import { keys, type WireMessage } from '../../src/distribute/profile.js';
import type { RemoteRequest } from '../../src/distribute/remote-request.js';
import { Trackers } from '../../src/distribute/tracking.js';
import { CoordinatorTunnels } from '../../src/distribute/tunnel.js';
import { startRedis, type RedisServer } from '../redis-server.js';
import { requires } from '../requires.js';
import { makeTemp, removeTemp, writeTree } from '../workspace/fsfix.js';

const needs = requires('redis');
let server: RedisServer | null = null;
let cmd: Redis;
let tmp: string;
let prefix: string;
let serial = 0;

needs.beforeAll(async () => {
  const url = process.env['COORD_TEST_REDIS'] ?? (server = await startRedis()).url;
  cmd = new Redis(url);
});
needs.afterAll(async () => {
  await cmd.quit();
  await server?.cleanup();
});
needs.beforeEach(async () => {
  tmp = await makeTemp('coord-tracking-');
  prefix = `coord-test:${process.pid}:${Date.now().toString(36)}:${++serial}:`;
});
needs.afterEach(async () => {
  const left = await cmd.keys(`${prefix}*`);
  if (left.length > 0) await cmd.del(...left);
  await removeTemp(tmp);
});

function setup() {
  const signals: string[] = [];
  const removed: string[] = [];
  const queue = { remove: async (id: string) => (removed.push(id), 1) } as unknown as Queue;
  const tunnels = new CoordinatorTunnels(() => undefined, () => undefined);
  const trackers = new Trackers({
    runId: 'r1',
    cmd,
    k: keys(prefix),
    tunnels,
    sendSignal: async (w, s, a, sig) => signals.push(`${w} ${s}:${a} ${sig}`),
  });
  const lines: string[] = [];
  let outputs = 0;
  const req: RemoteRequest = {
    command: 'x',
    cwd: join(tmp, 'ws'),
    env: {},
    stdoutFile: join(tmp, 'stdout'),
    stderrFile: join(tmp, 'stderr'),
    onLine: (fd, line) => lines.push(`${fd} ${line}`),
    onOutput: () => outputs++,
    remote: {
      stream: 's1',
      attempt: 1,
      workspace: join(tmp, 'ws'),
      heartbeatFile: join(tmp, 'heartbeat'),
      inputs: [],
      requires: [],
      resources: {},
      priority: 0,
      planEnv: {},
      workspaceRoot: tmp,
      heartbeat: { timeoutMs: 60_000, source: 'any' },
    },
  };
  const t = trackers.track(req, 'r1.s1.1', queue);
  return { trackers, t, signals, removed, lines, outputs: () => outputs };
}

const base = { s: 's1', a: 1, w: 'w1' };

needs.describe('Trackers', () => {
  needs.it('follows an attempt: started on its worker, output to the log files and the engine once each, heartbeat to the local file, outputs into the workspace', async () => {
    const { trackers, t, signals, lines, outputs } = setup();
    await writeTree(join(tmp, 'ws'), { 'stale.txt': 'from before\n' });
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
    expect(readFileSync(join(tmp, 'heartbeat'), 'utf8')).toBe('{"progress":1}');
    await writeTree(join(tmp, 'made'), { 'out.txt': 'made\n' });
    const outKey = keys(prefix).outputs('r1', 's1', 1);
    await cmd.hset(outKey, 'workspace', await packDir(join(tmp, 'made'), 1 << 20, 'made'));
    await trackers.handle({ k: 'exit', ...base, exitCode: 0, signal: null, outputs: outKey, bytes: 100 });
    expect(await proc.exited).toEqual({ exitCode: 0, signal: null });
    expect(lines).toEqual(['stdout one', 'stdout two', 'stderr oops']);
    expect(outputs()).toBe(2);
    expect(readFileSync(join(tmp, 'stdout'), 'utf8')).toBe('one\ntwo\n');
    expect(readFileSync(join(tmp, 'stderr'), 'utf8')).toBe('oops\n');
    expect(readFileSync(join(tmp, 'ws', 'out.txt'), 'utf8')).toBe('made\n');
    expect(() => readFileSync(join(tmp, 'ws', 'stale.txt'))).toThrow();
    expect(await cmd.exists(outKey)).toBe(0);
    expect(proc.signal('SIGKILL')).toBe(false); // ended: nothing to signal
    expect(trackers.held()).toEqual([]);
  });

  needs.it('discards the reports of another worker than the one that took the attempt, and deletes their outputs unread', async () => {
    const { trackers, t, lines } = setup();
    await trackers.handle({ k: 'taken', ...base, host: 'far' });
    const other = { ...base, w: 'w2' };
    const outKey = keys(prefix).outputs('r1', 's1', 1);
    await cmd.hset(outKey, 'workspace', 'x');
    await trackers.handle({ k: 'out', ...other, n: 1, fd: 'stdout', data: 'not mine' });
    await trackers.handle({ k: 'exit', ...other, exitCode: 0, signal: null, outputs: outKey, bytes: 1 });
    expect(lines).toEqual([]);
    expect(await cmd.exists(outKey)).toBe(0);
    expect(t.state).toBe('taken');
    expect(trackers.held()).toEqual([t]);
  });

  needs.it('says when the outputs could not come back, and an empty workspace on the worker empties the local one', async () => {
    const { trackers, t } = setup();
    await trackers.handle({ k: 'started', ...base, pid: 1 });
    await trackers.handle({ k: 'exit', ...base, exitCode: 0, signal: null, outputs: keys(prefix).outputs('r1', 's1', 1), bytes: 2048 });
    const info = await t.exited;
    expect(info.outputsError).toContain('the outputs of "s1" (2.0 KiB from worker w1) could not be unpacked: the outputs archive is not on the server (expired?)');

    const empty = setup();
    await writeTree(join(tmp, 'ws'), { 'left.txt': 'x' });
    await empty.trackers.handle({ k: 'exit', ...base, exitCode: 1, signal: null, outputs: null, bytes: 0 });
    expect(await empty.t.exited).toEqual({ exitCode: 1, signal: null });
    expect(() => readFileSync(join(tmp, 'ws', 'left.txt'))).toThrow();
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
    const inputsKey = keys(prefix).inputs('r1', 's1', 1);
    await cmd.hset(inputsKey, 'workspace', 'x');
    await trackers.abortQueued(t);
    await expect(t.started).rejects.toThrow(LaunchAborted);
    expect(removed).toEqual(['r1.s1.1']);
    expect(await cmd.exists(inputsKey)).toBe(0);
    expect(t.state).toBe('done');
  });
});
