/**
 * Quorum consensus: coord propose / vote / decision among streams, a convergence point's
 * `approve:`, and `gather: vote` replicas. Proposals are decided by the coordinator; the
 * tests wait on files and events, never on sleeps.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, fixture } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

const waitFor = (name: string): string => fixture('wait-for-file.js', join(rig.dir, name));
const out = (stream: string): string => readFileSync(join(rig.runDir(), 'streams', stream, 'stdout'), 'utf8');
const err = (stream: string): string => readFileSync(join(rig.runDir(), 'streams', stream, 'stderr'), 'utf8');

describe('consensus', () => {
  it('votes reaching and missing the quorum, a double vote, a non-voter, a timeout, a wait that ends pending', async () => {
    const flag = (name: string) => `touch ${join(rig.dir, name)}`;
    rig.writePlan({
      streams: [
        {
          id: 'lead',
          command: [
            `${waitFor('a-up')} >/dev/null && ${waitFor('b-up')} >/dev/null`,
            // voters default to the streams running now: lead, a, b
            `coord propose ship --timeout 20s --value '{"version":2}'`,
            `coord propose veto --voters a,b --quorum all`,
            `coord propose late --voters a,b --timeout 300ms`,
            `coord propose open --voters a,b`,
            flag('opened'),
            `coord decision ship --wait 20s; coord decision veto --wait 20s; coord decision late --wait 20s`,
            `coord decision open --wait 200ms; echo "open exit $?"`,
            flag('done'),
          ].join(' && '),
        },
        {
          id: 'a',
          command: [
            flag('a-up'),
            waitFor('opened'),
            'coord vote ship yes --reason "tests pass"',
            'coord vote ship no; echo "double $?"',
            'coord vote veto yes',
            'coord vote ship yes --as zed; echo "non-voter $?"',
            'coord vote nothing yes; echo "unknown $?"',
            flag('a-voted'),
          ].join('; '),
        },
        // b votes after a: the tally is deterministic in the order votes arrive
        { id: 'b', command: [flag('b-up'), waitFor('a-voted'), 'coord vote ship yes', 'coord vote veto no', waitFor('done')].join('; ') },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    expect(out('lead')).toMatch(/^proposal ship opened: 2 of 3 yes needed \(lead, a, b\), timeout 20\.0s\n/);
    expect(out('lead')).toContain('accepted\nrejected\nrejected\npending\nopen exit 75\n');
    expect(out('a')).toContain('double 1\n');
    expect(out('a')).toContain('non-voter 1\n');
    expect(out('a')).toContain('unknown 2\n');
    expect(err('a')).toContain('"a" already voted yes on "ship"; a vote cannot be changed');
    expect(err('a')).toContain('"zed" is not a voter on "ship" (voters: lead, a, b)');

    const decided = Object.fromEntries(
      rig
        .events()
        .filter((e) => e.type === 'proposal-decided')
        .map((e) => [String(e.proposal), e]),
    );
    expect(decided['ship']).toMatchObject({
      decision: 'accepted',
      reason: 'quorum',
      yes: 2,
      no: 0,
      needed: 2,
      votes: [
        { voter: 'a', vote: 'yes', reason: 'tests pass' },
        { voter: 'b', vote: 'yes' },
      ],
    });
    expect(decided['veto']).toMatchObject({ decision: 'rejected', reason: 'impossible', yes: 1, no: 1, needed: 2 });
    expect(decided['late']).toMatchObject({ decision: 'rejected', reason: 'timeout', yes: 0, no: 0 });
    expect(decided['open']).toMatchObject({ decision: 'rejected', reason: 'run-ended' });
    expect(
      rig
        .events()
        .filter((e) => e.type === 'vote-cast' && e.proposal === 'ship')
        .map((e) => `${String(e.voter)} ${String(e.vote)}`),
    ).toEqual(['a yes', 'b yes']);

    // after the run: read from the run directory
    expect((await rig.coord(['decision', 'ship'])).stdout).toBe('accepted\n');
    const json = JSON.parse((await rig.coord(['decision', 'ship', '--json'])).stdout) as { value: unknown; voters: string[]; proposer: string };
    expect(json).toMatchObject({ value: { version: 2 }, voters: ['lead', 'a', 'b'], proposer: 'lead' });
    const missing = await rig.coord(['decision', 'nothing']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no proposal "nothing"');
  });

  it('a convergence point is published when approved and fails (dependents skipped) when rejected', async () => {
    rig.writePlan({
      agent_coordination: {
        convergence_points: [
          // w1 votes before it ends (counted when the merge is ready); reviewer checks the outputs and votes
          { name: 'good', type: 'barrier', streams: ['w1', 'w2'], approve: { quorum: 'all', voters: ['w1', 'reviewer'], timeout: '20s' } },
          { name: 'bad', type: 'barrier', streams: ['v1'], approve: { voters: ['alice', 'bob'], timeout: '20s' } },
        ],
      },
      streams: [
        { id: 'w1', command: 'echo one > one.txt && coord vote good yes' },
        { id: 'w2', command: 'echo two > two.txt' },
        { id: 'reviewer', depends_on: ['w1', 'w2'], command: 'grep -q one "$COORD_INPUTS/w1/one.txt" && coord vote good yes --reason checked' },
        { id: 'after-good', depends_on: ['good'], command: 'cat "$COORD_INPUTS/good/one.txt" "$COORD_INPUTS/good/two.txt"' },
        { id: 'v1', command: 'echo bad > bad.txt' },
        { id: 'after-bad', depends_on: ['bad'], command: 'echo never' },
      ],
    });
    const run = rig.spawn(['run', 'plan.yaml']);
    const opened = await rig.waitForEvent((e) => e.type === 'proposal-opened' && e.proposal === 'bad');
    const review = (opened.value as { review: string }).review;
    expect(readFileSync(join(review, 'bad.txt'), 'utf8')).toBe('bad\n');
    expect(existsSync(join(rig.runDir(), 'converged', 'bad'))).toBe(false);
    const pending = await rig.coord(['decision', 'bad']);
    expect(pending.stdout).toBe('pending\n');
    // majority of alice and bob: one no puts the quorum out of reach
    const vote = await rig.coord(['vote', 'bad', 'no', '--as', 'alice', '--reason', 'wrong file']);
    expect(vote.stdout).toBe('alice voted no on bad: 0 yes, 1 no, 2 of 2 needed -> rejected\n');
    const r = await run.done;
    expect(r.code).toBe(1);

    const converged = join(rig.runDir(), 'converged');
    expect(readFileSync(join(converged, 'good', 'one.txt'), 'utf8')).toBe('one\n');
    expect(out('after-good')).toBe('one\ntwo\n');
    expect(existsSync(join(converged, 'bad'))).toBe(false);
    expect(existsSync(join(review, 'bad.txt'))).toBe(true); // kept for inspection
    const events = rig.events();
    expect(events.find((e) => e.type === 'proposal-decided' && e.proposal === 'good')).toMatchObject({
      decision: 'accepted',
      votes: [
        { voter: 'w1', vote: 'yes' },
        { voter: 'reviewer', vote: 'yes', reason: 'checked' },
      ],
    });
    expect(events.find((e) => e.type === 'proposal-decided' && e.proposal === 'bad')).toMatchObject({
      decision: 'rejected',
      reason: 'impossible',
      votes: [{ voter: 'alice', vote: 'no', reason: 'wrong file' }],
    });
    expect(events.find((e) => e.type === 'point-failed' && e.point === 'bad')).toMatchObject({ reason: 'rejected' });
    expect(events.find((e) => e.type === 'stream-ended' && e.stream === 'after-bad')).toMatchObject({ state: 'skipped' });
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as {
      convergence: Array<{ name: string; state: string; approval: string }>;
      proposals: Array<{ name: string; state: string }>;
    };
    expect(status.convergence.map((p) => [p.name, p.state, p.approval])).toEqual([
      ['bad', 'failed', 'rejected'],
      ['good', 'done', 'accepted'],
    ]);
    expect(status.proposals.map((p) => [p.name, p.state])).toEqual([
      ['bad', 'rejected'],
      ['good', 'accepted'],
    ]);
  });

  it('gather: vote merges the result a majority of replicas agree on; without a majority the group fails', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'answer', type: 'barrier', streams: ['solve'] }] },
      streams: [
        // replica 2 disagrees, replica 3 fails, replicas 1 and 4 agree: 2 of 4 is no majority
        { id: 'solve', replicas: 4, gather: 'vote', command: 'case $COORD_REPLICA in 2) echo 41 > answer.txt;; 3) exit 1;; *) echo 42 > answer.txt;; esac' },
        { id: 'use', depends_on: ['solve'], command: 'cat "$COORD_INPUTS/solve/answer.txt"' },
        { id: 'split', replicas: 3, gather: 'vote', command: 'echo $COORD_REPLICA > r.txt' },
        { id: 'use-split', depends_on: ['split'], command: 'echo never' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1); // split has no majority
    const events = rig.events();
    const decided = Object.fromEntries(events.filter((e) => e.type === 'proposal-decided').map((e) => [String(e.proposal), e]));
    // 4 replicas, 3 needed: 42 twice, 41 once, one failure — decided as soon as 3 is out of
    // reach, which depends on the order replicas finish in; the decision does not
    expect(decided['solve']).toMatchObject({ kind: 'gather', decision: 'rejected', reason: 'impossible', needed: 3 });
    expect(decided['split']).toMatchObject({ kind: 'gather', decision: 'rejected', reason: 'impossible', needed: 2 });
    for (const d of [decided['solve'], decided['split']]) expect(Number(d?.yes)).toBeLessThan(Number(d?.needed));
    expect(events.find((e) => e.type === 'stream-ended' && e.stream === 'use')).toMatchObject({ state: 'skipped' });
    expect(events.find((e) => e.type === 'point-failed' && e.point === 'answer')).toMatchObject({ reason: 'no-majority' });
  });

  it('gather: vote with a majority: the winner is merged, dependents get it, a failed replica does not fail the run', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'answer', type: 'barrier', streams: ['solve'] }] },
      streams: [
        { id: 'solve', replicas: 3, gather: 'vote', command: 'if [ "$COORD_REPLICA" = 2 ]; then exit 1; fi; echo 42 > answer.txt' },
        { id: 'use', depends_on: ['solve'], command: 'cat "$COORD_INPUTS/solve/answer.txt"' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    expect(readFileSync(join(rig.runDir(), 'converged', 'answer', 'answer.txt'), 'utf8')).toBe('42\n');
    expect(out('use')).toBe('42\n');
    expect((await rig.coord(['decision', 'solve'])).stdout).toBe('accepted\n');
    // replica 2's failure counts as a no only if it came in before the two agreeing results
    expect(rig.events().find((e) => e.type === 'proposal-decided' && e.proposal === 'solve')).toMatchObject({
      decision: 'accepted',
      reason: 'quorum',
      yes: 2,
      needed: 2,
    });
  });
});
