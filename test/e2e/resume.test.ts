/** Crash and resume: SIGKILL the coordinator mid-run, then `coord run --resume` (with and without --adopt). */
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

function plan(gate: string) {
  return {
    agent_coordination: {
      recovery: { guardian: { grace: '500ms' } },
      convergence_points: [
        { name: 'early', type: 'barrier', streams: ['quick'] },
        { name: 'both', type: 'barrier', streams: ['quick', 'slow'] },
      ],
    },
    streams: [
      { id: 'quick', command: `echo ran >> ${join(rig.dir, 'quick.count')}; echo q > q.txt` },
      { id: 'slow', command: `echo "attempt $COORD_ATTEMPT" >> ${join(rig.dir, 'slow.log')}; ${fixture('wait-for-file.js', gate)} && echo s > s.txt` },
      { id: 'after', depends_on: ['both'], command: 'ls "$COORD_INPUTS/both"' },
    ],
  };
}

async function crashMidRun(gate: string): Promise<string> {
  rig.writePlan(plan(gate));
  const run = rig.spawn(['run', 'plan.yaml']);
  await rig.waitForEvent((e) => e.type === 'point-done' && e.point === 'early');
  await rig.waitForEvent((e) => e.type === 'stream-started' && e.stream === 'slow');
  run.child.kill('SIGKILL');
  await run.done;
  const id = rig.runIds()[0] ?? '';
  const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as { run: { state: string }; streams: Array<{ id: string; state: string }> };
  expect(status.run.state).toBe('interrupted');
  expect(status.streams.find((s) => s.id === 'slow')?.state).toBe('running'); // still alive, orphaned
  return id;
}

describe('--resume', () => {
  it('keeps what succeeded, stops and reruns what the dead coordinator left running, runs the rest', async () => {
    const gate = join(rig.dir, 'gate');
    const id = await crashMidRun(gate);
    const resume = rig.spawn(['run', 'plan.yaml', '--resume', id]);
    await rig.waitForEvent((e) => e.type === 'run-resumed');
    rig.write('gate', ''); // only now can the rerun of slow finish
    const r = await resume.done;
    expect(r.code).toBe(0);
    expect(rig.runIds()).toEqual([id]); // the same run, continued
    expect(readFileSync(join(rig.dir, 'quick.count'), 'utf8')).toBe('ran\n'); // not run again
    expect(readFileSync(join(rig.dir, 'slow.log'), 'utf8')).toBe('attempt 1\nattempt 2\n');
    const resumed = rig.events().find((e) => e.type === 'run-resumed');
    expect(resumed).toMatchObject({ kept: ['quick'], adopted: [], stopped: ['slow'], points: ['early'] });
    // the published point was not merged again
    expect(rig.events().filter((e) => e.type === 'point-done' && e.point === 'early')).toHaveLength(1);
    expect(r.stdout).toContain('[after] q.txt');
    expect(r.stdout).toContain('[after] s.txt');
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as { run: { state: string } };
    expect(status.run.state).toBe('succeeded');
    expect(rig.leftovers()).toEqual([]);
  });

  it('--adopt watches a healthy leftover stream to its end instead of restarting it', async () => {
    const gate = join(rig.dir, 'gate');
    const id = await crashMidRun(gate);
    const resume = rig.spawn(['run', 'plan.yaml', '--resume', id, '--adopt']);
    await rig.waitForEvent((e) => e.type === 'run-resumed');
    rig.write('gate', ''); // the adopted stream (started by the dead coordinator) now finishes
    const r = await resume.done;
    expect(r.code).toBe(0);
    expect(readFileSync(join(rig.dir, 'slow.log'), 'utf8')).toBe('attempt 1\n'); // never restarted
    expect(rig.events().find((e) => e.type === 'run-resumed')).toMatchObject({ kept: ['quick'], adopted: ['slow'], stopped: [] });
    expect(rig.events().find((e) => e.type === 'stream-ended' && e.stream === 'slow')).toMatchObject({ state: 'succeeded', attempt: 1 });
    expect(r.stdout).toContain('[after] s.txt');
    expect(rig.leftovers()).toEqual([]);
  });

  it('refuses a run that is still running, and says when there is nothing to resume', async () => {
    rig.writePlan({ streams: [{ id: 'x', command: fixture('hang.js') }] });
    const run = rig.spawn(['run', 'plan.yaml']);
    await rig.waitForEvent((e) => e.type === 'stream-started');
    const id = rig.runIds()[0] ?? '';
    const busy = await rig.coord(['run', 'plan.yaml', '--resume', id]);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toContain('still running');
    run.child.kill('SIGINT');
    await run.done;
    rig.writePlan({ streams: [{ id: 'x', command: 'true' }] }, 'ok.yaml');
    expect((await rig.coord(['run', 'ok.yaml'])).code).toBe(0);
    const done = rig.runIds().find((r) => r !== id) ?? '';
    const again = await rig.coord(['run', 'ok.yaml', '--resume', done]);
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toContain('nothing to resume');
    expect((await rig.coord(['run', 'ok.yaml', '--adopt'])).code).toBe(2);
  });

  it('an approval pending when the coordinator died keeps its votes; the resumed run counts the rest and publishes the point', async () => {
    rig.writePlan({
      agent_coordination: {
        convergence_points: [{ name: 'gate', type: 'barrier', streams: ['w'], approve: { quorum: 'all', voters: ['alice', 'bob'], timeout: '60s' } }],
      },
      streams: [
        { id: 'w', command: 'echo work > work.txt' },
        { id: 'after', depends_on: ['gate'], command: 'cat "$COORD_INPUTS/gate/work.txt"' },
      ],
    });
    const run = rig.spawn(['run', 'plan.yaml']);
    await rig.waitForEvent((e) => e.type === 'proposal-opened' && e.proposal === 'gate');
    const first = await rig.coord(['vote', 'gate', 'yes', '--as', 'alice']);
    expect(first.code).toBe(0);
    run.child.kill('SIGKILL');
    await run.done;
    const id = rig.runIds()[0] ?? '';
    const resume = rig.spawn(['run', 'plan.yaml', '--resume', id]);
    await rig.waitForEvent((e) => e.type === 'run-resumed');
    // alice's vote survived the crash: a second one is refused
    const again = await rig.coord(['vote', 'gate', 'yes', '--as', 'alice']);
    expect(again).toMatchObject({ code: 1, stdout: '' });
    expect(again.stderr).toContain('"alice" already voted yes on "gate"');
    expect((await rig.coord(['vote', 'gate', 'yes', '--as', 'bob'])).code).toBe(0);
    const r = await resume.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[after] work');
    expect(readFileSync(join(rig.runDir(), 'converged', 'gate', 'work.txt'), 'utf8')).toBe('work\n');
    const decided = rig.events().filter((e) => e.type === 'proposal-decided' && e.proposal === 'gate');
    expect(decided).toHaveLength(1);
    expect(decided[0]).toMatchObject({
      decision: 'accepted',
      votes: [
        { voter: 'alice', vote: 'yes' },
        { voter: 'bob', vote: 'yes' },
      ],
    });
    expect(rig.events().filter((e) => e.type === 'stream-ended' && e.stream === 'w')).toHaveLength(1); // not run again
    expect(rig.leftovers()).toEqual([]);
  });

  it('a gather: vote group interrupted mid-way keeps the replicas that ended and decides when the rest end', async () => {
    const gate = join(rig.dir, 'gate');
    rig.writePlan({
      agent_coordination: { recovery: { guardian: { grace: '500ms' } }, convergence_points: [{ name: 'answer', type: 'barrier', streams: ['solve'] }] },
      streams: [
        // replicas 1 and 2 disagree; replica 3, still running at the crash, breaks the tie
        {
          id: 'solve',
          replicas: 3,
          gather: 'vote',
          command: `case $COORD_REPLICA in 1) echo 42 > answer.txt;; 2) echo 41 > answer.txt;; 3) ${fixture('wait-for-file.js', gate)} && echo 42 > answer.txt;; esac`,
        },
        { id: 'use', depends_on: ['solve'], command: 'cat "$COORD_INPUTS/solve/answer.txt"' },
      ],
    });
    const run = rig.spawn(['run', 'plan.yaml']);
    const ended = new Set<string>();
    await rig.waitForEvent((e) => {
      if (e.type === 'stream-ended' && e.state === 'succeeded') ended.add(String(e.stream));
      return ended.size === 2;
    });
    run.child.kill('SIGKILL');
    await run.done;
    const id = rig.runIds()[0] ?? '';
    const resume = rig.spawn(['run', 'plan.yaml', '--resume', id]);
    const resumed = await rig.waitForEvent((e) => e.type === 'run-resumed');
    expect((resumed.kept as string[]).sort()).toEqual([...ended].sort());
    rig.write('gate', '');
    const r = await resume.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[use] 42');
    expect(readFileSync(join(rig.runDir(), 'converged', 'answer', 'answer.txt'), 'utf8')).toBe('42\n');
    const decided = rig.events().filter((e) => e.type === 'proposal-decided' && e.proposal === 'solve');
    expect(decided).toHaveLength(1);
    expect(decided[0]).toMatchObject({ kind: 'gather', decision: 'accepted', yes: 2, needed: 2 });
    expect(rig.leftovers()).toEqual([]);
  });
});
