/**
 * The README's quick start and worked example, run as written: their shell blocks line by
 * line, their plan as the file the text saves it to, against the built CLI. Each command
 * exits 0, an output block after a shell block is the end of what its commands printed, and
 * the files the text names are where it says.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { parse } from 'yaml';
import { COORD, FIXTURES, git, ROOT, Rig, shellQuote } from '../rig.js';
import { type Block, blocks, commands, outputPatterns, readDoc, section, unmatchedTail } from './markdown.js';

/** A whole run of a docs example (a project copied, agents, its tests): minutes on a loaded machine. */
const LONG = 180_000;

const README = readDoc('README.md');
/** coord's default workspace root, which both examples use as they are written. */
const DEFAULT_ROOT = '/tmp/streams';

let rig: Rig;
let runIds: string[];
beforeEach(() => {
  rig = new Rig();
  runIds = [];
});
afterEach(async () => {
  await rig.cleanup();
  // the workspaces of a run that failed before its `coord clean`
  for (const id of runIds) rmSync(join(DEFAULT_ROOT, id), { recursive: true, force: true });
});

interface Ran {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `sh -c COMMAND` in `cwd`, in the rig's environment (so its cleanup finds what it leaves). */
function sh(command: string, cwd: string, env: Record<string, string>): Promise<Ran> {
  const child = spawn('sh', ['-c', command], { cwd, env: rig.env(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const out = new StringDecoder('utf8');
  const err = new StringDecoder('utf8');
  child.stdout.on('data', (d: Buffer) => (stdout += out.write(d)));
  child.stderr.on('data', (d: Buffer) => (stderr += err.write(d)));
  return new Promise((resolve) => child.on('close', (code) => resolve({ command, code, stdout: stdout + out.end(), stderr: stderr + err.end() })));
}

/**
 * Runs the shell blocks of a section in order, each line on its own; an untyped block right
 * after a shell block must match the end of what that block's commands printed on stdout.
 */
async function runSection(all: Block[], cwd: string, env: Record<string, string>): Promise<Ran[]> {
  const ran: Ran[] = [];
  for (const [i, block] of all.entries()) {
    if (block.info !== 'sh') continue;
    const mine: Ran[] = [];
    for (const command of commands(block.text)) {
      const r = await sh(command, cwd, env);
      expect({ command, code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ command, code: 0, stderr: '' });
      mine.push(r);
    }
    const shown = all[i + 1];
    if (shown !== undefined && shown.info === '') {
      expect(unmatchedTail(mine.map((r) => r.stdout).join(''), outputPatterns(shown.text))).toEqual([]);
    }
    ran.push(...mine);
  }
  return ran;
}

/** The ids of the runs under `home`. */
function runsIn(home: string): string[] {
  const dir = join(home, 'runs');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/**
 * The project (a copy of fixtures/project, in git as a project would be) with `plan` saved in
 * it as `planFile`, and PATH with `coord` (this coord, as installed) and `claude`: the stand-in
 * agent, run after the shell lines `before`.
 */
function standInProject(planFile: string, plan: string, before = ''): { project: string; env: Record<string, string> } {
  const project = join(rig.dir, 'tally');
  cpSync(join(FIXTURES, 'project'), project, { recursive: true });
  git(project, 'init', '-q');
  git(project, 'add', '.');
  git(project, 'commit', '-q', '-m', 'tally');
  writeFileSync(join(project, planFile), plan);
  const bin = join(rig.dir, 'bin');
  mkdirSync(bin);
  const exec = (to: string): string => `exec ${shellQuote(process.execPath)} ${shellQuote(to)} "$@"\n`;
  writeFileSync(join(bin, 'claude'), `#!/bin/sh\n${before}${exec(join(FIXTURES, 'agent-standin.js'))}`);
  writeFileSync(join(bin, 'coord'), `#!/bin/sh\n${exec(COORD)}`);
  chmodSync(join(bin, 'claude'), 0o755);
  chmodSync(join(bin, 'coord'), 0o755);
  return { project, env: { PATH: `${bin}:${process.env.PATH ?? ''}` } };
}

interface Status {
  run: { id: string; state: string };
  streams: Array<{ id: string; state: string; workspace: string }>;
  convergence: Array<{ name: string; state: string; merged: string[] }>;
}

describe("the README's quick start", () => {
  const text = section(README, 'Quick start');
  const all = blocks(text);

  it('shows npx coord commands, run from the checkout', () => {
    const lines = all.filter((b) => b.info === 'sh').flatMap((b) => commands(b.text));
    expect(lines).toEqual(['npx coord run examples/quickstart.yaml', 'npx coord status']);
  });

  it(
    'runs as written: the barrier merges both drafts, report reads them, the summary is the one shown',
    async () => {
      // in the checkout, where `npx coord` is this coord; the run's home in the test's directory
      const env = { COORD_HOME: rig.home };
      const ran = await runSection(all, ROOT, env);
      const [id, ...others] = runsIn(rig.home);
      expect(others).toEqual([]);
      runIds.push(id!);
      expect(ran[1]!.stdout).toContain(`run ${id}`);
      expect(ran[1]!.stdout).toMatch(/succeeded/);

      // the checks below run coord in the test's directory, whose .coord is that home
      const status = JSON.parse((await rig.coord(['status', '--json', id!])).stdout) as Status;
      expect(status.run.state).toBe('succeeded');
      const workspace = (s: string): string | undefined => status.streams.find((x) => x.id === s)?.workspace;
      // "each in its own directory under /tmp/streams/<run id>/"
      expect([workspace('research'), workspace('planning')]).toEqual([join(DEFAULT_ROOT, id!, 'research'), join(DEFAULT_ROOT, id!, 'planning')]);
      expect(status.convergence).toEqual([
        expect.objectContaining({ name: 'drafts', state: 'done', merged: expect.arrayContaining(['research', 'planning']) }),
      ]);
      // "merges what they wrote … into .coord/runs/<run id>/converged/drafts/"
      const converged = join(rig.home, 'runs', id!, 'converged', 'drafts');
      const analysis = readFileSync(join(converged, 'notes', 'analysis.md'), 'utf8');
      const steps = readFileSync(join(converged, 'plan', 'steps.md'), 'utf8');
      // "report, which reads the merged files at $COORD_INPUTS/drafts/"
      expect(readFileSync(join(rig.home, 'runs', id!, 'streams', 'report', 'stdout'), 'utf8')).toBe(analysis + steps);

      expect((await rig.coord(['clean', id!])).code).toBe(0);
      expect(existsSync(join(DEFAULT_ROOT, id!))).toBe(false);
    },
    LONG,
  );
});

describe("the README's worked example", () => {
  const text = section(README, 'A worked example: three agents on one project');
  const all = blocks(text);
  const yaml = all.filter((b) => b.info === 'yaml');
  const planFile = /as `([^`]+\.yaml)`/.exec(text)?.[1];

  it('saves one plan, which coord run runs; its agents are claude -p', () => {
    expect(yaml).toHaveLength(1);
    expect(planFile).toBeDefined();
    expect(all.filter((b) => b.info === 'sh').flatMap((b) => commands(b.text))[0]).toMatch(new RegExp(`^coord run ${planFile}\\b`));
    const plan = parse(yaml[0]!.text) as { streams: Array<{ id: string; command: string }> };
    expect(plan.streams.filter((s) => s.command.startsWith('claude -p ')).length).toBeGreaterThan(1);
  });

  /** The project with the plan saved in it; the stand-in agent exits `fail.with` instead in the stream `fail.in`. */
  function setUp(fail?: { in: string; with: number }): { project: string; env: Record<string, string> } {
    const failing = fail === undefined ? '' : `[ "$COORD_STREAM_ID" = ${shellQuote(fail.in)} ] && exit ${fail.with}\n`;
    return standInProject(planFile!, yaml[0]!.text, failing);
  }

  it(
    'runs as written with a stand-in agent: merged at the barrier, tested, applied to the project',
    async () => {
      const { project, env } = setUp();
      const ran = await runSection(all, project, env);
      const [id] = runsIn(join(project, '.coord'));
      runIds.push(id!);
      expect(ran.map((r) => r.command)).toEqual(all.filter((b) => b.info === 'sh').flatMap((b) => commands(b.text)));

      const plan = parse(yaml[0]!.text) as { streams: Array<{ id: string; command: string }> };
      const agents = plan.streams.filter((s) => s.command.startsWith('claude -p '));
      // what each stand-in agent wrote, merged and then applied: <id>.md with its prompt
      for (const agent of agents) {
        const prompt = /^claude -p "([^"]*)"/.exec(agent.command)![1];
        const merged = readFileSync(join(project, '.coord', 'runs', id!, 'converged', 'changes', `${agent.id}.md`), 'utf8');
        expect(merged).toContain(`prompt: ${prompt}\n`);
        expect(readFileSync(join(project, `${agent.id}.md`), 'utf8')).toBe(merged);
      }
      // `coord diff docs --stat`: the one file that agent added
      const diff = ran.find((r) => r.command.startsWith('coord diff docs'))!;
      expect(diff.stdout).toMatch(/^ docs\.md \| \d+ \+*\n 1 file changed/);
      // check ran the project's own tests on the merged tree
      expect(readFileSync(join(project, '.coord', 'runs', id!, 'streams', 'check', 'stdout'), 'utf8')).toMatch(/# fail 0/);

      expect((await sh(`coord clean ${id}`, project, env)).code).toBe(0);
      expect(existsSync(join(DEFAULT_ROOT, id!))).toBe(false);
    },
    LONG,
  );

  it(
    'fails as the text says when an agent fails: nothing merged, check skipped, exit 1',
    async () => {
      const { project, env } = setUp({ in: 'tests', with: 3 });
      const run = commands(all.find((b) => b.info === 'sh')!.text)[0]!;
      const r = await sh(run, project, env);
      const [id] = runsIn(join(project, '.coord'));
      runIds.push(id!);
      expect(r.code).toBe(1);
      const status = JSON.parse((await sh(`coord status --json ${id}`, project, env)).stdout) as Status;
      expect(status.run.state).toBe('failed');
      expect(status.streams.find((x) => x.id === 'tests')?.state).toBe('failed');
      expect(status.streams.find((x) => x.id === 'check')?.state).toBe('skipped');
      expect(status.convergence.find((p) => p.name === 'changes')?.state).toBe('failed');
      expect(existsSync(join(project, '.coord', 'runs', id!, 'converged', 'changes'))).toBe(false);
      expect((await sh(`coord clean ${id}`, project, env)).code).toBe(0);
    },
    LONG,
  );
});

describe("the README's verified convergence", () => {
  const text = section(README, "Verified convergence: a merge gated by the project's tests");
  const all = blocks(text);
  const yaml = all.filter((b) => b.info === 'yaml');
  const planFile = /as `([^`]+\.yaml)`/.exec(text)?.[1];

  it('saves one plan whose point has verify: and on_verify_failure: exclude, over claude -p agents', () => {
    expect(yaml).toHaveLength(1);
    const plan = parse(yaml[0]!.text) as {
      agent_coordination: { convergence_points: Array<Record<string, unknown>> };
      streams: Array<{ id: string; command: string }>;
    };
    expect(plan.agent_coordination.convergence_points[0]).toMatchObject({ verify: 'npm test', on_verify_failure: 'exclude' });
    expect(plan.streams.every((s) => s.command.startsWith('claude -p '))).toBe(true);
    expect(all.filter((b) => b.info === 'sh').flatMap((b) => commands(b.text))).toEqual([`coord run ${planFile}`]);
  });

  it(
    'runs as written: the stand-in agent of perf breaks lib/mul.js, the check finds it, the others are published, exit 1',
    async () => {
      // "Say perf got mul wrong"
      const { project, env } = standInProject(planFile!, yaml[0]!.text, `[ "$COORD_STREAM_ID" = perf ] && sed -i 's/a \\* b/a + b/' lib/mul.js\n`);

      const run = commands(all.find((b) => b.info === 'sh')!.text)[0]!;
      const r = await sh(run, project, env);
      const [id] = runsIn(join(project, '.coord'));
      runIds.push(id!);
      // "the run exits 1", and it ends as shown
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 1, stderr: '' });
      const shown = all[all.findIndex((b) => b.info === 'sh') + 1]!;
      expect(unmatchedTail(r.stdout, outputPatterns(shown.text))).toEqual([]);

      const status = JSON.parse((await sh(`coord status --json ${id}`, project, env)).stdout) as Status & {
        streams: Array<{ id: string; state: string; reason: string | null }>;
        convergence: Array<{ name: string; state: string; merged: string[]; excluded: string[] }>;
      };
      expect(status.streams.find((s) => s.id === 'perf')).toMatchObject({ state: 'failed', reason: 'verify-failed' });
      expect(status.convergence[0]).toMatchObject({ name: 'release', state: 'done', excluded: ['perf'] });
      const converged = join(project, '.coord', 'runs', id!, 'converged', 'release');
      for (const agent of ['docs', 'types', 'errors']) expect(existsSync(join(converged, `${agent}.md`))).toBe(true);
      expect(existsSync(join(converged, 'perf.md'))).toBe(false);
      expect(readFileSync(join(converged, 'lib', 'mul.js'), 'utf8')).toContain('a * b');
      // "coord logs release:verify prints every check's output"
      const logs = await sh('coord logs release:verify', project, env);
      expect(logs.code).toBe(0);
      expect(logs.stdout).toMatch(/── check 1: .*perf.*──\n── try 1 of 1: npm test ──/);
      expect(logs.stdout).toContain('not ok 3 - mul');
      expect((await sh(`coord clean ${id}`, project, env)).code).toBe(0);
    },
    LONG,
  );
});
