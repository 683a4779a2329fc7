/**
 * `--backend redis://…` and COORD_BACKEND end to end: a run whose records, events, shared state,
 * queues and lock events live on a real redis-server (private to this file), read back by
 * `coord status`, `coord state`, `coord events` from another process; bad URLs; an unreachable
 * server; and the server restarted in the middle of a run.
 */
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import { existsSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { ROOT, Rig } from '../rig.js';
import { startRedis, type RedisServer } from '../redis-server.js';
import { requires } from '../requires.js';

const needs = requires('redis-server');
let server: RedisServer;
let rig: Rig;
needs.beforeAll(async () => {
  server = await startRedis({ appendfsync: 'always' });
}, 30_000);
needs.afterAll(async () => {
  await server.cleanup();
});
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

type Event = Record<string, unknown> & { type: string };

function eventsOf(url: string, run: string): Promise<Event[]> {
  return rig.eventsOn(url, run);
}

needs.describe('the Redis backend from the command line', () => {
  it('runs a plan whose records, events, state, queues and lock events are on the server', async () => {
    const url = `${server.url}/1`;
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'all', type: 'barrier', streams: ['a', 'b'] }] },
      streams: [
        { id: 'a', command: 'coord state incr n && coord state incr n && coord queue send jobs hello && coord lock x.txt -- true && echo A > a.txt' },
        { id: 'b', command: 'coord state incr n && coord queue recv jobs --wait 20s > got.txt && cp got.txt b.txt' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml', '--backend', url]);
    expect(r.code).toBe(0);
    // the run is on the server: read it back from other processes, by flag and by COORD_BACKEND
    const status = JSON.parse((await rig.coord(['status', '--json', '--backend', url])).stdout) as {
      run: { id: string; state: string };
      state: { version: number };
      queues: Array<{ topic: string; size: number }>;
    };
    expect(status.run.state).toBe('succeeded');
    expect(status.state.version).toBe(3);
    expect(status.queues).toMatchObject([{ topic: 'jobs', size: 1 }]);
    const got = await rig.coord(['state', 'get', 'n', '--run', status.run.id], { env: { COORD_BACKEND: url } });
    expect(got).toMatchObject({ code: 0, stdout: '3\n' });
    const events = await eventsOf(url, status.run.id);
    expect(events.filter((e) => e.type === 'state-version')).toHaveLength(3);
    expect(events.find((e) => e.type === 'lock-granted')).toMatchObject({ stream: 'a', token: 1 });
    expect(events.find((e) => e.type === 'queue-received')).toMatchObject({ topic: 'jobs', id: 1 });
    expect(events.at(-1)).toMatchObject({ type: 'run-ended', state: 'succeeded' });
    // only this host's files are local: stream output and the merge, no records, state or events
    const local = rig.runDir(status.run.id);
    expect(existsSync(join(local, 'converged', 'all', 'b.txt'))).toBe(true);
    for (const f of ['run.json', 'events.jsonl', 'state', 'queues']) expect(existsSync(join(local, f))).toBe(false);
    // the file backend under .coord knows nothing of it
    expect((await rig.coord(['status', status.run.id])).code).toBe(2);
    // clean removes the run's keys and this host's files
    expect((await rig.coord(['clean', status.run.id, '--backend', url])).stdout).toBe(`removed ${status.run.id}\n`);
    expect(existsSync(local)).toBe(false);
    expect((await rig.coord(['status', status.run.id, '--backend', url])).code).toBe(2);
    expect(rig.leftovers()).toEqual([]);
  }, 60_000);

  it('refuses a bad URL with the place it came from, and fails clearly when the server cannot be reached', async () => {
    rig.writePlan({ streams: [{ id: 'a', command: 'true' }] });
    const flag = await rig.coord(['run', 'plan.yaml', '--backend', 'redis://host:99999']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--backend: "redis://host:99999" is not a backend URL: bad port');
    const env = await rig.coord(['status'], { env: { COORD_BACKEND: 'http://x' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('COORD_BACKEND: "http://x" is not a backend URL');
    const started = Date.now();
    const away = await rig.coord(['status', '--backend', 'redis://127.0.0.1:1'], { env: { COORD_BACKEND_WAIT: '1s' } });
    expect(away.code).toBe(1);
    expect(away.stderr).toContain('no connection to the Redis backend at redis://127.0.0.1:1');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(readdirSync(rig.dir)).not.toContain('.coord');
  }, 30_000);

  it('survives the server restarting mid-run: commands retry, nothing is lost or applied twice', async () => {
    const url = `${server.url}/2`;
    const gate = join(rig.dir, 'restarted');
    rig.writePlan({
      streams: [
        // increments before, during and after the restart; then a second stream that needs the queue
        {
          id: 'inc',
          command: `for i in $(seq 1 40); do coord state incr n > /dev/null || exit 1; if [ $i = 10 ]; then touch ${join(rig.dir, 'ten')}; fi; if [ $i = 20 ]; then while [ ! -e ${gate} ]; do sleep 0.05; done; fi; done`,
        },
        { id: 'send', command: 'for i in $(seq 1 20); do coord queue send jobs "m$i" > /dev/null || exit 1; done' },
        { id: 'recv', depends_on: ['send'], command: 'for i in $(seq 1 20); do coord queue recv jobs --wait 20s || exit 1; done' },
      ],
    });
    const run = rig.spawn(['run', 'plan.yaml', '--backend', url]);
    await rig.waitForFile(join(rig.dir, 'ten'), 30_000);
    await server.bounce(); // a clean restart, then one after SIGKILL
    rig.write('restarted', '');
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/lost the connection to redis:\/\/127\.0\.0\.1:\d+/);
    const id = JSON.parse((await rig.coord(['status', '--json', '--backend', url])).stdout).run.id as string;
    expect((await rig.coord(['state', 'get', 'n', '--run', id, '--backend', url])).stdout).toBe('40\n');
    const log = await rig.coord(['state', 'log', '--json', '--run', id, '--backend', url]);
    const versions = log.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { version: number }).version);
    expect(versions).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(r.stdout.match(/\[recv\] m\d+/g)).toEqual(Array.from({ length: 20 }, (_, i) => `[recv] m${i + 1}`));
    expect(rig.leftovers()).toEqual([]);
  }, 90_000);

  it('resumes a run on the server whose coordinator was SIGKILLed: what succeeded is kept', async () => {
    const url = `${server.url}/3`;
    const gate = join(rig.dir, 'gate');
    rig.writePlan({
      agent_coordination: { recovery: { guardian: { grace: '500ms' } }, convergence_points: [{ name: 'both', type: 'barrier', streams: ['quick', 'slow'] }] },
      streams: [
        { id: 'quick', command: 'coord state incr n > /dev/null && echo q > q.txt' },
        { id: 'slow', command: `while [ ! -e ${gate} ]; do sleep 0.05; done; coord state incr n > /dev/null && echo s > s.txt` },
        { id: 'after', depends_on: ['both'], command: 'ls "$COORD_INPUTS/both"' },
      ],
    });
    const run = rig.spawn(['run', 'plan.yaml', '--backend', url]);
    const status = async () =>
      JSON.parse((await rig.coord(['status', '--json', '--backend', url])).stdout) as {
        run: { id: string; state: string };
        streams: Array<{ id: string; state: string }>;
      };
    for (
      let s = await status().catch(() => undefined);
      s?.streams.find((x) => x.id === 'quick')?.state !== 'succeeded';
      s = await status().catch(() => undefined)
    )
      await new Promise((r) => setTimeout(r, 100));
    run.child.kill('SIGKILL');
    await run.done;
    const crashed = await status();
    expect(crashed.run.state).toBe('interrupted');
    const resume = rig.spawn(['run', 'plan.yaml', '--resume', crashed.run.id, '--backend', url]);
    // only once the resumed coordinator has stopped the leftover slow (it would count too)
    while (!(await eventsOf(url, crashed.run.id)).some((e) => e.type === 'run-resumed')) await new Promise((r) => setTimeout(r, 100));
    rig.write('gate', '');
    const r = await resume.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[after] q.txt');
    expect(r.stdout).toContain('[after] s.txt');
    expect((await status()).run.state).toBe('succeeded');
    // quick ran once: the state counts one increment from each stream
    expect((await rig.coord(['state', 'get', 'n', '--run', crashed.run.id, '--backend', url])).stdout).toBe('2\n');
    expect(rig.leftovers()).toEqual([]);
  }, 60_000);

  it("keeps each running stream's heartbeat as a key that expires after heartbeat.timeout, deleted when the stream ends", async () => {
    const url = `${server.url}/4`;
    const gate = join(rig.dir, 'gate');
    rig.writePlan({
      agent_coordination: { heartbeat: { interval: '500ms', timeout: '2s', source: 'file' }, recovery: { guardian: { auto_invoke: false } } },
      streams: [{ id: 'a', command: `coord heartbeat --progress 50 --message half && while [ ! -e ${gate} ]; do sleep 0.05; done` }],
    });
    const run = rig.spawn(['run', 'plan.yaml', '--backend', url]);
    const c = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      let key: string | undefined;
      let beat: Record<string, unknown> = {};
      const deadline = Date.now() + 15_000;
      while (beat.progress !== 50 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        [key] = await c.keys('coord:run:*:beat:a');
        if (key) beat = JSON.parse((await c.get(key)) ?? '{}') as Record<string, unknown>;
      }
      expect(beat).toMatchObject({ attempt: 1, progress: 50, message: 'half', host: hostname(), worker: null });
      const ttl = await c.pttl(key!);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(2000);
      // no more beats: the server lets the key go while the stream still runs (stalled, only reported)
      while ((await c.exists(key!)) === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await c.exists(key!)).toBe(0);
      const runId = key!.split(':')[2]!;
      while (!(await eventsOf(url, runId)).some((e) => e.type === 'stream-stalled') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect((await eventsOf(url, runId)).some((e) => e.type === 'stream-stalled')).toBe(true);
      rig.write('gate', '');
      expect((await run.done).code).toBe(0);
      expect(await c.keys('coord:run:*:beat:*')).toEqual([]);
    } finally {
      c.disconnect();
    }
    expect(rig.leftovers()).toEqual([]);
  }, 60_000);
});

// A coordinator on "another host": its own UTS namespace with its own host name (root only).
requires('redis-server', 'root', 'unshare').describe('a run coordinated on another host', () => {
  /** `coord run` under the host name `coordhost`; resolves with its exit code. */
  function runElsewhere(url: string, env: Record<string, string>): { done: Promise<number | null>; kill: () => void } {
    const child = spawn(
      'unshare',
      ['--uts', 'sh', '-c', 'hostname coordhost && exec "$@"', 'sh', process.execPath, join(ROOT, 'bin', 'coord.js'), 'run', 'plan.yaml', '--backend', url],
      {
        cwd: rig.dir,
        env: rig.env(env),
        stdio: 'ignore',
      },
    );
    return { done: new Promise((r) => child.on('close', (code) => r(code))), kill: () => child.kill('SIGKILL') };
  }

  async function statusOf(url: string): Promise<{ run: { id: string; state: string }; streams: Array<{ state: string }> } | undefined> {
    const r = await rig.coord(['status', '--json', '--backend', url]);
    return r.code === 0 ? JSON.parse(r.stdout) : undefined;
  }

  async function until<T>(f: () => Promise<T | undefined>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await f();
      if (v !== undefined && ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('is told alive by its lease, stopped through its record, and seen dead (then resumable) once its lease lapses', async () => {
    const url = `${server.url}/5`;
    rig.writePlan({ streams: [{ id: 'long', command: 'if [ "$COORD_ATTEMPT" = 1 ]; then sleep 60; fi' }] });
    const first = runElsewhere(url, { COORD_RUN_LEASE: '1500ms' });
    const live = await until(
      () => statusOf(url),
      (s) => s.streams[0]?.state === 'running',
    );
    expect(live.run.state).toBe('running');
    // not this host's process: stopped through the run record, read at the next lease renewal
    const stop = await rig.coord(['stop', live.run.id, '--backend', url]);
    expect(stop.stdout).toContain(`run ${live.run.id} cancelled`);
    expect(await first.done).toBe(130);

    // a lease far longer than the checks below take, however loaded the machine
    const second = runElsewhere(url, { COORD_RUN_LEASE: '10m' });
    const other = await until(
      () => statusOf(url),
      (s) => s.run.id !== live.run.id && s.streams[0]?.state === 'running',
    );
    second.kill();
    await second.done;
    // the lease still holds: running, and not resumable
    expect((await statusOf(url))?.run.state).toBe('running');
    expect((await rig.coord(['run', 'plan.yaml', '--resume', other.run.id, '--backend', url])).stderr).toContain('is still running');
    // ten minutes pass: the server lets the lease lapse as it would then
    const c = new Redis(url, { maxRetriesPerRequest: 1 });
    try {
      const [lease] = await c.keys(`*run:${other.run.id}:lease`);
      expect(lease).toBeDefined();
      expect(await c.pttl(lease!)).toBeGreaterThan(60_000);
      await c.pexpire(lease!, 1);
    } finally {
      c.disconnect();
    }
    await until(
      () => statusOf(url),
      (s) => s.run.state === 'interrupted',
      15_000,
    );
    const resumed = await rig.coord(['run', 'plan.yaml', '--resume', other.run.id, '--backend', url]);
    expect(resumed.code).toBe(0);
    expect((await statusOf(url))?.run.state).toBe('succeeded');
    expect(rig.leftovers()).toEqual([]);
  }, 90_000);
});
