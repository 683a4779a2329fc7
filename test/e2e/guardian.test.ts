/** Heartbeats and the guardian: stalls found, soft then hard recovery, restarts, beats by file. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, fixture } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

const guardian = (maxRestarts: number, source = 'any') => ({
  heartbeat: { interval: '100ms', timeout: '400ms', source },
  recovery: { guardian: { auto_invoke: true, grace: '300ms', max_restarts: maxRestarts } },
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
    expect(kinds).toEqual(
      expect.arrayContaining(['stream-stalled', 'stream-signalled:SIGTERM', 'stream-signalled:SIGKILL', 'stream-retrying']),
    );
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
    const talk = `for i in 1 2 3 4 5 6 7 8; do echo tick; sleep 0.1; done`;
    const rename = `for i in 1 2 3 4 5 6 7 8; do echo $i > hb.tmp && mv hb.tmp "$COORD_HEARTBEAT_FILE"; sleep 0.1; done`;
    rig.writePlan({ agent_coordination: guardian(0), streams: [{ id: 'talker', command: talk }] });
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    rig.writePlan({ agent_coordination: guardian(0, 'file'), streams: [{ id: 'renamer', command: rename }] });
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    rig.writePlan({ agent_coordination: guardian(0, 'file'), streams: [{ id: 'talks-only', command: talk }] });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1); // output does not count under source: file
    expect(rig.events().some((e) => e.type === 'stream-stalled')).toBe(true);
  });

  it('coord heartbeat outside a stream is a usage error', async () => {
    const r = await rig.coord(['heartbeat']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('COORD_HEARTBEAT_FILE');
  });
});
