/**
 * Distributed execution end to end: `coord worker` processes and `coord run --workers` on a
 * private redis-server. Streams land on several workers and are merged on the coordinator's
 * host; a worker SIGKILLed mid-stream, or cut off (SIGSTOP) longer than its lease, loses its
 * attempt to another worker and its late result is discarded; `requires:` and host resources
 * pick the worker; the guardian reaches remote streams; outputs past the archive limit fail
 * clearly; the server restarted mid-run (also after SIGKILL) loses and doubles nothing; a
 * worker keeps the heartbeat key of a stream whose coordinator died, then stops the stream.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Rig, fixture, type Spawned } from '../rig.js';
import { startRedis, type RedisServer } from '../redis-server.js';
import { requires } from '../requires.js';

const needs = requires('redis-server');

let server: RedisServer;
let rig: Rig;
let db = 0;
let url = '';
needs.beforeAll(async () => {
  server = await startRedis();
}, 30_000);
needs.afterAll(async () => {
  await server.cleanup();
});
needs.beforeEach(() => {
  rig = new Rig();
  db += 1; // each test its own database: its own workers and queues
  url = `${server.url}/${db}`;
});
needs.afterEach(async () => {
  await rig.cleanup();
});

type Event = Record<string, unknown> & { type: string };

interface Worker extends Spawned {
  name: string;
  stderr(): string;
}

/** Starts `coord worker` and waits for its ready line. */
async function startWorker(name: string, args: string[] = [], env: Record<string, string> = {}): Promise<Worker> {
  const s = rig.spawn(['worker', '--backend', url, '--name', name, '--lease', '4s', ...args], { env: { COORD_REAPER_GRACE_MS: '500', ...env } });
  let err = '';
  s.child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const deadline = Date.now() + 20_000;
  while (!err.includes(`coord worker ${name}: ready`)) {
    if (Date.now() > deadline || s.child.exitCode !== null) throw new Error(`worker ${name} did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return { ...s, name, stderr: () => err };
}

function eventsOf(run: string): Promise<Event[]> {
  return rig.eventsOn(url, run);
}

async function waitForEvent(run: () => string | undefined, pred: (e: Event) => boolean, timeoutMs = 20_000): Promise<Event> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const id = run();
    if (id) {
      const found = (await eventsOf(id)).find(pred);
      if (found) return found;
    }
    if (Date.now() > deadline) throw new Error('timed out waiting for an event');
    // each look is a `coord events` process: not too often, the other suites share the cores
    await new Promise((r) => setTimeout(r, 400));
  }
}

/** The run id a `coord run --json` prints in its run-started event. */
function runIdOf(out: string): string | undefined {
  for (const line of out.split('\n')) {
    try {
      const e = JSON.parse(line) as Event;
      if (e.type === 'run-started') return String(e.run);
    } catch {
      /* partial line */
    }
  }
  return undefined;
}

function startRun(extra: string[] = [], env: Record<string, string> = {}): Spawned & { id: () => string | undefined } {
  const s = rig.spawn(['run', 'plan.yaml', '--workers', '--backend', url, '--json', ...extra], { env });
  let out = '';
  s.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  return { ...s, id: () => runIdOf(out) };
}

const stopWorkers = async (...ws: Worker[]) => {
  for (const w of ws) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  return Promise.all(ws.map((w) => w.done));
};

needs.describe('coord run --workers', () => {
  it('runs a plan across three workers: streams land on all three, outputs are merged here', async () => {
    const ws = await Promise.all(['w1', 'w2', 'w3'].map((n) => startWorker(n, ['--slots', '2'])));
    const ids = ['s1', 's2', 's3', 's4', 's5', 's6'];
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'all', type: 'barrier', streams: ids }] },
      streams: [
        ...ids.map((id) => ({
          id,
          command: `sleep 0.8; echo "$COORD_WORKER" > ${id}.txt; echo "done $COORD_STREAM_ID"; coord heartbeat --progress 100 --message fin`,
        })),
        { id: 'sum', depends_on: ['all'], command: 'cat "$COORD_INPUTS"/all/*.txt | sort | uniq -c > sum.txt; ls "$COORD_INPUTS"/all > names.txt' },
      ],
    });
    const run = startRun();
    const r = await run.done;
    expect(r.stderr).toContain('succeeded');
    expect(r.code).toBe(0);
    const id = run.id()!;
    const events = await eventsOf(id);
    const started = events.filter((e) => e.type === 'stream-started');
    const byStream = Object.fromEntries(started.map((e) => [String(e.stream), String(e.worker)]));
    expect(new Set(ids.map((s) => byStream[s]))).toEqual(new Set(['w1', 'w2', 'w3']));
    // the merge on this host holds every stream's file, written on the worker that ran it
    const merged = join(rig.runDir(id), 'converged', 'all');
    for (const s of ids) expect(readFileSync(join(merged, `${s}.txt`), 'utf8').trim()).toBe(byStream[s]);
    // the dependent stream (itself on a worker) got the merge as its input
    expect(
      readFileSync(join(rig.workspaceRoot, id, 'sum', 'names.txt'), 'utf8')
        .split('\n')
        .filter(Boolean),
    ).toEqual(ids.map((s) => `${s}.txt`));
    // output lines and heartbeats came back: logs, events and status on this host
    expect((await rig.coord(['logs', 's3', id, '--backend', url])).stdout).toBe('done s3\n');
    const status = JSON.parse((await rig.coord(['status', id, '--json', '--backend', url])).stdout) as {
      streams: Array<{ id: string; worker: string | null; progress: number | null; pid: number | null }>;
    };
    const s1 = status.streams.find((s) => s.id === 's1');
    expect(s1).toMatchObject({ worker: byStream.s1, progress: 100, pid: null });
    const human = (await rig.coord(['status', id, '--backend', url])).stdout;
    expect(human).toContain(`worker ${byStream.s1}`);
    await stopWorkers(...ws);
    for (const w of ws) expect(w.stderr()).not.toContain('discarded');
    expect(rig.leftovers()).toEqual([]);
  }, 90_000);

  it('runs a stream again elsewhere when its worker is SIGKILLed mid-stream, and leaves nothing of it running', async () => {
    const w1 = await startWorker('w1', ['--slots', '1']);
    // attempt 1 holds the only gpu unit and hangs on w1 until w1 is killed; attempt 2 on w2
    // needs that unit, given back when the coordinator finds w1 lost, and ends at once
    rig.writePlan({
      agent_coordination: { resources: { gpu: 1 }, convergence_points: [{ name: 'out', type: 'barrier', streams: ['job'] }] },
      streams: [
        {
          id: 'job',
          command: `echo "attempt $COORD_ATTEMPT on $COORD_WORKER" > out.txt; if [ "$COORD_WORKER" = w1 ]; then coord resource acquire gpu=1 -- sleep 60; else coord resource acquire gpu=1 --timeout 30s -- true; fi`,
        },
      ],
    });
    const run = startRun();
    await waitForEvent(run.id, (e) => e.type === 'resource-granted' && e.owner === 'job');
    const w2 = await startWorker('w2', ['--slots', '1']);
    w1.child.kill('SIGKILL');
    const r = await run.done;
    expect(r.code).toBe(0);
    const id = run.id()!;
    const events = await eventsOf(id);
    expect(events.find((e) => e.type === 'stream-retrying')).toMatchObject({ stream: 'job', attempt: 1, reason: 'worker-lost' });
    expect(events.filter((e) => e.type === 'stream-started').map((e) => [e.attempt, e.worker])).toEqual([
      [1, 'w1'],
      [2, 'w2'],
    ]);
    expect(events.find((e) => e.type === 'stream-ended')).toMatchObject({ state: 'succeeded', attempt: 2 });
    expect(events.filter((e) => e.owner === 'job').map((e) => e.type)).toEqual([
      'resource-granted',
      'resource-released',
      'resource-granted',
      'resource-released',
    ]);
    expect(readFileSync(join(rig.runDir(id), 'converged', 'out', 'out.txt'), 'utf8')).toBe('attempt 2 on w2\n');
    await stopWorkers(w2);
    // w1's `sleep 60` was stopped by its reaper when w1 died
    const deadline = Date.now() + 5000;
    while (rig.leftovers().length > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(rig.leftovers()).toEqual([]);
  }, 90_000);

  it('discards the late result of a worker cut off longer than its lease', async () => {
    const w1 = await startWorker('w1', ['--slots', '1']);
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'out', type: 'barrier', streams: ['job'] }] },
      // attempt 1 (on w1) ends while its worker is frozen; attempt 2 (on w2) at once
      streams: [{ id: 'job', command: `if [ "$COORD_WORKER" = w1 ]; then sleep 6; fi; echo "attempt $COORD_ATTEMPT on $COORD_WORKER" > out.txt` }],
    });
    const run = startRun();
    const first = await waitForEvent(run.id, (e) => e.type === 'stream-started' && e.worker === 'w1');
    const w2 = await startWorker('w2', ['--slots', '1']);
    w1.child.kill('SIGSTOP'); // cut off: no renewals, no reports
    await waitForEvent(run.id, (e) => e.type === 'stream-started' && e.worker === 'w2' && e.attempt === 2);
    // let attempt 1's process end meanwhile, then let its worker go on
    await new Promise((res) => setTimeout(res, Math.max(0, Date.parse(String(first.time)) + 6500 - Date.now())));
    w1.child.kill('SIGCONT');
    const r = await run.done;
    expect(r.code).toBe(0);
    const id = run.id()!;
    const events = await eventsOf(id);
    // attempt 1 ended as lost (no exit code); its real exit, reported late, was discarded
    expect(events.filter((e) => e.type === 'stream-exited').map((e) => [e.attempt, e.exitCode])).toEqual([
      [1, null],
      [2, 0],
    ]);
    expect(readFileSync(join(rig.runDir(id), 'converged', 'out', 'out.txt'), 'utf8')).toBe('attempt 2 on w2\n');
    // w1 learns it was cut off, drops what it had, and serves again
    const deadline = Date.now() + 10_000;
    while (!/expired|discarded|lost/.test(w1.stderr()) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(w1.stderr()).toMatch(/registration expired|came too late and was discarded/);
    await stopWorkers(w1, w2);
    expect(rig.leftovers()).toEqual([]);
  }, 90_000);

  it("matches streams' requires and resources with workers, and says when no worker can take one", async () => {
    const plain = await startWorker('plain', ['--slots', '4']);
    const gpu = await startWorker('gpu', ['--slots', '4', '--capabilities', 'gpu,linux', '--resources', 'gpu=1']);
    rig.writePlan({
      agent_coordination: { resources: { gpu: 4 } },
      streams: [
        { id: 'g1', requires: ['gpu'], resources: { gpu: 1 }, command: 'date +%s%N > t0; sleep 0.5; date +%s%N > t1' },
        { id: 'g2', requires: ['gpu'], resources: { gpu: 1 }, command: 'date +%s%N > t0; sleep 0.5; date +%s%N > t1' },
        { id: 'p', command: 'true' },
        { id: 'tpu', requires: ['tpu'], command: 'true' },
      ],
    });
    const run = startRun();
    await waitForEvent(run.id, (e) => e.type === 'warning' && e.stream === 'tpu');
    await waitForEvent(run.id, (e) => e.type === 'stream-ended' && e.stream === 'g2');
    await waitForEvent(run.id, (e) => e.type === 'stream-ended' && e.stream === 'g1');
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    const id = run.id()!;
    const events = await eventsOf(id);
    const warning = events.find((e) => e.type === 'warning' && e.stream === 'tpu');
    expect(String(warning?.message)).toMatch(/no live worker can take "tpu" \(requires tpu\): gpu lacks tpu; plain lacks tpu; it waits/);
    const on = Object.fromEntries(events.filter((e) => e.type === 'stream-started').map((e) => [e.stream, e.worker]));
    expect(on).toMatchObject({ g1: 'gpu', g2: 'gpu' });
    expect(on.tpu).toBeUndefined();
    // the gpu host has one unit: its two gpu streams never overlapped
    const span = (s: string) => ['t0', 't1'].map((f) => Number(readFileSync(join(rig.workspaceRoot, id, s, f), 'utf8')));
    const [a0, a1] = span('g1');
    const [b0, b1] = span('g2');
    expect(a1! <= b0! || b1! <= a0!).toBe(true);
    expect(events.find((e) => e.type === 'stream-ended' && e.stream === 'tpu')).toMatchObject({ state: 'cancelled' });
    await stopWorkers(plain, gpu);
    expect(rig.leftovers()).toEqual([]);
  }, 90_000);

  it('the guardian stops and restarts a stalled remote stream through its worker', async () => {
    const w = await startWorker('w1', ['--slots', '2']);
    rig.writePlan({
      agent_coordination: {
        heartbeat: { interval: '100ms', timeout: '2s', source: 'file' },
        recovery: { guardian: { auto_invoke: true, grace: '500ms', max_restarts: 3 } },
      },
      streams: [
        {
          id: 'hb',
          command: `if [ "$COORD_ATTEMPT" = 1 ]; then coord heartbeat --progress 10 && ${fixture('hang.js', '--ignore-term')}; else echo recovered; fi`,
        },
      ],
    });
    const run = startRun();
    const r = await run.done;
    expect(r.code).toBe(0);
    const events = await eventsOf(run.id()!);
    const kinds = events.filter((e) => e.stream === 'hb').map((e) => (e.type === 'stream-signalled' ? `${e.type}:${String(e.signal)}` : e.type));
    expect(kinds).toEqual(expect.arrayContaining(['stream-stalled', 'stream-signalled:SIGTERM', 'stream-signalled:SIGKILL', 'stream-retrying']));
    expect(events.find((e) => e.type === 'stream-ended')).toMatchObject({ state: 'succeeded' });
    await stopWorkers(w);
    expect(rig.leftovers()).toEqual([]);
  }, 90_000);

  it('carries the control socket of remote streams to the coordinator: spawn, resource acquire, propose, vote, decision', async () => {
    const w = await startWorker('w1', ['--slots', '4']);
    rig.writePlan({
      agent_coordination: { resources: { gpu: 1 } },
      streams: [
        {
          id: 'lead',
          command: [
            'echo "$COORD_CONTROL_SOCKET" > sock.txt',
            'coord propose ship --voters lead,v --quorum all --timeout 60s',
            'coord vote ship yes',
            'coord spawn --id child --wait -- \'echo "child on $COORD_WORKER" > child.txt\'',
            'echo "spawn $?" > spawn.txt',
            'coord decision ship --wait 60s > decision.txt',
          ].join('; '),
        },
        {
          id: 'v',
          command: [
            "coord resource acquire gpu=1 -- sh -c 'echo held > held.txt'",
            'echo "acquire $?" > acquire.txt',
            'until coord vote ship yes --reason remote 2>/dev/null; do sleep 0.3; done',
          ].join('; '),
        },
      ],
    });
    const run = startRun();
    const r = await run.done;
    expect(r.code).toBe(0);
    const id = run.id()!;
    const ws = (stream: string, file: string) => readFileSync(join(rig.workspaceRoot, id, stream, file), 'utf8').trim();
    // the streams asked through their worker's socket, not the coordinator's
    const record = JSON.parse((await rig.coord(['status', id, '--json', '--backend', url])).stdout) as { run: { controlSocket?: string } };
    const sock = ws('lead', 'sock.txt');
    expect(sock).toMatch(/control\.sock$|coord-[0-9a-f]{16}\.sock$/);
    expect(sock).not.toBe(record.run.controlSocket ?? join(rig.runDir(id), 'control.sock'));
    expect(ws('lead', 'spawn.txt')).toBe('spawn 0');
    expect(ws('lead', 'decision.txt')).toBe('accepted');
    expect(ws('v', 'acquire.txt')).toBe('acquire 0');
    expect(ws('v', 'held.txt')).toBe('held');
    expect(ws('child', 'child.txt')).toBe('child on w1');
    const events = await eventsOf(id);
    expect(events.find((e) => e.type === 'stream-registered' && e.stream === 'child')).toBeTruthy();
    expect(events.find((e) => e.type === 'stream-started' && e.stream === 'child')).toMatchObject({ worker: 'w1' });
    expect(events.find((e) => e.type === 'resource-granted' && e.owner === 'v')).toMatchObject({ units: { gpu: 1 } });
    expect(events.find((e) => e.type === 'resource-released' && e.owner === 'v')).toBeTruthy();
    expect(events.find((e) => e.type === 'proposal-decided')).toMatchObject({ proposal: 'ship', decision: 'accepted' });
    const votes = events.filter((e) => e.type === 'vote-cast').map((e) => e.voter);
    expect(votes.sort()).toEqual(['lead', 'v']);
    await stopWorkers(w);
    expect(rig.leftovers()).toEqual([]);
  }, 90_000);

  it('survives the server restarting mid-run, also after SIGKILL: no output line, state write or attempt lost or doubled', async () => {
    // leases of 30 s: the two restarts of a loaded machine's server must not outlast a lease
    // (with 15 s, one attempt once started a second time on a machine busier than four busy loops)
    const ws = await Promise.all(['w1', 'w2'].map((n) => startWorker(n, ['--slots', '2', '--lease', '30s'])));
    const ids = ['s1', 's2', 's3', 's4'];
    const gate = join(rig.dir, 'restarted');
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'all', type: 'barrier', streams: ids }] },
      streams: ids.map((id) => ({
        id,
        command: `for i in $(seq 1 20); do echo "line $i"; coord state incr n > /dev/null || exit 1; if [ $i = 8 ]; then touch ${rig.dir}/mid-$COORD_STREAM_ID; while [ ! -e ${gate} ]; do sleep 0.05; done; fi; done; echo $COORD_WORKER > $COORD_STREAM_ID.txt`,
      })),
    });
    const run = startRun([], { COORD_WORKER_LEASE: '30s', COORD_RUN_LEASE: '30s' });
    for (const id of ids) await rig.waitForFile(join(rig.dir, `mid-${id}`), 30_000);
    await server.bounce(); // a clean restart, then one after SIGKILL
    rig.write('restarted', '');
    const r = await run.done;
    expect(r.code).toBe(0);
    const id = run.id()!;
    const events = await eventsOf(id);
    // one attempt each, and none lost (a lost one says why)
    const lost = events.filter((e) => e.type === 'warning' && /was lost/.test(String(e.message))).map((e) => String(e.message));
    expect({
      started: events
        .filter((e) => e.type === 'stream-started')
        .map((e) => `${String(e.stream)}:${String(e.attempt)}`)
        .sort(),
      lost,
    }).toEqual({ started: ids.map((s) => `${s}:1`), lost: [] });
    expect(new Set(events.filter((e) => e.type === 'stream-started').map((e) => e.worker))).toEqual(new Set(['w1', 'w2']));
    expect((await rig.coord(['state', 'get', 'n', '--run', id, '--backend', url])).stdout).toBe('80\n');
    const log = await rig.coord(['state', 'log', '--json', '--run', id, '--backend', url]);
    expect(
      log.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { version: number }).version),
    ).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    for (const s of ids) {
      const out = (await rig.coord(['logs', s, id, '--backend', url])).stdout;
      expect(out.match(/line \d+/g)).toEqual(Array.from({ length: 20 }, (_, i) => `line ${i + 1}`));
    }
    expect(readdirSync(join(rig.runDir(id), 'converged', 'all')).sort()).toEqual(ids.map((s) => `${s}.txt`));
    await stopWorkers(...ws);
    expect(rig.leftovers()).toEqual([]);
  }, 120_000);

  it('fails a stream whose outputs are past the archive limit, with the limit named', async () => {
    const w = await startWorker('w1', [], { COORD_ARCHIVE_LIMIT: '64KB' });
    rig.writePlan({ streams: [{ id: 'big', command: 'head -c 1000000 /dev/urandom > blob' }] });
    const run = startRun();
    const r = await run.done;
    expect(r.code).toBe(1);
    const events = await eventsOf(run.id()!);
    expect(events.find((e) => e.type === 'stream-ended')).toMatchObject({ state: 'failed', reason: 'outputs-error', exitCode: 0 });
    expect(String(events.find((e) => e.type === 'warning')?.message)).toMatch(
      /workspace of "big" .* larger than the archive limit of 62\.5 KiB \(COORD_ARCHIVE_LIMIT\)/,
    );
    await stopWorkers(w);
  }, 60_000);

  it('keeps the heartbeat key of a remote stream whose coordinator died, then stops the stream', async () => {
    // a worker lease of 8 s: the worker tells the coordinator gone only at two checks 8 s apart,
    // which leaves the looks below (each a coord process, slow on a loaded machine) time to see it running
    const w = await startWorker('w1', ['--lease', '8s']);
    rig.writePlan({
      agent_coordination: { heartbeat: { interval: 1, timeout: 30 } },
      streams: [{ id: 'long', command: 'n=0; while true; do n=$((n+1)); coord heartbeat --progress $((n % 100)) --message "beat $n"; sleep 0.2; done' }],
    });
    const run = startRun([], { COORD_RUN_LEASE: '1s' });
    await waitForEvent(run.id, (e) => e.type === 'stream-started');
    const id = run.id()!;
    const status = async () => {
      const r = await rig.coord(['status', id, '--json', '--backend', url]);
      return JSON.parse(r.stdout) as {
        run: { state: string };
        streams: Array<{ id: string; state: string; worker: string | null; lastHeartbeat: string | null; message: string | null }>;
      };
    };
    // some beats first
    const beatBy = Date.now() + 20_000;
    while (!/^beat \d+$/.test((await status()).streams[0]?.message ?? '') && Date.now() < beatBy) await new Promise((res) => setTimeout(res, 100));
    run.child.kill('SIGKILL');
    await run.done;
    // the worker keeps the stream's key on the server: status reads it, with nobody coordinating
    const before = await status();
    expect(before.run.state).toBe('interrupted');
    expect(before.streams[0]).toMatchObject({ id: 'long', state: 'running', worker: 'w1' });
    // the worker goes on renewing the key: a later look sees a later beat
    let after = await status();
    const beatsBy = Date.now() + 20_000;
    while (Date.parse(after.streams[0]?.lastHeartbeat ?? '') <= Date.parse(before.streams[0]!.lastHeartbeat!) && Date.now() < beatsBy) after = await status();
    expect(after.streams[0]!.state).toBe('running');
    expect(Date.parse(after.streams[0]!.lastHeartbeat!)).toBeGreaterThan(Date.parse(before.streams[0]!.lastHeartbeat!));
    expect(after.streams[0]!.message).toMatch(/^beat \d+$/);
    const c = new Redis(url, { maxRetriesPerRequest: 1 });
    const key = `coord:run:${id}:beat:long`;
    const ttl = await c.pttl(key);
    expect(ttl).toBeGreaterThan(25_000); // renewed within the last second or so
    expect(ttl).toBeLessThanOrEqual(30_000); // heartbeat.timeout
    // the lease has run out: the worker stops the stream, and its key goes with it
    const deadline = Date.now() + 45_000;
    while (!w.stderr().includes('is gone: stopping its streams') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(w.stderr()).toContain(`the coordinator of run ${id} is gone`);
    while ((await c.exists(key)) !== 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    c.disconnect();
    expect((await status()).streams[0]!.state).toBe('cancelled');
    await stopWorkers(w);
    expect(rig.leftovers()).toEqual([]);
  }, 120_000);

  describe('--resume of a run whose coordinator died while a stream ran on a worker', () => {
    /** Starts a run whose stream waits on a worker for `gate`, SIGKILLs its coordinator; returns the run id. */
    async function crash(gate: string): Promise<string> {
      rig.writePlan({
        agent_coordination: { convergence_points: [{ name: 'out', type: 'barrier', streams: ['slow'] }] },
        streams: [
          {
            id: 'slow',
            command: `echo "attempt $COORD_ATTEMPT" > out.txt; echo "attempt $COORD_ATTEMPT" >> ${join(rig.dir, 'slow.log')}; echo before; ${fixture('wait-for-file.js', gate)}; echo after`,
          },
        ],
      });
      const run = startRun();
      await waitForEvent(run.id, (e) => e.type === 'stream-started' && e.worker === 'w1');
      run.child.kill('SIGKILL');
      await run.done;
      return run.id()!;
    }

    it('--adopt follows the remote attempt to its end', async () => {
      const w = await startWorker('w1', ['--slots', '2']);
      const gate = join(rig.dir, 'gate');
      const id = await crash(gate);
      const resume = rig.spawn(['run', 'plan.yaml', '--resume', id, '--adopt', '--workers', '--backend', url]);
      await waitForEvent(
        () => id,
        (e) => e.type === 'run-resumed',
      );
      rig.write('gate', '');
      const r = await resume.done;
      expect(r.code).toBe(0);
      const events = await eventsOf(id);
      expect(events.find((e) => e.type === 'run-resumed')).toMatchObject({ adopted: ['slow'], stopped: [] });
      expect(events.filter((e) => e.type === 'stream-started').map((e) => e.attempt)).toEqual([1]);
      expect(events.find((e) => e.type === 'stream-ended')).toMatchObject({ stream: 'slow', state: 'succeeded', attempt: 1 });
      expect(readFileSync(join(rig.dir, 'slow.log'), 'utf8')).toBe('attempt 1\n'); // never run again
      expect(readFileSync(join(rig.runDir(id), 'converged', 'out', 'out.txt'), 'utf8')).toBe('attempt 1\n');
      expect((await rig.coord(['logs', 'slow', id, '--backend', url])).stdout).toContain('after\n');
      await stopWorkers(w);
      expect(rig.leftovers()).toEqual([]);
    }, 90_000);

    it('without --adopt stops the remote attempt through its worker and runs the stream again', async () => {
      const w = await startWorker('w1', ['--slots', '2']);
      const gate = join(rig.dir, 'gate');
      const id = await crash(gate);
      const resume = rig.spawn(['run', 'plan.yaml', '--resume', id, '--workers', '--backend', url]);
      await waitForEvent(
        () => id,
        (e) => e.type === 'run-resumed',
      );
      rig.write('gate', '');
      const r = await resume.done;
      expect(r.code).toBe(0);
      const events = await eventsOf(id);
      expect(events.find((e) => e.type === 'run-resumed')).toMatchObject({ adopted: [], stopped: ['slow'] });
      expect(events.filter((e) => e.type === 'stream-started').map((e) => e.attempt)).toEqual([1, 2]);
      expect(readFileSync(join(rig.dir, 'slow.log'), 'utf8')).toBe('attempt 1\nattempt 2\n');
      expect(readFileSync(join(rig.runDir(id), 'converged', 'out', 'out.txt'), 'utf8')).toBe('attempt 2\n');
      await stopWorkers(w);
      // attempt 1 was stopped (SIGTERM) before attempt 2 began, so it never reached "after"
      expect(w.stderr()).not.toContain('discarded');
      expect(rig.leftovers()).toEqual([]);
    }, 90_000);
  });

  it('refuses bad usage', async () => {
    rig.writePlan({ streams: [{ id: 'a', command: 'true' }] });
    const noBackend = await rig.coord(['run', 'plan.yaml', '--workers']);
    expect(noBackend.code).toBe(2);
    expect(noBackend.stderr).toContain('--workers needs a Redis server');
    expect(readdirSync(rig.dir)).not.toContain('.coord');
    const worker = await rig.coord(['worker']);
    expect(worker).toMatchObject({ code: 2 });
    expect(worker.stderr).toContain('coord worker needs a Redis server');
    const res = await rig.coord(['worker', '--backend', url, '--resources', 'gpu']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--resources: "gpu" is not NAME=N');
  });
});
