/**
 * `coord run --dry-run` prints the waves the scheduler starts streams in. The run here has
 * unlimited concurrency and is driven round by round: every stream started in a round ends at
 * once, the run is let settle (its points merged, its vote groups decided), and what the
 * scheduler starts then is the next round. The rounds must be the dry run's waves — through
 * gather first and vote groups, capabilities, a for_each group and both kinds of point.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { dryRun } from '../../src/cli/commands/run/dry-run.js';
import type { CoordEvent } from '../../src/events/types.js';
import { StreamCoordinator } from '../../src/orchestrator/coordinator.js';
import { parsePlan } from '../../src/plan/load.js';
import { nodeSpawner, type Spawner, type StreamProcess } from '../../src/supervise/spawner.js';
import { makeTemp, removeTemp } from '../workspace/fsfix.js';

let tmp: string;
beforeEach(async () => {
  tmp = await makeTemp('coord-waves-');
});
afterEach(async () => {
  await removeTemp(tmp);
});

// Every stream holds a unit of a pool large enough for all: the grant is an event the
// scheduler emits the moment it decides to start a stream (a spawn comes later).
const planText = [
  'agent_coordination:',
  '  workspace_root: ws',
  '  resources: { slots: 1000 }',
  '  convergence_points:',
  '    - { name: analysis, type: barrier, streams: [scan, lint] }',
  '    - { name: gathered, type: progressive, streams: [shard] }',
  'streams:',
  '  - { id: scan, command: "true", resources: { slots: 1 }, capabilities: [probe] }',
  '  - { id: lint, command: "true", resources: { slots: 1 } }',
  '  - { id: solve, replicas: 3, gather: first, command: "true", resources: { slots: 1 }, capabilities: [answer] }',
  '  - { id: judge, replicas: 3, gather: vote, command: "true", resources: { slots: 1 }, depends_on: [analysis] }',
  '  - { id: shard, for_each: [a, b], command: "true", resources: { slots: 1 }, depends_on: ["capability:probe"] }',
  '  - { id: report, command: "true", resources: { slots: 1 }, depends_on: [solve, judge] }',
  '  - { id: ship, command: "true", resources: { slots: 1 }, depends_on: [gathered, report, "capability:answer"] }',
  '  - { id: late, command: "true", resources: { slots: 1 }, depends_on: [lint] }',
].join('\n');

describe('the dry run and the run', () => {
  it('agree: round after round, the run starts the waves the dry run prints', async () => {
    const parsed = parsePlan(planText, path.join(tmp, 'plan.yaml'), { cwd: tmp });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
    const plan = parsed.value;
    const { waves } = dryRun(plan);

    // What the run did, from its events and its spawner.
    let round = 0;
    const decidedIn = new Map<string, number>();
    const spawned = new Set<string>();
    const ended = new Set<string>();
    const settled = new Set<string>();
    let registered = 0;
    let runEnded = false;
    const held: Array<() => void> = [];
    let wake: (() => void) | undefined;
    const until = async (done: () => boolean): Promise<void> => {
      // woken by the listener: the code that emitted the event, and what it does right after
      // (the scheduler's pass), has run by the time this continues
      while (!done() && !runEnded) await new Promise<void>((r) => (wake = r));
    };
    const spawner: Spawner = {
      async spawn(req) {
        const proc = await nodeSpawner.spawn(req);
        const gate = new Promise<void>((r) => held.push(r));
        spawned.add(req.env['COORD_STREAM_ID'] ?? '');
        wake?.();
        const gated: StreamProcess = {
          pid: proc.pid,
          pgid: proc.pgid,
          procStartTime: proc.procStartTime,
          signal: (sig) => proc.signal(sig),
          exited: proc.exited.then(async (info) => {
            await gate;
            return info;
          }),
        };
        return gated;
      },
    };
    const coord = new StreamCoordinator({ plan, home: path.join(tmp, '.coord'), spawner, concurrency: 1000, outputLines: false });
    coord.on((e: CoordEvent) => {
      if (e.type === 'resource-granted' && e.kind === 'stream' && e.stream) decidedIn.set(e.stream, round);
      else if (e.type === 'stream-registered') registered += 1;
      else if (e.type === 'stream-ended') ended.add(e.stream);
      else if (e.type === 'point-done' || e.type === 'point-failed') settled.add(e.point);
      else if (e.type === 'proposal-decided' && e.kind === 'gather') settled.add(e.proposal);
      else if (e.type === 'run-ended') runEnded = true;
      wake?.();
    });
    const allEnded = (ids: readonly string[]) => ids.every((id) => ended.has(id));
    const settledRun = () =>
      registered === plan.streams.length &&
      [...decidedIn].every(([id, r]) => r === round || ended.has(id)) &&
      plan.points.every((p) => !allEnded(p.streams) || settled.has(p.name)) &&
      Object.values(plan.groups).every((g) => g.gather !== 'vote' || !allEnded(g.members) || settled.has(g.id));

    const outcome = coord.run();
    for (;;) {
      await until(settledRun);
      const started = [...decidedIn].filter(([, r]) => r === round).map(([id]) => id);
      if (runEnded || started.length === 0) break;
      await until(() => started.every((id) => spawned.has(id)));
      round += 1;
      for (const release of held.splice(0)) release();
    }
    expect((await outcome).state).toBe('succeeded');

    const rounds: string[][] = [];
    for (const s of plan.streams) {
      const r = decidedIn.get(s.id);
      if (r !== undefined) (rounds[r] ??= []).push(s.id);
    }
    expect(rounds).toEqual(waves);
    expect(waves.length).toBe(4);
  });
});
