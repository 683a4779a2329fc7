/**
 * Verified convergence through the CLI: agents editing copies of a real small project (its own
 * `node --test` suite), a point whose merge is published only once the project's tests pass on
 * it; the stream that broke them found, left out and marked `verify-failed`; two culprits; a
 * pair that breaks the tests only together; a flaky check retried; a check that times out; a
 * progressive point checked at each merge; a check that writes into its tree in place.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, fixture, FIXTURES, git, processAlive } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
  cpSync(join(FIXTURES, 'project'), join(rig.dir, 'repo'), { recursive: true });
});
afterEach(async () => {
  await rig.cleanup();
});

const edit = (...args: string[]): string => fixture('edit.js', ...args);
const converged = (point: string): string => join(rig.runDir(), 'converged', point);
const read = (...p: string[]): string => readFileSync(join(...p), 'utf8');
const TESTS = 'node --test test/';

interface Status {
  streams: Array<{ id: string; state: string; reason?: string | null }>;
  convergence: Array<{
    name: string;
    state: string;
    merged: string[];
    excluded?: string[];
    reason?: string | null;
    message?: string | null;
    checks?: Array<{ check: number; round: number; streams: string[]; outcome: string; tries: number; log: string }>;
  }>;
}
const status = async (): Promise<Status> => JSON.parse((await rig.coord(['status', '--json'])).stdout) as Status;
const stream = (s: Status, id: string) => s.streams.find((x) => x.id === id);

/** Five harmless edits of the project and `extra` streams, all seeded from it. */
function plan(point: Record<string, unknown>, extra: Array<Record<string, unknown>>, more: Array<Record<string, unknown>> = []): void {
  const streams = [
    { id: 'add', command: edit('replace', 'lib/add.js', 'The sum of two numbers.', 'The sum of two numbers, a + b.') },
    { id: 'sub', command: edit('replace', 'lib/sub.js', 'The difference', 'The signed difference') },
    { id: 'fmt', command: edit('replace', 'lib/fmt.js', 'A number with two decimals.', 'A number, two decimals.') },
    { id: 'notes', command: 'echo "notes" > NOTES.md' },
    ...extra,
  ];
  rig.writePlan({
    stream_configuration: { base: './repo' },
    agent_coordination: { convergence_points: [{ name: 'review', type: 'barrier', streams: streams.map((s) => s.id), ...point }] },
    streams: [...streams, ...more],
  });
}

const MUL_BROKEN = { id: 'mul', command: edit('replace', 'lib/mul.js', 'return a * b;', 'return a + b;') };
const DIV_BROKEN = { id: 'div', command: edit('replace', 'lib/div.js', 'return a / b;', 'return a * b;') };

describe('verify: a merge is published only when the project tests pass on it', () => {
  it('six agents, one breaks a test: it is found and left out, the rest is published and passes, its dependents run on it', async () => {
    plan(
      { verify: TESTS, on_verify_failure: 'exclude' },
      [MUL_BROKEN, { id: 'div', command: edit('replace', 'lib/div.js', "'division by zero'", "'cannot divide by zero'") }],
      [{ id: 'after', depends_on: ['review'], command: `cd "$COORD_INPUTS/review" && ${TESTS}` }],
    );
    const r = await rig.coord(['run', 'plan.yaml', '--report', 'junit.xml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 1 });
    const s = await status();
    expect(stream(s, 'mul')).toMatchObject({ state: 'failed', reason: 'verify-failed' });
    for (const id of ['add', 'sub', 'fmt', 'notes', 'div', 'after']) expect({ id, state: stream(s, id)?.state }).toEqual({ id, state: 'succeeded' });
    const point = s.convergence.find((p) => p.name === 'review');
    expect(point).toMatchObject({ state: 'done', excluded: ['mul'] });
    expect([...(point?.merged ?? [])].sort()).toEqual(['add', 'div', 'fmt', 'notes', 'sub']);
    // the published tree: every edit but the culprit's, and the project's tests pass on it
    const out = converged('review');
    expect(read(out, 'lib/add.js')).toContain('a + b.');
    expect(read(out, 'lib/div.js')).toContain('cannot divide by zero');
    expect(read(out, 'NOTES.md')).toBe('notes\n');
    expect(read(out, 'lib/mul.js')).toContain('return a * b;');
    // the first check, of all six, failed; the search found mul in at most 1 + ⌈log₂ 6⌉ more rounds
    const checks = point?.checks ?? [];
    expect(checks[0]).toMatchObject({ check: 1, round: 0, outcome: 'failed' });
    expect(checks[0]?.streams).toHaveLength(6);
    expect(checks.at(-1)?.outcome).toBe('passed');
    expect(checks.length).toBeLessThanOrEqual(8);
    // who was left out and why, in one line
    expect(r.stdout).toMatch(/review: mul left out: it breaks the check \(found in \d+ checks?, \d+ rounds?[;)]/);
    // the check's output
    const logs = await rig.coord(['logs', 'review:verify']);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/── check 1: .*mul/);
    expect(logs.stdout).toMatch(/not ok .* mul/);
    // a testcase per check in the JUnit report
    const junit = read(rig.dir, 'junit.xml');
    expect(junit).toContain('classname="coord.verify.review" name="check 1: ');
    expect(junit.match(/classname="coord\.verify\.review"/g)).toHaveLength(checks.length);
    const events = rig.events();
    expect(events.filter((e) => e.type === 'point-verified')).toHaveLength(checks.length);
    expect(events.find((e) => e.type === 'point-excluded')).toMatchObject({ point: 'review', excluded: ['mul'] });
  });

  it('two culprits are both found and left out', async () => {
    plan({ verify: TESTS, on_verify_failure: 'exclude' }, [MUL_BROKEN, DIV_BROKEN]);
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 1 });
    const s = await status();
    const point = s.convergence.find((p) => p.name === 'review');
    expect([...(point?.excluded ?? [])].sort()).toEqual(['div', 'mul']);
    expect(point?.state).toBe('done');
    for (const id of ['mul', 'div']) expect(stream(s, id)).toMatchObject({ state: 'failed', reason: 'verify-failed' });
    expect(read(converged('review'), 'lib/mul.js')).toContain('return a * b;');
    expect(read(converged('review'), 'lib/div.js')).toContain('return a / b;');
    expect(read(converged('review'), 'lib/add.js')).toContain('a + b.');
  });

  it('a pair that breaks the tests only together: the later of the two is left out, the earlier merged', async () => {
    const repo = join(rig.dir, 'repo');
    writeFileSync(join(repo, 'lib', 'budget.js'), 'export const MAX = 10;\n');
    writeFileSync(join(repo, 'lib', 'factor.js'), 'export const FACTOR = 3;\n');
    writeFileSync(
      join(repo, 'test', 'budget.test.js'),
      "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\nimport { MAX } from '../lib/budget.js';\nimport { FACTOR } from '../lib/factor.js';\n\ntest('within budget', () => assert.ok(MAX * FACTOR <= 50));\n",
    );
    plan({ verify: TESTS, on_verify_failure: 'exclude' }, [
      { id: 'more', command: edit('replace', 'lib/budget.js', '10', '15') },
      { id: 'faster', command: edit('replace', 'lib/factor.js', '3', '4') },
    ]);
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 1 });
    const point = (await status()).convergence.find((p) => p.name === 'review');
    expect(point?.state).toBe('done');
    expect(point?.excluded).toHaveLength(1);
    const [out] = point?.excluded ?? [];
    expect(['more', 'faster']).toContain(out);
    const kept = out === 'more' ? 'faster' : 'more';
    expect(point?.merged).toContain(kept);
    // the merge order decides which one is left out: the one merged after the other
    const order = (point?.checks?.[0]?.streams ?? []).filter((id) => id === 'more' || id === 'faster');
    expect(order[1]).toBe(out);
  });

  it('a flaky check that passes on its retry leaves nobody out', async () => {
    const count = join(rig.dir, 'tries');
    plan(
      {
        verify: `n=$(cat ${count} 2>/dev/null || echo 0); echo $((n + 1)) > ${count}; [ "$n" -ge 1 ] && ${TESTS}`,
        verify_retries: 1,
        on_verify_failure: 'exclude',
      },
      [],
    );
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 0 });
    const point = (await status()).convergence.find((p) => p.name === 'review');
    expect(point).toMatchObject({ state: 'done' });
    expect(point?.excluded ?? []).toEqual([]);
    expect(point?.checks).toHaveLength(1);
    expect(point?.checks?.[0]).toMatchObject({ outcome: 'passed', tries: 2 });
    expect(read(count)).toBe('2\n');
  });

  it('a base that fails the check on its own: no stream is blamed, the point fails', async () => {
    const repo = join(rig.dir, 'repo');
    writeFileSync(
      join(repo, 'test', 'broken.test.js'),
      "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\n\ntest('broken before any stream', () => assert.equal(1, 2));\n",
    );
    plan({ verify: TESTS, on_verify_failure: 'exclude' }, []);
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 1 });
    const s = await status();
    const point = s.convergence.find((p) => p.name === 'review');
    expect(point).toMatchObject({ state: 'failed', reason: 'verify-failed', excluded: [] });
    expect(point?.message).toMatch(/fails on the base alone/);
    expect(point?.checks?.at(-1)?.streams).toEqual([]);
    for (const id of ['add', 'sub', 'fmt', 'notes']) expect(stream(s, id)?.state).toBe('succeeded');
  });

  it('on_verify_failure: fail (the default): the point fails with verify-failed, publishes nothing, its dependents are skipped', async () => {
    plan({ verify: TESTS }, [MUL_BROKEN], [{ id: 'after', depends_on: ['review'], command: 'true' }]);
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 1 });
    const s = await status();
    const point = s.convergence.find((p) => p.name === 'review');
    expect(point).toMatchObject({ state: 'failed', reason: 'verify-failed' });
    expect(point?.message).toMatch(/check `node --test test\/` failed \(exit 1\) on the merge of/);
    expect(existsSync(converged('review'))).toBe(false);
    expect(stream(s, 'mul')?.state).toBe('succeeded');
    expect(stream(s, 'after')?.state).toBe('skipped');
  });

  it('a check past verify_timeout is stopped, its process group ended, and fails the point', async () => {
    const pidFile = join(rig.dir, 'check.pid');
    plan({ verify: `echo $$ > ${pidFile}; exec sleep 60`, verify_timeout: '1s' }, []);
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 1 });
    const point = (await status()).convergence.find((p) => p.name === 'review');
    expect(point).toMatchObject({ state: 'failed', reason: 'verify-failed' });
    expect(point?.message).toMatch(/timed out/);
    expect(point?.checks?.[0]?.outcome).toBe('timed-out');
    expect(processAlive(Number(read(pidFile).trim()))).toBe(false);
  });

  it('a progressive point checks each merge: the culprit is left out when its merge fails, the others are published', async () => {
    plan({ type: 'progressive', verify: TESTS, on_verify_failure: 'exclude' }, [MUL_BROKEN]);
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 1 });
    const s = await status();
    const point = s.convergence.find((p) => p.name === 'review');
    expect(point).toMatchObject({ state: 'done', excluded: ['mul'] });
    expect([...(point?.merged ?? [])].sort()).toEqual(['add', 'fmt', 'notes', 'sub']);
    expect(stream(s, 'mul')).toMatchObject({ state: 'failed', reason: 'verify-failed' });
    // one check per merge step: five streams, five checks
    expect(point?.checks).toHaveLength(5);
    expect(read(converged('review'), 'lib/mul.js')).toContain('return a * b;');
  });

  it('a check sees COORD_POINT and COORD_MERGED, and what it writes in its tree, in place or new, never reaches the published merge', async () => {
    const seen = join(rig.dir, 'seen');
    plan({ verify: `echo "$COORD_POINT $COORD_MERGED $PWD" > ${seen} && echo '// tampered' >> lib/index.js && echo junk > junk.txt && ${TESTS}` }, []);
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 0 });
    const [point, merged, pwd] = read(seen).trim().split(' ');
    expect(point).toBe('review');
    expect(merged).toBe(pwd);
    expect(merged).not.toBe(converged('review'));
    expect(read(converged('review'), 'lib/index.js')).not.toContain('tampered');
    expect(read(join(rig.dir, 'repo'), 'lib/index.js')).not.toContain('tampered');
    expect(existsSync(join(converged('review'), 'junk.txt'))).toBe(false);
    expect(rig.events().some((e) => e.type === 'warning' && /wrote into 1 base file in place \(lib\/index\.js\)/.test(String(e.message)))).toBe(true);
  });

  it("a worktree point checks the merge commit's tree: the culprit's branch is left out of the merge branch", async () => {
    const repo = join(rig.dir, 'repo');
    git(repo, 'init', '--quiet', '-b', 'main');
    git(repo, 'add', '-A');
    git(repo, 'commit', '--quiet', '-m', 'init');
    rig.writePlan({
      stream_configuration: { base: './repo', coordination: { isolation: { workspace: 'worktree' } } },
      agent_coordination: {
        convergence_points: [{ name: 'review', type: 'barrier', streams: ['add', 'sub', 'mul'], verify: TESTS, on_verify_failure: 'exclude' }],
      },
      streams: [
        { id: 'add', command: edit('replace', 'lib/add.js', 'The sum of two numbers.', 'The sum of two numbers, a + b.') },
        { id: 'sub', command: edit('replace', 'lib/sub.js', 'The difference', 'The signed difference') },
        MUL_BROKEN,
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000), err: r.stderr.slice(-2000) }).toMatchObject({ code: 1 });
    const s = await status();
    expect(s.convergence.find((p) => p.name === 'review')).toMatchObject({ state: 'done', excluded: ['mul'] });
    expect(stream(s, 'mul')).toMatchObject({ state: 'failed', reason: 'verify-failed' });
    const id = rig.runIds()[0] ?? '';
    // the point's branch merges the two others, not the culprit's
    expect(git(repo, 'show', `coord/${id}/review:lib/add.js`)).toContain('a + b.');
    expect(git(repo, 'show', `coord/${id}/review:lib/sub.js`)).toContain('The signed difference');
    expect(git(repo, 'show', `coord/${id}/review:lib/mul.js`)).toContain('return a * b;');
    expect(read(converged('review'), 'lib/mul.js')).toContain('return a * b;');
    expect(git(repo, 'log', '--format=%s', `coord/${id}/review`)).not.toMatch(/coord\/[^/]+\/mul/);
  });

  it('verify options without verify are plan errors with their place', async () => {
    plan({ verify_retries: 2 }, []);
    const r = await rig.coord(['validate', 'plan.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/plan\.yaml:\d+:\d+: .*verify_retries needs a verify command on the same point/);
  });
});

describe('resolve: a resolver command on a merge that conflicts', () => {
  /** Two streams change the first line of lib/fmt.js each their own way: a three-way conflict. */
  function conflicting(point: Record<string, unknown>): void {
    rig.writePlan({
      stream_configuration: { base: './repo' },
      agent_coordination: { convergence_points: [{ name: 'review', type: 'barrier', streams: ['comma', 'digit', 'add'], on_conflict: 'three-way', ...point }] },
      streams: [
        { id: 'comma', command: edit('replace', 'lib/fmt.js', 'A number with two decimals.', 'A number, with two decimals.') },
        { id: 'digit', command: edit('replace', 'lib/fmt.js', 'A number with two decimals.', 'A number with 2 decimals.') },
        { id: 'add', command: edit('replace', 'lib/add.js', 'The sum of two numbers.', 'The sum of two numbers, a + b.') },
      ],
    });
  }

  it('resolves a three-way conflict; its result is the merge, which then passes the check and is published', async () => {
    conflicting({ resolve: `node ${join(FIXTURES, 'resolve-last.js')}`, verify: TESTS });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 0 });
    const point = (await status()).convergence.find((p) => p.name === 'review') as Status['convergence'][number] & { conflicts: string[] };
    expect(point).toMatchObject({ state: 'done', conflicts: [] });
    const fmt = read(converged('review'), 'lib/fmt.js');
    expect(fmt).not.toMatch(/<<<<<<<|=======|>>>>>>>/);
    // the later stream's side of the hunk, as the stand-in resolver keeps it
    expect(['/** A number, with two decimals. */', '/** A number with 2 decimals. */']).toContain(fmt.split('\n')[0]);
    expect(fmt).toContain('return n.toFixed(2);');
    expect(read(converged('review'), 'lib/add.js')).toContain('a + b.');
    // the check ran on the resolved merge
    expect(point.checks?.[0]).toMatchObject({ outcome: 'passed' });
    const events = rig.events();
    expect(events.find((e) => e.type === 'point-resolving')).toMatchObject({ point: 'review', paths: ['lib/fmt.js'] });
    expect(events.find((e) => e.type === 'point-resolved')).toMatchObject({ outcome: 'resolved', unresolved: [] });
    const logs = await rig.coord(['logs', 'review:resolve']);
    expect(logs.stdout).toMatch(/resolved lib\/fmt\.js \(content; base file; (comma|digit): has file, (comma|digit): has file\)/);
  });

  it('a resolver that leaves markers fails the point on its conflicts, their material kept for coord continue', async () => {
    conflicting({ resolve: 'true' });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 1 });
    const point = (await status()).convergence.find((p) => p.name === 'review') as Status['convergence'][number] & { conflicts: string[] };
    expect(point).toMatchObject({ state: 'failed', reason: 'conflict', conflicts: ['lib/fmt.js'] });
    expect(point.message).toMatch(/the resolver left conflict markers in lib\/fmt\.js/);
    expect(point.message).toMatch(/coord continue/);
    expect(read(rig.runDir(), 'conflicts', 'review', 'lib', 'fmt.js')).toMatch(/<<<<<<< /);
    expect(existsSync(converged('review'))).toBe(false);
  });

  it('resolve on a progressive point is a plan error with its place', async () => {
    conflicting({ type: 'progressive', resolve: 'true' });
    const r = await rig.coord(['validate', 'plan.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/plan\.yaml:\d+:\d+: .*resolve: point "review" is progressive/);
  });
});

describe('feedback: the stream that broke it runs again, told what broke', () => {
  it('a culprit fixes its change in attempt 2 from the feedback file; then the point merges, checks and publishes everything', async () => {
    const mul = {
      id: 'mul',
      command: `if [ -n "$COORD_FEEDBACK" ]; then grep -q 'return a + b;' lib/mul.js || exit 3; grep -q 'node --test test/' "$COORD_FEEDBACK" && grep -q 'not ok' "$COORD_FEEDBACK" && ${edit('replace', 'lib/mul.js', 'return a + b;', 'return a * b; // fixed')}; else ${edit('replace', 'lib/mul.js', 'return a * b;', 'return a + b;')}; fi`,
    };
    plan({ verify: TESTS, on_verify_failure: 'exclude', feedback: 2 }, [mul]);
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 0 });
    const s = await status();
    expect(stream(s, 'mul')).toMatchObject({ state: 'succeeded' });
    expect((s.streams.find((x) => x.id === 'mul') as { attempt?: number } | undefined)?.attempt).toBe(2);
    const point = s.convergence.find((p) => p.name === 'review');
    expect(point).toMatchObject({ state: 'done', excluded: [] });
    expect([...(point?.merged ?? [])].sort()).toEqual(['add', 'fmt', 'mul', 'notes', 'sub']);
    expect(read(converged('review'), 'lib/mul.js')).toContain('return a * b; // fixed');
    const fb = rig.events().find((e) => e.type === 'stream-feedback');
    expect(fb).toMatchObject({ stream: 'mul', attempt: 2, point: 'review', because: 'verify' });
    const text = read(String(fb?.file));
    expect(text).toMatch(/^# What broke: the check of convergence point review/);
    expect(text).toContain('not ok 3 - mul');
    // the last check passed, on the merge with mul's fixed change
    expect(point?.checks?.at(-1)).toMatchObject({ outcome: 'passed' });
    expect(point?.checks?.at(-1)?.streams).toContain('mul');
  });

  it('a culprit still breaking it once its feedback is used up is left out', async () => {
    // the same edit again in attempt 2 (sed, which leaves an edited file as it is)
    plan({ verify: TESTS, on_verify_failure: 'exclude', feedback: 1 }, [{ id: 'mul', command: "sed -i 's/return a \\* b;/return a + b;/' lib/mul.js" }]);
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 1 });
    const s = await status();
    expect(stream(s, 'mul')).toMatchObject({ state: 'failed', reason: 'verify-failed' });
    expect((s.streams.find((x) => x.id === 'mul') as { attempt?: number } | undefined)?.attempt).toBe(2);
    expect(s.convergence.find((p) => p.name === 'review')).toMatchObject({ state: 'done', excluded: ['mul'] });
    expect(rig.events().filter((e) => e.type === 'stream-feedback')).toHaveLength(1);
  });

  it('a stream party to a conflict is told the paths and where base and both sides are, and its attempt 2 merges cleanly', async () => {
    // each takes the base version back when it gets feedback (the later of the two does)
    const undo = `cp "$(sed -n 's/^  - base: //p' "$COORD_FEEDBACK")" lib/fmt.js`;
    rig.writePlan({
      stream_configuration: { base: './repo' },
      agent_coordination: { convergence_points: [{ name: 'review', type: 'barrier', streams: ['comma', 'digit', 'add'], feedback: 1 }] },
      streams: [
        {
          id: 'comma',
          command: `if [ -n "$COORD_FEEDBACK" ]; then ${undo}; else ${edit('replace', 'lib/fmt.js', 'A number with two decimals.', 'A number, with two decimals.')}; fi`,
        },
        {
          id: 'digit',
          command: `if [ -n "$COORD_FEEDBACK" ]; then ${undo}; else ${edit('replace', 'lib/fmt.js', 'A number with two decimals.', 'A number with 2 decimals.')}; fi`,
        },
        { id: 'add', command: edit('replace', 'lib/add.js', 'The sum of two numbers.', 'The sum of two numbers, a + b.') },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-3000) }).toMatchObject({ code: 0 });
    const fb = rig.events().filter((e) => e.type === 'stream-feedback');
    expect(fb).toHaveLength(1);
    expect(fb[0]).toMatchObject({ because: 'conflict', point: 'review', attempt: 2 });
    const later = String(fb[0]?.stream);
    const earlier = later === 'comma' ? 'digit' : 'comma';
    const text = read(String(fb[0]?.file));
    expect(text).toContain(`\`lib/fmt.js\`: changed by you and by ${earlier}`);
    expect(text).toMatch(/ {2}- base: \/\S+\/\.coord-conflict\/base\/lib\/fmt\.js/);
    const point = (await status()).convergence.find((p) => p.name === 'review') as Status['convergence'][number] & { conflicts: string[] };
    expect(point).toMatchObject({ state: 'done', conflicts: [] });
    expect(read(converged('review'), 'lib/fmt.js').split('\n')[0]).toBe(
      earlier === 'comma' ? '/** A number, with two decimals. */' : '/** A number with 2 decimals. */',
    );
  });

  it('feedback with on_verify_failure: fail is a plan error with its place', async () => {
    plan({ verify: TESTS, feedback: 1 }, []);
    const r = await rig.coord(['validate', 'plan.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/plan\.yaml:\d+:\d+: .*feedback goes to the streams the check finds to break it: it needs on_verify_failure: exclude/);
  });
});
