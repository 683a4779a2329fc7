/** Heartbeats and the guardian: stalls found, soft then hard recovery, restarts, beats by file. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, fixture, processAlive } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

// A timeout well above the start-up of a node process on a loaded machine (several hundred
// ms at load 20 on 2 cores): a stall must come from silence, never from a slow start.
const guardian = (maxRestarts: number, source = 'any') => ({
  heartbeat: { interval: '100ms', timeout: '1500ms', source },
  recovery: { guardian: { auto_invoke: true, grace: '1s', max_restarts: maxRestarts } },
});

describe('the guardian', () => {
  it('stops a stream that beats then goes silent, and restarts it as a new attempt', async () => {
    rig.writePlan({
      agent_coordination: guardian(1),
      streams: [
        {
          id: 'worker',
          command: `if [ "$COORD_ATTEMPT" = 1 ]; then coord heartbeat --progress 10 --message starting && ${fixture('hang.js', '--ignore-term')}; else echo recovered; fi`,
        },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const ev = rig.events();
    const kinds = ev.filter((e) => e.stream === 'worker').map((e) => (e.type === 'stream-signalled' ? `${e.type}:${String(e.signal)}` : e.type));
    expect(kinds).toEqual(expect.arrayContaining(['stream-stalled', 'stream-signalled:SIGTERM', 'stream-signalled:SIGKILL', 'stream-retrying']));
    expect(ev.find((e) => e.type === 'stream-retrying')).toMatchObject({ reason: 'heartbeat-timeout', attempt: 1 });
    expect(ev.filter((e) => e.type === 'stream-started').map((e) => e.attempt)).toEqual([1, 2]);
    expect(ev.find((e) => e.type === 'stream-ended')).toMatchObject({ state: 'succeeded', attempt: 2 });
    expect(readFileSync(join(rig.runDir(), 'streams', 'worker', 'stdout'), 'utf8')).toContain('recovered');
    const hb = JSON.parse(readFileSync(join(rig.runDir(), 'streams', 'worker', 'heartbeat'), 'utf8')) as { seq: number; progress: number; message: string };
    expect(hb).toMatchObject({ seq: 1, progress: 10, message: 'starting' });
  });

  it('fails the stream with reason heartbeat-timeout when no restart is left', async () => {
    rig.writePlan({ agent_coordination: guardian(0), streams: [{ id: 'stuck', command: fixture('hang.js') }] });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    expect(rig.events().find((e) => e.type === 'stream-ended')).toMatchObject({ state: 'failed', reason: 'heartbeat-timeout' });
  });

  it('counts output as a beat, and a rename-replaced heartbeat file under source: file', async () => {
    // each runs twice the heartbeat timeout, alive only by what it does
    const talk = `i=0; while [ $i -lt 30 ]; do echo tick; sleep 0.1; i=$((i+1)); done`;
    const rename = `i=0; while [ $i -lt 30 ]; do echo $i > hb.tmp && mv hb.tmp "$COORD_HEARTBEAT_FILE"; sleep 0.1; i=$((i+1)); done`;
    rig.writePlan({ agent_coordination: guardian(0), streams: [{ id: 'talker', command: talk }] });
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    rig.writePlan({ agent_coordination: guardian(0, 'file'), streams: [{ id: 'renamer', command: rename }] });
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    rig.writePlan({ agent_coordination: guardian(0, 'file'), streams: [{ id: 'talks-only', command: talk }] });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1); // output does not count under source: file
    expect(rig.events().some((e) => e.type === 'stream-stalled')).toBe(true);
  });

  it('reports a stream that ignores the soft signal as killed, and ends its grandchildren', async () => {
    const pidFile = join(rig.dir, 'g.pid');
    rig.writePlan({
      agent_coordination: guardian(0),
      streams: [
        { id: 'stubborn', command: fixture('hang.js', '--ignore-term') },
        { id: 'family', command: fixture('spawn-grandchild.js', pidFile) },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    const ended = Object.fromEntries(
      rig
        .events()
        .filter((e) => e.type === 'stream-ended')
        .map((e) => [String(e.stream), e]),
    );
    expect(ended.stubborn).toMatchObject({ state: 'failed', reason: 'heartbeat-timeout', killed: true });
    expect(ended.family).toMatchObject({ state: 'failed', reason: 'heartbeat-timeout' });
    expect(ended.family?.killed).toBeUndefined(); // it ended on SIGTERM
    expect(processAlive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as { streams: Array<{ id: string; killed: boolean }> };
    expect(status.streams.find((x) => x.id === 'stubborn')?.killed).toBe(true);
    expect(r.stdout).toMatch(/stubborn\s+failed \(heartbeat-timeout, killed\)/);
    expect(rig.leftovers()).toEqual([]);
  });

  it('sends recovery.guardian.soft instead of SIGTERM, and runs recovery.guardian.command with the context', async () => {
    rig.writePlan({
      agent_coordination: {
        heartbeat: { timeout: '1500ms' },
        recovery: {
          guardian: {
            soft: 'SIGUSR1',
            grace: '2s',
            max_restarts: 0,
            command: 'echo "diagnose $COORD_STALLED_STREAM attempt $COORD_ATTEMPT"; tail -n 1 "$COORD_STDOUT_FILE"',
          },
        },
      },
      streams: [{ id: 'agent', command: `trap 'echo got USR1; exit 7' USR1; echo working; ${fixture('hang.js')} & wait` }],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    const ev = rig.events();
    expect(ev.find((e) => e.type === 'stream-signalled')).toMatchObject({ signal: 'SIGUSR1', reason: 'heartbeat-timeout' });
    expect(ev.some((e) => e.type === 'stream-signalled' && e.signal === 'SIGKILL')).toBe(false);
    expect(readFileSync(join(rig.runDir(), 'streams', 'agent', 'stdout'), 'utf8')).toContain('got USR1');
    const log = await rig.waitForFile(join(rig.runDir(), 'streams', 'agent', 'guardian-1.log'));
    expect(log).toContain('diagnose agent attempt 1');
  });

  it('shows progress and message from coord heartbeat in coord status, with the file watched as a hint', async () => {
    rig.writePlan({
      agent_coordination: { ...guardian(0, 'file'), heartbeat: { timeout: '3s', source: 'file' } },
      streams: [{ id: 'steady', command: 'for i in 1 2 3 4 5; do coord heartbeat --progress $((i*20)) --message "step $i"; sleep 0.25; done' }],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    expect(rig.events().some((e) => e.type === 'stream-stalled')).toBe(false);
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as {
      streams: Array<{ progress: number; message: string; lastHeartbeat: string }>;
    };
    expect(status.streams[0]).toMatchObject({ progress: 100, message: 'step 5' });
    expect(status.streams[0]?.lastHeartbeat).toMatch(/^\d{4}-/);
    const text = await rig.coord(['status']);
    expect(text.stdout).toMatch(/ago 100% step 5/);
  });

  it('leaves no zombies behind over a thousand short streams', async () => {
    rig.writePlan({ streams: Array.from({ length: 1000 }, (_, i) => ({ id: `z${i}`, command: ['true'] })) });
    const run = rig.spawn(['run', 'plan.yaml', '--concurrency', '8', '--quiet']);
    const coordPid = run.child.pid ?? 0;
    let maxZombies = 0;
    let samples = 0;
    let finished = false;
    void run.done.then(() => (finished = true));
    while (!finished) {
      const family = new Set([coordPid, ...childrenOf(coordPid)]);
      maxZombies = Math.max(maxZombies, zombiesOf(family));
      samples++;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await run.done).code).toBe(0);
    expect(samples).toBeGreaterThan(3);
    // exits are reaped as they happen: never more than the streams running at once
    expect(maxZombies).toBeLessThanOrEqual(8);
  });

  it('coord heartbeat outside a stream is a usage error', async () => {
    const r = await rig.coord(['heartbeat']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('COORD_HEARTBEAT_FILE');
  });
});

function procStat(pid: string): { ppid: number; state: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]) };
  } catch {
    return null;
  }
}

function allPids(): string[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n));
}

function childrenOf(pid: number): number[] {
  return allPids()
    .filter((p) => procStat(p)?.ppid === pid)
    .map(Number);
}

function zombiesOf(parents: Set<number>): number {
  return allPids().filter((p) => {
    const st = procStat(p);
    return st !== null && st.state === 'Z' && parents.has(st.ppid);
  }).length;
}
