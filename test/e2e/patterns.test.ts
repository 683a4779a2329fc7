/** Convergence patterns: map-reduce (for_each), scatter-gather (replicas), git worktrees, checkpoint resume. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { git, Rig, fixture } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

function makeRepo(dir: string): void {
  mkdirSync(dir);
  git(dir, 'init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'shared.txt'), 'line 1\nline 2\nline 3\n');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'base');
}

describe('patterns', () => {
  it('map-reduce: for_each over a glob makes <id>-<n> streams with COORD_ITEM, reduced after their point', async () => {
    mkdirSync(join(rig.dir, 'inputs'));
    for (const [name, lines] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ] as const)
      writeFileSync(join(rig.dir, 'inputs', `${name}.txt`), 'x\n'.repeat(lines));
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'counts', type: 'barrier', streams: ['count'] }] },
      streams: [
        { id: 'count', for_each: { glob: 'inputs/*.txt' }, command: 'mkdir -p out && wc -l < "$COORD_ITEM" > "out/$(basename "$COORD_ITEM").n"' },
        { id: 'reduce', depends_on: ['counts'], command: `cat "$COORD_INPUTS/counts/out/"*.n | awk '{ s += $1 } END { print s }'` },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const started = rig
      .events()
      .filter((e) => e.type === 'stream-started')
      .map((e) => e.stream);
    expect(started.slice(0, 3).sort()).toEqual(['count-1', 'count-2', 'count-3']);
    expect(readdirSync(join(rig.runDir(), 'converged', 'counts', 'out')).sort()).toEqual(['a.txt.n', 'b.txt.n', 'c.txt.n']);
    expect(r.stdout).toContain('[reduce] 6');
  });

  it('for_each over values; depends_on the entry id waits for every member', async () => {
    rig.writePlan({
      streams: [
        { id: 'shard', for_each: ['red', 'green'], command: 'echo "$COORD_ITEM" > "$COORD_WORKSPACE/item"' },
        { id: 'after', depends_on: ['shard'], command: 'cat "$COORD_INPUTS"/shard-*/item | sort' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[after\] green[\s\S]*\[after\] red/);
  });

  it('scatter-gather first: the first replica to succeed wins, the rest are stopped, the run succeeds', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'answer', type: 'barrier', streams: ['solve'] }] },
      streams: [
        {
          id: 'solve',
          replicas: 3,
          gather: 'first',
          command: `if [ "$COORD_REPLICA" = 2 ]; then echo "from $COORD_REPLICA" > answer.txt; else ${fixture('hang.js')}; fi`,
        },
        { id: 'use', depends_on: ['solve'], command: 'cat "$COORD_INPUTS"/solve-2/answer.txt' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const ended = Object.fromEntries(
      rig
        .events()
        .filter((e) => e.type === 'stream-ended')
        .map((e) => [String(e.stream), e]),
    );
    expect(ended['solve-2']).toMatchObject({ state: 'succeeded' });
    expect(ended['solve-1']).toMatchObject({ state: 'cancelled', reason: 'superseded' });
    expect(ended['solve-3']).toMatchObject({ state: 'cancelled', reason: 'superseded' });
    expect(readFileSync(join(rig.runDir(), 'converged', 'answer', 'answer.txt'), 'utf8')).toBe('from 2\n');
    expect(r.stdout).toContain('[use] from 2');
    expect(rig.leftovers()).toEqual([]);
  });

  it('scatter-gather all: every replica is merged', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'all', streams: ['rep'] }] },
      streams: [{ id: 'rep', replicas: 2, gather: 'all', command: 'echo $COORD_REPLICA > "r$COORD_REPLICA.txt"' }],
    });
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    expect(readdirSync(join(rig.runDir(), 'converged', 'all')).sort()).toEqual(['r1.txt', 'r2.txt']);
  });

  it('git worktrees: each stream on its own branch, merged with git into coord/<run>/<point>', async () => {
    const repo = join(rig.dir, 'repo');
    makeRepo(repo);
    rig.writePlan({
      stream_configuration: { base: './repo', coordination: { isolation: { workspace: 'worktree' } } },
      agent_coordination: { convergence_points: [{ name: 'feature', type: 'barrier', streams: ['top', 'bottom'] }] },
      streams: [
        { id: 'top', command: "sed -i 's/line 1/LINE ONE/' shared.txt && echo new > top.txt" },
        { id: 'bottom', command: "sed -i 's/line 3/LINE THREE/' shared.txt" },
        { id: 'check', depends_on: ['feature'], isolation: 'isolated', command: 'cat "$COORD_INPUTS/feature/shared.txt"' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.stderr).toBe('');
    // the run's own account when it fails
    expect({ code: r.code, stdout: r.stdout }).toMatchObject({ code: 0 });
    const id = rig.runIds()[0] ?? '';
    expect(readFileSync(join(rig.runDir(), 'converged', 'feature', 'shared.txt'), 'utf8')).toBe('LINE ONE\nline 2\nLINE THREE\n');
    expect(existsSync(join(rig.runDir(), 'converged', 'feature', 'top.txt'))).toBe(true);
    expect(r.stdout).toContain('[check] LINE ONE');
    const branches = git(repo, 'branch', '--list', 'coord/*')
      .split('\n')
      .map((b) => b.trim())
      .filter(Boolean);
    expect(branches.sort()).toEqual([`coord/${id}/bottom`, `coord/${id}/feature`, `coord/${id}/top`]);
    expect(git(repo, 'show', `coord/${id}/feature:shared.txt`)).toContain('LINE THREE');
    // worktrees are removed after the run
    expect(git(repo, 'worktree', 'list').trim().split('\n')).toHaveLength(1);
  });

  it('git worktrees: a real conflict is reported per file, naming only the streams that changed it, and fails the point', async () => {
    const repo = join(rig.dir, 'repo');
    makeRepo(repo);
    rig.writePlan({
      stream_configuration: { base: './repo', coordination: { isolation: { workspace: 'worktree' } } },
      agent_coordination: { convergence_points: [{ name: 'clash', type: 'barrier', streams: ['x', 'y', 'z'] }] },
      streams: [
        { id: 'x', command: "sed -i 's/line 2/from x/' shared.txt" },
        { id: 'y', command: "sed -i 's/line 2/from y/' shared.txt" },
        { id: 'z', command: 'echo z > z.txt' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml', '--keep-workspaces']);
    expect(r.code).toBe(1);
    const conflict = rig.events().find((e) => e.type === 'point-conflict') as unknown as { conflicts: Array<{ path: string; streams: string[] }> };
    expect(conflict.conflicts.map((c) => [c.path, [...c.streams].sort()])).toEqual([['shared.txt', ['x', 'y']]]);
    expect(existsSync(join(rig.runDir(), 'converged', 'clash'))).toBe(false);
    expect(git(repo, 'worktree', 'list').trim().split('\n')).toHaveLength(4); // kept
  });

  it('refuses worktree isolation without a git base, before starting anything', async () => {
    mkdirSync(join(rig.dir, 'plain'));
    rig.writePlan({ streams: [{ id: 'w', isolation: 'worktree', base: './plain', command: 'true' }] });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/git repository/);
    expect(rig.runIds()).toEqual([]);
  });

  it('resume_from: checkpoint seeds a restarted stream from its last checkpoint', async () => {
    rig.writePlan({
      agent_coordination: {
        state_management: { checkpoint_interval: '100ms' },
        heartbeat: { timeout: '1s' },
        recovery: { guardian: { grace: '200ms', max_restarts: 1 } },
        convergence_points: [{ name: 'cp', type: 'checkpoint', streams: ['job'] }],
      },
      streams: [
        {
          id: 'job',
          resume_from: 'checkpoint',
          outputs: ['state/**'],
          command: `if [ "$COORD_ATTEMPT" = 1 ]; then mkdir -p state && echo v1 > state/progress && echo x > scratch.tmp && echo saved && ${fixture('hang.js')} > /dev/null; else ls -R; cat state/progress; fi`,
        },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const out = readFileSync(join(rig.runDir(), 'streams', 'job', 'stdout'), 'utf8');
    expect(out).toContain('v1'); // state came back from the checkpoint
    expect(out).not.toContain('scratch.tmp'); // what was not checkpointed is gone
    expect(rig.events().some((e) => e.type === 'warning' && String(e.message).includes('resumes from checkpoint'))).toBe(true);
  });
});

describe('capabilities', () => {
  it('depends_on capability:NAME waits for every stream offering it (for_each members included)', async () => {
    const log = join(rig.dir, 'order.log');
    rig.writePlan({
      streams: [
        { id: 'survey', capabilities: ['research'], for_each: ['a', 'b'], command: `sleep 0.2; echo "survey $COORD_ITEM" >> ${log}` },
        { id: 'docs', capabilities: ['research', 'docs'], command: `echo docs >> ${log}` },
        { id: 'write', capabilities: ['writing'], depends_on: ['capability:research'], command: `echo write >> ${log}` },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines.at(-1)).toBe('write');
    expect(lines.slice(0, -1).sort()).toEqual(['docs', 'survey a', 'survey b']);
    const reg = rig.events().find((e) => e.type === 'stream-registered' && e.stream === 'write') as unknown as { dependsOn: string[] };
    expect(reg.dependsOn.sort()).toEqual(['docs', 'survey-1', 'survey-2']);
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as {
      streams: Array<{ id: string; capabilities: string[]; dependsOn: string[] }>;
    };
    expect(status.streams.find((s) => s.id === 'docs')?.capabilities).toEqual(['research', 'docs']);
    expect(status.streams.find((s) => s.id === 'write')?.dependsOn.sort()).toEqual(['docs', 'survey-1', 'survey-2']);
  });

  it('a capability nobody offers is a plan error with its place; capability cycles are found', async () => {
    rig.writePlan(
      'streams:\n  - id: w\n    command: "true"\n    depends_on: [capability:reserch]\n  - id: r\n    capabilities: [research]\n    command: "true"\n',
    );
    const r = await rig.coord(['validate', 'plan.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/plan\.yaml:4:18: streams\[0\]\.depends_on\[0\]: no other stream offers capability "reserch" \(did you mean "research"\?\)/);
    rig.writePlan({
      streams: [
        { id: 'a', capabilities: ['x'], depends_on: ['capability:y'], command: 'true' },
        { id: 'b', capabilities: ['y'], depends_on: ['capability:x'], command: 'true' },
      ],
    });
    const c = await rig.coord(['validate', 'plan.yaml']);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/dependency cycle: (a -> b -> a|b -> a -> b)/);
  });
});

describe('plan warnings', () => {
  it('warns before a run when outputs of one point may overlap under on_conflict fail', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'p', streams: ['a', 'b'] }] },
      streams: [
        { id: 'a', outputs: ['docs/**'], command: 'true' },
        { id: 'b', outputs: ['docs/api.md', 'src/**'], command: 'true' },
        { id: 'c', outputs: ['src/**'], command: 'true' },
      ],
    });
    const v = await rig.coord(['validate', 'plan.yaml']);
    expect(v.code).toBe(0);
    expect(v.stdout).toBe('ok\n');
    expect(v.stderr).toMatch(/plan\.yaml:\d+:\d+: warning: convergence point "p": outputs of "a" and "b" may overlap \(docs\/\*\* ~ docs\/api\.md\)/);
    expect(v.stderr).not.toContain('"c"');
  });
});
