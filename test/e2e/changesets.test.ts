/**
 * Change-set merges through the CLI, as users meet them: agents editing copies of a real small
 * project (its own test suite, a git repository, a few hundred files), a barrier, a stream that
 * runs the project's tests on the merge; conflicts, their resolution and `coord continue`;
 * `coord diff`, `coord apply`, resumes with a plan that changed.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { git, Rig, fixture, FIXTURES } from '../rig.js';

let rig: Rig;
let repo: string;
beforeEach(() => {
  rig = new Rig();
  repo = makeProject(join(rig.dir, 'repo'));
});
afterEach(async () => {
  await rig.cleanup();
});

/** The fixture project plus 300 pages of docs, committed in a git repository. */
function makeProject(dir: string): string {
  cpSync(join(FIXTURES, 'project'), dir, { recursive: true });
  for (let i = 0; i < 300; i++) {
    mkdirSync(join(dir, 'docs', `part-${i % 10}`), { recursive: true });
    writeFileSync(join(dir, 'docs', `part-${i % 10}`, `page-${i}.md`), `# Page ${i}\n\nAbout page ${i}.\n`);
  }
  writeFileSync(join(dir, 'doc.txt'), 'line one\nline two\nline three\nline four\nline five\n');
  git(dir, 'init', '--quiet', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '--quiet', '-m', 'init');
  git(dir, 'gc', '--quiet'); // packed, as a real repository's objects are
  return dir;
}

const edit = (...args: string[]): string => fixture('edit.js', ...args);
const converged = (point: string): string => join(rig.runDir(), 'converged', point);
const read = (...p: string[]): string => readFileSync(join(...p), 'utf8');

/** Every file under `dir` (relative), `.git` left out. */
function files(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const d of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? d.name : `${rel}/${d.name}`;
    if (d.name === '.git') continue;
    if (d.isDirectory()) out.push(...files(dir, r));
    else out.push(r);
  }
  return out.sort();
}

describe('change sets', () => {
  it("five agents edit lib/ of one project: a barrier merges every edit onto the whole tree and the project's own tests pass on it", async () => {
    rig.writePlan({
      stream_configuration: { base: './repo' },
      agent_coordination: { convergence_points: [{ name: 'review', type: 'barrier', streams: ['add', 'sub', 'mul', 'div', 'fmt'] }] },
      streams: [
        { id: 'add', command: edit('replace', 'lib/add.js', 'The sum of two numbers.', 'The sum of two numbers (edited by add).') },
        { id: 'sub', command: `${edit('replace', 'lib/sub.js', 'The difference', 'The signed difference')} && git status --porcelain && git diff --stat` },
        { id: 'mul', command: `${edit('append', 'lib/mul.js', 'export const square = (a) => a * a;')} && ${edit('delete', 'docs/part-3/page-3.md')}` },
        { id: 'div', command: edit('replace', 'lib/div.js', "'division by zero'", "'cannot divide by zero'") },
        { id: 'fmt', command: `${edit('replace', 'lib/fmt.js', 'toFixed(2)', 'toFixed(2).padStart(1)')} && echo new > NOTES.md` },
        { id: 'check', command: 'cd "$COORD_INPUTS/review" && node --test test/', depends_on: ['review'] },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect({ code: r.code, out: r.stdout.slice(-2000) }).toMatchObject({ code: 0 });
    const out = converged('review');
    expect(read(out, 'lib/add.js')).toContain('(edited by add)');
    expect(read(out, 'lib/sub.js')).toContain('The signed difference');
    expect(read(out, 'lib/mul.js')).toContain('square');
    expect(read(out, 'lib/div.js')).toContain('cannot divide by zero');
    expect(read(out, 'lib/fmt.js')).toContain('padStart');
    expect(read(out, 'NOTES.md')).toBe('new\n');
    expect(existsSync(join(out, 'docs/part-3/page-3.md'))).toBe(false);
    expect(existsSync(join(out, '.git'))).toBe(false);
    // the whole tree: the base less the one deletion, plus the one addition
    expect(files(out)).toEqual([...files(repo).filter((f) => f !== 'docs/part-3/page-3.md'), 'NOTES.md'].sort());
    expect(r.stdout).toMatch(/\[check\].*pass 5/);
    const merged = rig
      .events()
      .filter((e) => e.type === 'point-merged')
      .map((e) => e.stream);
    expect([...merged].sort()).toEqual(['add', 'div', 'fmt', 'mul', 'sub']);
    expect(rig.events().filter((e) => e.type === 'point-conflict')).toEqual([]);
  });

  it("under every policy, a stream that only added a file never reverts another stream's edit", async () => {
    const policies = ['last', 'first', 'fail', 'keep-both', 'three-way'];
    // one point per policy, each over its own pair of streams, in one run
    rig.writePlan({
      stream_configuration: { base: './repo' },
      agent_coordination: { convergence_points: policies.map((p) => ({ name: p, type: 'barrier', streams: [`a-${p}`, `b-${p}`], on_conflict: p })) },
      streams: policies.flatMap((p) => {
        const gate = join(rig.dir, `a-${p}-done`);
        return [
          { id: `a-${p}`, command: `${edit('replace', 'doc.txt', 'line two', 'line TWO by a')} && touch ${gate}` },
          // b finishes later, and touched nothing of the base
          { id: `b-${p}`, command: `${fixture('wait-for-file.js', gate)} && echo b > b.txt` },
        ];
      }),
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    for (const p of policies) {
      expect([p, read(converged(p), 'doc.txt')]).toEqual([p, 'line one\nline TWO by a\nline three\nline four\nline five\n']);
      expect(read(converged(p), 'b.txt')).toBe('b\n');
      expect(readdirSync(converged(p)).filter((n) => /\.(a|b)-/.test(n))).toEqual([]);
    }
  });

  it('a modify/delete conflict names only the two streams, publishes nothing, says what to do, and coord continue publishes the resolution', async () => {
    rig.writePlan({
      stream_configuration: { base: './repo' },
      agent_coordination: { convergence_points: [{ name: 'review', type: 'barrier', streams: ['keep', 'mod', 'del'] }] },
      streams: [
        { id: 'keep', command: edit('replace', 'lib/add.js', 'return a + b;', 'return b + a;') },
        { id: 'mod', command: edit('replace', 'lib/sub.js', 'The difference', 'The modified difference') },
        { id: 'del', command: edit('delete', 'lib/sub.js') },
        { id: 'after', command: 'cat "$COORD_INPUTS/review/lib/sub.js" "$COORD_INPUTS/review/lib/add.js"', depends_on: ['review'] },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    const id = rig.runIds()[0] ?? '';
    const conflict = rig.events().find((e) => e.type === 'point-conflict') as unknown as {
      conflicts: Array<{ path: string; streams: string[] }>;
      material: string;
    };
    expect(conflict.conflicts.map((c) => [c.path, [...c.streams].sort()])).toEqual([['lib/sub.js', ['del', 'mod']]]);
    expect(existsSync(converged('review'))).toBe(false);
    expect(r.stdout).toMatch(/CONFLICT in review: lib\/sub\.js \(changed by (mod and del|del and mod)\)/);
    expect(r.stdout).toContain(`coord continue ${id}`);
    expect(r.stdout).not.toMatch(/lib\/sub\.js \([^)]*keep/);
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as { convergence: Array<{ conflicts: string[] }> };
    expect(status.convergence[0]?.conflicts).toEqual(['lib/sub.js']);
    // the material: the modified version to resolve, the base and each side beside it
    const material = join(rig.runDir(), 'conflicts', 'review');
    expect(conflict.material).toBe(material);
    expect(read(material, 'lib/sub.js')).toContain('The modified difference');
    expect(read(material, '.coord-conflict/base/lib/sub.js')).toContain('The difference of two numbers');
    expect(read(material, '.coord-conflict/streams/mod/lib/sub.js')).toContain('The modified difference');
    expect(existsSync(join(material, '.coord-conflict/streams/del/lib/sub.js'))).toBe(false);

    writeFileSync(join(material, 'lib/sub.js'), '/** Resolved. */\nexport function sub(a, b) {\n  return a - b;\n}\n');
    const c = await rig.coord(['continue']);
    expect({ code: c.code, err: c.stderr }).toMatchObject({ code: 0 });
    expect(read(converged('review'), 'lib/sub.js')).toContain('Resolved.');
    expect(read(converged('review'), 'lib/add.js')).toContain('return b + a;');
    expect(c.stdout).toContain('[after] /** Resolved. */');
    const resumed = rig.events().find((e) => e.type === 'run-resumed');
    expect(resumed).toMatchObject({ resolved: ['review'] });
    // the streams that succeeded were not run again
    expect(rig.events().filter((e) => e.type === 'stream-started' && e.stream === 'mod')).toHaveLength(1);
  });

  it('three-way: a real conflict writes nothing, coord continue refuses while markers remain, then publishes', async () => {
    rig.writePlan({
      stream_configuration: { base: './repo' },
      agent_coordination: { convergence_points: [{ name: 'p', type: 'barrier', streams: ['a', 'b', 'c', 'd'], on_conflict: 'three-way' }] },
      streams: [
        { id: 'a', command: edit('replace', 'doc.txt', 'line two', 'line two by a') },
        { id: 'b', command: edit('replace', 'doc.txt', 'line two', 'line two by b') },
        { id: 'c', command: edit('replace', 'doc.txt', 'line five', 'line five by c') },
        { id: 'd', command: edit('replace', 'lib/add.js', 'a + b', 'b + a') },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    expect(existsSync(converged('p'))).toBe(false);
    const material = join(rig.runDir(), 'conflicts', 'p');
    const marked = read(material, 'doc.txt');
    expect(marked).toMatch(/^<<<<<<< [a-c+]+\n[\s\S]*^=======\n[\s\S]*^>>>>>>> [ab]\n/m);
    expect(marked).toContain('line five by c'); // c's change merged cleanly
    expect(marked).not.toMatch(/^(<<<<<<<|>>>>>>>) .*d/m); // d never touched doc.txt: never named in a label
    const conflict = rig.events().find((e) => e.type === 'point-conflict') as unknown as { conflicts: Array<{ path: string; streams: string[] }> };
    expect(conflict.conflicts.map((x) => [x.path, [...x.streams].sort()])).toEqual([['doc.txt', ['a', 'b', 'c']]]);
    const refused = await rig.coord(['continue']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('doc.txt');
    expect(existsSync(converged('p'))).toBe(false);
    writeFileSync(join(material, 'doc.txt'), 'line one\nline two by a and b\nline three\nline four\nline five by c\n');
    const c = await rig.coord(['continue']);
    expect(c.code).toBe(0);
    expect(read(converged('p'), 'doc.txt')).toBe('line one\nline two by a and b\nline three\nline four\nline five by c\n');
    expect(read(converged('p'), 'lib/add.js')).toContain('b + a');
  });

  it('a barrier that can no longer succeed stops its running streams', async () => {
    rig.writePlan({
      agent_coordination: { recovery: { guardian: { grace: '300ms' } }, convergence_points: [{ name: 'p', type: 'barrier', streams: ['bad', 'long'] }] },
      streams: [
        { id: 'bad', command: 'exit 1' },
        { id: 'long', command: fixture('hang.js') },
        { id: 'other', command: 'true' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    const ended = rig.events().find((e) => e.type === 'stream-ended' && e.stream === 'long');
    expect(ended).toMatchObject({ state: 'cancelled', reason: 'point-failed' });
    expect(rig.events().find((e) => e.type === 'stream-ended' && e.stream === 'other')).toMatchObject({ state: 'succeeded' });
    expect(rig.leftovers()).toEqual([]);
  });

  it("keep_going: a failing shard keeps the others running, every shard's JUnit file is merged, and the report has its stdout", async () => {
    const shard = (n: number, ok: boolean): string =>
      `echo '<testsuite name="shard-${n}" tests="1" failures="${ok ? 0 : 1}"/>' > junit-${n}.xml && ${ok ? 'true' : "echo 'not ok 1 - adds numbers' && exit 1"}`;
    // shard-3 ends only after shard-2's failure was handled: proof that it was not stopped
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'shards', type: 'barrier', streams: ['shard-1', 'shard-2', 'shard-3'], keep_going: true }] },
      streams: [
        { id: 'shard-1', command: shard(1, true) },
        { id: 'shard-2', command: shard(2, false) },
        { id: 'shard-3', command: `${fixture('wait-for-event.js', 'stream-ended', 'shard-2')} && ${shard(3, true)}` },
        { id: 'upload', command: 'true', depends_on: ['shards'] },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml', '--report', 'junit.xml']);
    expect(r.code).toBe(1);
    expect(readdirSync(converged('shards')).sort()).toEqual(['junit-1.xml', 'junit-2.xml', 'junit-3.xml']);
    expect(rig.events().find((e) => e.type === 'point-failed')).toMatchObject({ point: 'shards', reason: 'stream-failed' });
    expect(rig.events().find((e) => e.type === 'stream-ended' && e.stream === 'shard-3')).toMatchObject({ state: 'succeeded' });
    expect(rig.events().find((e) => e.type === 'stream-skipped')).toMatchObject({ stream: 'upload' });
    expect(readFileSync(join(rig.dir, 'junit.xml'), 'utf8')).toContain('not ok 1 - adds numbers');
  });

  it("gather: first gives dependents $COORD_INPUTS/<id>/: the winning replica's workspace", async () => {
    rig.writePlan({
      streams: [
        { id: 'guess', replicas: 2, gather: 'first', command: 'echo "from $COORD_REPLICA" > result.txt' },
        { id: 'use', command: 'cat "$COORD_INPUTS/guess/result.txt"', depends_on: ['guess'] },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[use\] from [12]/);
  });
});

describe('coord diff and coord apply', () => {
  const plan = (): void => {
    rig.writePlan({
      stream_configuration: { base: './repo' },
      agent_coordination: { convergence_points: [{ name: 'review', type: 'barrier', streams: ['a', 'b'] }] },
      streams: [
        { id: 'a', command: `${edit('replace', 'lib/add.js', 'return a + b;', 'return b + a;')} && ${edit('delete', 'docs/part-1/page-1.md')}` },
        { id: 'b', command: `echo hello > NEW.md && chmod +x lib/fmt.js` },
      ],
    });
  };

  it("diff shows a stream's change set as a patch git applies, as --stat and as JSON", async () => {
    plan();
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    const d = await rig.coord(['diff', 'a']);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('diff --git a/lib/add.js b/lib/add.js\n--- a/lib/add.js\n+++ b/lib/add.js\n');
    expect(d.stdout).toContain('-  return a + b;\n+  return b + a;\n');
    expect(d.stdout).toContain('deleted file mode 100644');
    const copy = join(rig.dir, 'copy');
    cpSync(repo, copy, { recursive: true });
    writeFileSync(join(rig.dir, 'a.patch'), d.stdout);
    git(copy, 'apply', join(rig.dir, 'a.patch'));
    expect(read(copy, 'lib/add.js')).toContain('return b + a;');
    expect(existsSync(join(copy, 'docs/part-1/page-1.md'))).toBe(false);

    const s = await rig.coord(['diff', 'a', '--stat']);
    expect(s.stdout).toMatch(/ docs\/part-1\/page-1\.md \| +3 -+\n/);
    expect(s.stdout).toContain(' 2 files changed, 1 insertion(+), 4 deletions(-)');
    const j = JSON.parse((await rig.coord(['diff', 'b', '--json'])).stdout) as { changes: Array<{ path: string; change: string }> };
    expect(j.changes.map((c) => `${c.change} ${c.path}`)).toEqual(['added NEW.md', 'modified lib/fmt.js']);
    expect((await rig.coord(['diff', 'nope'])).code).toBe(2);
  });

  it('apply writes the merged change set onto the checkout, refusing (nothing written) where the checkout changed a path too', async () => {
    plan();
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    const dry = await rig.coord(['apply', 'review', '--dry-run']);
    expect(dry.stdout.split('\n').filter((l) => /^[AMD] /.test(l))).toEqual(['A NEW.md', 'D docs/part-1/page-1.md', 'M lib/add.js', 'M lib/fmt.js']);
    expect(existsSync(join(repo, 'NEW.md'))).toBe(false);

    // the user edited one of the merged paths meanwhile (and an unrelated one, which is fine)
    writeFileSync(join(repo, 'lib/add.js'), 'changed by the user\n');
    writeFileSync(join(repo, 'lib/mul.js'), 'unrelated edit\n');
    const refused = await rig.coord(['apply', 'review']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('lib/add.js');
    expect(existsSync(join(repo, 'NEW.md'))).toBe(false);
    expect(existsSync(join(repo, 'docs/part-1/page-1.md'))).toBe(true);

    git(repo, 'checkout', '--', 'lib/add.js');
    const ok = await rig.coord(['apply', 'review']);
    expect({ code: ok.code, err: ok.stderr }).toMatchObject({ code: 0 });
    expect(read(repo, 'lib/add.js')).toContain('return b + a;');
    expect(read(repo, 'NEW.md')).toBe('hello\n');
    expect(read(repo, 'lib/mul.js')).toBe('unrelated edit\n');
    expect(existsSync(join(repo, 'docs/part-1/page-1.md'))).toBe(false);
    expect(git(repo, 'status', '--porcelain').split('\n').filter(Boolean).sort()).toEqual([
      ' D docs/part-1/page-1.md',
      ' M lib/add.js',
      ' M lib/fmt.js',
      ' M lib/mul.js',
      '?? NEW.md',
    ]);
    // applying again changes nothing: everything is already as merged
    const again = await rig.coord(['apply', 'review']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 added, 0 modified, 0 deleted');
  });
});

describe('--resume', () => {
  it('runs a succeeded stream again when its command changed, and what depends on it, saying why; keeps the rest', async () => {
    const flag = join(rig.dir, 'flag');
    const write = (cmd: string): void => {
      rig.writePlan({
        agent_coordination: { convergence_points: [{ name: 'p', type: 'barrier', streams: ['a', 'b'] }] },
        streams: [
          { id: 'a', command: cmd },
          { id: 'b', command: `${fixture('wait-for-event.js', 'stream-ended', 'a')} && test -e ${flag} && echo b > b.txt` },
          { id: 'c', command: 'cat "$COORD_INPUTS/p/a.txt"', depends_on: ['p'] },
          { id: 'd', command: 'true' },
        ],
      });
    };
    write('echo one > a.txt');
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(1);
    const id = rig.runIds()[0] ?? '';
    write('echo two > a.txt');
    writeFileSync(flag, '');
    const r = await rig.coord(['run', 'plan.yaml', '--resume', id]);
    expect({ code: r.code, out: r.stdout.slice(-1500) }).toMatchObject({ code: 0 });
    expect(r.stdout).toContain('a (its command changed)');
    expect(r.stdout).toContain('[c] two');
    const resumed = rig.events().find((e) => e.type === 'run-resumed') as unknown as { kept: string[]; rerun: Array<{ stream: string; reason: string }> };
    expect(resumed.kept).toEqual(['d']);
    expect(resumed.rerun).toEqual([{ stream: 'a', reason: 'its command changed' }]);
    expect(rig.events().filter((e) => e.type === 'stream-started' && e.stream === 'd')).toHaveLength(1);
  });

  it('a base that changed since the run seeded from it runs its streams again on a new snapshot; a stale merge target never blocks', async () => {
    const flag = join(rig.dir, 'flag');
    rig.writePlan({
      stream_configuration: { base: './repo' },
      agent_coordination: { convergence_points: [{ name: 'p', type: 'barrier', streams: ['a', 'b'] }] },
      streams: [
        { id: 'a', command: edit('append', 'doc.txt', 'by a') },
        // b fails (the first time) once a has succeeded, so that a is kept
        { id: 'b', command: `${fixture('wait-for-event.js', 'stream-ended', 'a')} && test -e ${flag}` },
      ],
    });
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(1);
    const id = rig.runIds()[0] ?? '';
    mkdirSync(join(converged('p'), 'stale'), { recursive: true });
    writeFileSync(join(repo, 'lib/mul.js'), '// the user moved on\n');
    writeFileSync(flag, '');
    const r = await rig.coord(['run', 'plan.yaml', '--resume', id]);
    expect({ code: r.code, out: r.stdout.slice(-1500) }).toMatchObject({ code: 0 });
    expect(r.stdout).toMatch(/a \(its base \S*repo changed since the run seeded from it \(lib\/mul\.js\)\)/);
    expect(read(converged('p'), 'lib/mul.js')).toBe('// the user moved on\n');
    expect(read(converged('p'), 'doc.txt')).toBe('line one\nline two\nline three\nline four\nline five\nby a\n');
    expect(existsSync(join(converged('p'), 'stale'))).toBe(false);
    rmSync(flag);
  });
});
