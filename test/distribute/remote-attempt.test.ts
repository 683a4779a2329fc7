/**
 * RemoteAttempt: one attempt a worker took, run with a real process against a Redis server
 * (COORD_TEST_REDIS or a private one), with the BullMQ job, the wire and the reaper injected.
 */
import { afterEach, beforeEach, expect } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import { packDir, unpackInto } from '../../src/distribute/archive.js';
import { keys, type StreamJob, type WireMessage } from '../../src/distribute/profile.js';
import { RemoteAttempt, type AttemptHost } from '../../src/distribute/remote-attempt.js';
import { WorkerTunnels } from '../../src/distribute/tunnel.js';
import { beatKey } from '../../src/backend/redis/beats.js';
import { requires } from '../requires.js';
import { useRedis } from './server.js';
import { writeTree } from '../workspace/fsfix.js';

const needs = requires('redis');
const f = useRedis(needs, 'remote-attempt');

/** A worker's side as the attempt sees it, recording what goes on the wire and to the reaper. */
function worker(leaseMs = 3000) {
  const wire: WireMessage[] = [];
  const reaped: string[] = [];
  const logs: string[] = [];
  const tunnels = new WorkerTunnels(() => undefined);
  const host: AttemptHost = {
    id: 'w1',
    cmd: f.cmd,
    k: keys(f.prefix),
    prefix: f.prefix,
    url: f.url,
    home: join(f.tmp, 'home'),
    env: process.env,
    leaseMs,
    limit: 1 << 20,
    tunnels,
    reaper: { add: (g) => reaped.push(`add ${g}`), remove: (g) => reaped.push(`remove ${g}`) },
    log: (l) => logs.push(l),
    wire: async (_run, m) => {
      wire.push(m);
    },
  };
  return { host, wire, reaped, logs, tunnels };
}

/** A BullMQ job as the attempt uses it: its lock extended (`lock` says whether it still holds) and its completion. */
function job(lock: () => number = () => 1, complete?: () => Promise<void>) {
  const completed: unknown[] = [];
  const j = {
    extendLock: async () => lock(),
    moveToCompleted: async (result: unknown) => {
      await complete?.();
      completed.push(result);
    },
  } as unknown as Job;
  return { job: j, completed };
}

function streamJob(command: string, extra: Partial<StreamJob> = {}): StreamJob {
  return {
    run: 'r1',
    stream: 's1',
    attempt: 1,
    command,
    env: {},
    workspaceRoot: join(f.tmp, 'ws'),
    heartbeat: { timeoutMs: 60_000, source: 'any' },
    inputs: [],
    profile: { requires: [], resources: {} },
    ...extra,
  };
}

const kinds = (wire: WireMessage[]) => wire.map((m) => m.k);

needs.describe('RemoteAttempt', () => {
  let tunnels: WorkerTunnels | undefined;
  beforeEach(() => {
    tunnels = undefined;
  });
  afterEach(() => {
    tunnels?.closeAll();
  });

  needs.it('unpacks its inputs, runs the command, relays output and heartbeat, then packs the workspace and reports the exit', async () => {
    const w = worker();
    tunnels = w.tunnels;
    const k = keys(f.prefix);
    await writeTree(join(f.tmp, 'seed'), { 'seed.txt': 'from the coordinator\n' });
    await writeTree(join(f.tmp, 'dep'), { 'dep.txt': 'from a dependency\n' });
    const inputsKey = k.inputs('r1', 's1', 1);
    await f.cmd.hset(
      inputsKey,
      'workspace',
      await packDir(join(f.tmp, 'seed'), 1 << 20, 'seed'),
      'input:dep',
      await packDir(join(f.tmp, 'dep'), 1 << 20, 'dep'),
    );
    await f.cmd.set(`${f.prefix}run:r1:record`, '{}'); // a beat key is kept only for a run that exists
    const go = join(f.tmp, 'go');
    const script = [
      'cat seed.txt',
      'cat "$COORD_INPUTS/dep/dep.txt"',
      'echo made > out.txt',
      'echo oops >&2',
      `echo '{"progress":0.5,"message":"half"}' > "$COORD_HEARTBEAT_FILE"`,
      `while [ ! -e ${go} ]; do sleep 0.02; done`,
    ].join('; ');
    const { job: j, completed } = job();
    const a = new RemoteAttempt(w.host, streamJob(script, { inputs: ['workspace', 'input:dep'] }), j, 'tok', { requires: [], resources: {} });
    const done = a.run();
    // the attempt's heartbeat key exists while it runs, with what its heartbeat file said
    for (;;) {
      const beat = await f.cmd.get(beatKey(f.prefix, 'r1', 's1'));
      if (beat && (JSON.parse(beat) as { message: string | null }).message === 'half') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await writeTree(f.tmp, { go: '' });
    await done;
    a.dispose();

    expect(kinds(w.wire).slice(0, 2)).toEqual(['taken', 'started']);
    expect(kinds(w.wire).at(-1)).toBe('exit');
    const out = (fd: string) => w.wire.flatMap((m) => (m.k === 'out' && m.fd === fd ? m.data.split('\n') : []));
    expect(out('stdout')).toEqual(['from the coordinator', 'from a dependency']);
    expect(out('stderr')).toEqual(['oops']);
    const seqs = w.wire.flatMap((m) => (m.k === 'out' ? [m.n] : []));
    expect(seqs).toEqual(seqs.map((_n, i) => i + 1));
    expect(w.wire.filter((m) => m.k === 'beat').map((m) => m.k === 'beat' && JSON.parse(m.data))).toEqual([{ progress: 0.5, message: 'half' }]);
    const exit = w.wire.at(-1) as Extract<WireMessage, { k: 'exit' }>;
    expect(exit).toMatchObject({ s: 's1', a: 1, w: 'w1', exitCode: 0, signal: null, outputs: k.outputs('r1', 's1', 1) });
    expect(exit.bytes).toBeGreaterThan(0);
    const archive = await f.cmd.hgetBuffer(k.outputs('r1', 's1', 1), 'workspace');
    await unpackInto(archive!, join(f.tmp, 'back'));
    expect(readFileSync(join(f.tmp, 'back', 'out.txt'), 'utf8')).toBe('made\n');
    expect(readFileSync(join(f.tmp, 'back', 'seed.txt'), 'utf8')).toBe('from the coordinator\n');
    expect(completed).toEqual([{ exitCode: 0, signal: null }]);
    expect(await f.cmd.exists(inputsKey)).toBe(0);
    expect(await f.cmd.exists(beatKey(f.prefix, 'r1', 's1'))).toBe(0);
    const started = w.wire[1] as Extract<WireMessage, { k: 'started' }>;
    expect(w.reaped).toEqual([`add ${started.pid}`, `remove ${started.pid}`]);
    // the local copies are gone
    expect(existsSync(join(f.tmp, 'ws', 'r1', '.workers', 'w1', 's1'))).toBe(false);
    expect(existsSync(join(f.tmp, 'home', 'workers', 'w1', 'r1', 'streams', 's1'))).toBe(false);
  });

  needs.it('reports a workspace it could not prepare as an exit with the error, without starting anything', async () => {
    const w = worker();
    tunnels = w.tunnels;
    const { job: j, completed } = job();
    const a = new RemoteAttempt(w.host, streamJob('echo never', { inputs: ['workspace'] }), j, 'tok', { requires: [], resources: {} });
    await a.run();
    a.dispose();
    expect(kinds(w.wire)).toEqual(['taken', 'exit']);
    expect(w.wire[1]).toMatchObject({
      exitCode: null,
      signal: null,
      outputs: null,
      error: expect.stringContaining('could not prepare the workspace on worker w1: the inputs archive "workspace" is missing'),
    });
    expect(completed).toEqual([{ exitCode: null, signal: null }]);
    expect(w.reaped).toEqual([]);
  });

  needs.it('applies a signal it finds in the run signals hash (one the pub/sub message missed)', async () => {
    const w = worker(300);
    tunnels = w.tunnels;
    const { job: j } = job();
    const a = new RemoteAttempt(w.host, streamJob('exec sleep 30'), j, 'tok', { requires: [], resources: {} });
    await f.cmd.hset(keys(f.prefix).signals('r1'), 's1:1', 'SIGTERM');
    await a.run();
    a.dispose();
    expect(w.wire.at(-1)).toMatchObject({ k: 'exit', exitCode: null, signal: 'SIGTERM' });
  });

  needs.it('is lost when its job lock cannot be extended: killed, reported lost, and nothing else of it', async () => {
    const w = worker(300);
    tunnels = w.tunnels;
    let held = 1;
    const { job: j, completed } = job(() => held);
    const a = new RemoteAttempt(w.host, streamJob('echo up; exec sleep 30'), j, 'tok', { requires: [], resources: {} });
    const done = a.run();
    while (!w.wire.some((m) => m.k === 'out')) await new Promise((r) => setTimeout(r, 20));
    held = 0;
    await done;
    a.dispose();
    expect(a.lost).toBe(true);
    expect(kinds(w.wire)).toEqual(['taken', 'started', 'out', 'lost']);
    expect(w.wire.at(-1)).toMatchObject({ why: 'the job lock was lost' });
    expect(completed).toEqual([]);
    expect(await f.cmd.keys(`${f.prefix}*`)).toEqual([]);
  });

  needs.it('discards a result that comes after its lock ran out: its outputs are deleted and it is reported lost', async () => {
    const w = worker();
    tunnels = w.tunnels;
    const { job: j } = job(
      () => 1,
      async () => {
        throw new Error('Missing lock for job');
      },
    );
    const a = new RemoteAttempt(w.host, streamJob('echo made > out.txt'), j, 'tok', { requires: [], resources: {} });
    await a.run();
    a.dispose();
    expect(kinds(w.wire)).toEqual(['taken', 'started', 'lost']);
    expect(w.wire.at(-1)).toMatchObject({ why: expect.stringContaining('its job lock ran out before the result (Missing lock for job)') });
    expect(w.logs.join('\n')).toContain('the result of r1/s1 attempt 1 came too late and was discarded');
    expect(await f.cmd.exists(keys(f.prefix).outputs('r1', 's1', 1))).toBe(0);
  });

  needs.it('starts no process for an attempt lost before it runs', async () => {
    const w = worker();
    tunnels = w.tunnels;
    const { job: j, completed } = job();
    const a = new RemoteAttempt(w.host, streamJob('echo never'), j, 'tok', { requires: [], resources: {} });
    a.lose('the worker registration expired');
    await a.run();
    a.dispose();
    expect(kinds(w.wire)).toEqual(['lost', 'taken']);
    expect(completed).toEqual([]);
  });
});
