/** A failed point stops the streams nothing needs any more — but not one that has already ended on its own. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { StreamCoordinator } from '../../src/orchestrator/coordinator.js';
import { parsePlan } from '../../src/plan/load.js';
import type { CoordEvent } from '../../src/events/types.js';
import { nodeSpawner, type Spawner, type StreamProcess } from '../../src/supervise/spawner.js';
import { fixture } from '../rig.js';
import { makeTemp, removeTemp } from '../workspace/fsfix.js';

let tmp: string;
beforeEach(async () => {
  tmp = await makeTemp('coord-pf-');
});
afterEach(async () => {
  await removeTemp(tmp);
});

describe('a point failed by one stream', () => {
  it('leaves a stream that exited 0 before it succeeded, even when its exit is reported after the failure', async () => {
    const yaml = [
      'agent_coordination:',
      '  convergence_points: [{ name: both, type: barrier, streams: [good, bad] }]',
      'streams:',
      '  - { id: good, command: "echo fine" }',
      // bad fails once good's process is gone
      `  - { id: bad, command: '${fixture('wait-for-file.js', path.join(tmp, 'good-exited'))} && exit 3' }`,
    ].join('\n');
    const parsed = parsePlan(yaml, path.join(tmp, 'plan.yaml'), { cwd: tmp });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    // The exit of `good` (its process already gone) reaches the coordinator only once `bad` has
    // failed the point: the order a loaded machine may deliver two launchers' reports in.
    let pointFailed: () => void = () => undefined;
    const failed = new Promise<void>((r) => (pointFailed = r));
    const spawner: Spawner = {
      async spawn(req) {
        const proc = await nodeSpawner.spawn(req);
        if (req.env['COORD_STREAM_ID'] !== 'good') return proc;
        const late: StreamProcess = {
          pid: proc.pid,
          pgid: proc.pgid,
          procStartTime: proc.procStartTime,
          signal: (sig) => proc.signal(sig),
          exited: proc.exited.then(async (info) => {
            writeFileSync(path.join(tmp, 'good-exited'), '');
            await failed;
            return info;
          }),
        };
        return late;
      },
    };
    const coord = new StreamCoordinator({ plan: parsed.value, home: path.join(tmp, '.coord'), spawner, outputLines: false });
    const events: CoordEvent[] = [];
    coord.on((e) => {
      events.push(e);
      if (e.type === 'point-failed') pointFailed();
    });
    const outcome = await coord.run();
    expect(outcome.exitCode).toBe(1);
    const good = outcome.streams.find((s) => s.id === 'good');
    expect(good).toMatchObject({ state: 'succeeded', exitCode: 0 });
    expect(events.some((e) => e.type === 'stream-signalled' && e.stream === 'good')).toBe(false);
    expect(outcome.streams.find((s) => s.id === 'bad')).toMatchObject({ state: 'failed', reason: 'exit-non-zero' });
  });

  it('leaves a stream whose leader exited 0 before it succeeded, though a leftover of its group is still alive', async () => {
    const pidFile = path.join(tmp, 'good.pid');
    const node = JSON.stringify(process.execPath);
    // bad fails the point once good's leader is gone (reaped), while good's leftover, which
    // ignores SIGTERM and holds good's stdout, keeps the group alive until the drain gives up
    const leaderGone = `const p = Number(require('fs').readFileSync(${JSON.stringify(pidFile)}, 'utf8')); setInterval(() => { try { process.kill(p, 0); } catch { process.exit(3); } }, 5);`;
    const yaml = [
      'agent_coordination:',
      '  convergence_points: [{ name: both, type: barrier, streams: [good, bad] }]',
      'streams:',
      `  - id: good`,
      `    command: ${JSON.stringify(`(trap '' TERM; sleep 30) & echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; echo fine`)}`,
      `  - id: bad`,
      `    command: ${JSON.stringify(`${fixture('wait-for-file.js', pidFile)} && ${node} -e ${JSON.stringify(leaderGone)}`)}`,
    ].join('\n');
    const parsed = parsePlan(yaml, path.join(tmp, 'plan.yaml'), { cwd: tmp });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    let pointFailed: () => void = () => undefined;
    const failed = new Promise<void>((r) => (pointFailed = r));
    const spawner: Spawner = {
      async spawn(req) {
        const proc = await nodeSpawner.spawn(req);
        if (req.env['COORD_STREAM_ID'] !== 'good') return proc;
        // good's exit is reported only after the point failed, whenever the drain ends
        return { ...proc, exited: proc.exited.then(async (info) => (await failed, info)) };
      },
    };
    const coord = new StreamCoordinator({ plan: parsed.value, home: path.join(tmp, '.coord'), spawner, outputLines: false });
    const events: CoordEvent[] = [];
    coord.on((e) => {
      events.push(e);
      if (e.type === 'point-failed') pointFailed();
    });
    const outcome = await coord.run();
    expect(outcome.exitCode).toBe(1);
    expect(outcome.streams.find((s) => s.id === 'good')).toMatchObject({ state: 'succeeded', exitCode: 0 });
    expect(events.some((e) => e.type === 'stream-signalled' && e.stream === 'good')).toBe(false);
    expect(outcome.streams.find((s) => s.id === 'bad')).toMatchObject({ state: 'failed', reason: 'exit-non-zero' });
  });
});
