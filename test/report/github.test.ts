/** The GitHub Actions reporter: workflow command escaping, annotations at plan lines, groups, bounded memory, the choice of reporter. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CoordEvent } from '../../src/events/types.js';
import type { PointRecord, StreamRecord } from '../../src/backend/records.js';
import type { RunOutcome } from '../../src/orchestrator/coordinator.js';
import { annotationFile, escapeData, escapeProperty, githubAnnotations, GithubReporter, workflowCommand } from '../../src/report/github.js';
import { StreamLines } from '../../src/report/groups.js';
import { noColors } from '../../src/report/color.js';
import { chooseReporter } from '../../src/report/reporter.js';
import type { ReporterOptions } from '../../src/report/types.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'coord-gh-test-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** A stdout that keeps what was written, as text. */
function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = { write: (c: string | Buffer) => chunks.push(Buffer.from(c)) > 0, isTTY: false } as unknown as NodeJS.WriteStream;
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

const options = (out: NodeJS.WriteStream, extra: Partial<ReporterOptions> = {}): ReporterOptions => ({
  quiet: false,
  json: false,
  env: {},
  stdout: out,
  stderr: out,
  ...extra,
});

const T = '2026-12-02T10:00:00.000Z';
const ev = (e: Record<string, unknown>): CoordEvent => ({ time: T, run: 'r1', attempt: 1, ...e }) as unknown as CoordEvent;
const out = (stream: string, line: string, fd = 'stdout'): CoordEvent => ev({ type: 'stream-output', stream, fd, line });
const ended = (stream: string, state: string, durationMs: number): CoordEvent =>
  ev({ type: 'stream-ended', stream, state, exitCode: state === 'failed' ? 1 : 0, durationMs });

const stream = (id: string, more: Partial<StreamRecord> = {}): StreamRecord =>
  ({ id, state: 'succeeded', attempt: 1, exitCode: 0, signal: null, reason: null, startedAt: T, endedAt: T, ...more }) as StreamRecord;
const point = (name: string, more: Partial<PointRecord> = {}): PointRecord =>
  ({ name, type: 'barrier', state: 'done', streams: [], merged: [], conflicts: [], reason: null, message: null, target: '', ...more }) as PointRecord;
const outcome = (streams: StreamRecord[], points: PointRecord[] = []): RunOutcome => ({
  runId: 'r1',
  runDir: tmp,
  state: 'failed',
  exitCode: 1,
  streams,
  points,
});

describe('workflow commands', () => {
  it('escapes data as the toolkit does: %, CR and LF; properties also : and ,', () => {
    expect(escapeData('100% done\r\nnext: a, b')).toBe('100%25 done%0D%0Anext: a, b');
    expect(escapeProperty('100% done\r\nnext: a, b')).toBe('100%25 done%0D%0Anext%3A a%2C b');
    // % first, so an escape already in the text is not read back as another character
    expect(escapeProperty('%3A')).toBe('%253A');
    expect(workflowCommand('error', { file: 'a,b:c.yaml', line: 7, col: undefined, title: 'coord: x' }, 'one\ntwo')).toBe(
      '::error file=a%2Cb%3Ac.yaml,line=7,title=coord%3A x::one%0Atwo',
    );
    expect(workflowCommand('endgroup', {}, '')).toBe('::endgroup::');
  });

  it('names the plan relative to GITHUB_WORKSPACE when it is inside, else relative to the directory', () => {
    expect(annotationFile('/repo/ci/plan.yaml', { GITHUB_WORKSPACE: '/repo' }, '/repo/ci')).toBe('ci/plan.yaml');
    expect(annotationFile('/other/plan.yaml', { GITHUB_WORKSPACE: '/repo' }, '/other')).toBe('plan.yaml');
    expect(annotationFile('/repo/ci/plan.yaml', {}, '/repo/ci')).toBe('plan.yaml');
    expect(annotationFile('/repo/plan.yaml', {}, '/elsewhere')).toBe('../repo/plan.yaml');
  });

  it("annotates a failed stream at its entry's line and a failed point at its own, escaping what they say", () => {
    const plan = {
      streams: [
        { id: 'ok', pos: { line: 3, col: 5 } },
        { id: 'bad', pos: { line: 9, col: 5 } },
        { id: 'shard-2', pos: { line: 12, col: 5 } },
      ],
      points: [{ name: 'gate', pos: { line: 20, col: 7 } }],
    };
    const text = githubAnnotations(
      outcome(
        [
          stream('ok'),
          stream('bad', { state: 'failed', exitCode: 3, reason: 'exit-non-zero' }),
          stream('shard-2', { state: 'failed', exitCode: null, signal: 'SIGKILL', reason: 'timeout' }),
          // added by coord spawn: no entry in the plan
          stream('spawned', { state: 'failed', exitCode: 1, reason: 'exit-non-zero' }),
        ],
        [point('gate', { state: 'failed', reason: 'merge-error', message: 'disk at 100%\r\nsee: the log, line 2' })],
      ),
      plan,
      'ci/p,1:a.yaml',
    );
    expect(text.split('\n')).toEqual([
      '::error file=ci/p%2C1%3Aa.yaml,line=9,title=coord%3A stream bad::bad failed: exit-non-zero',
      '::error file=ci/p%2C1%3Aa.yaml,line=12,title=coord%3A stream shard-2::shard-2 failed: timeout (signal SIGKILL)',
      '::error file=ci/p%2C1%3Aa.yaml,title=coord%3A stream spawned::spawned failed: exit-non-zero',
      '::error file=ci/p%2C1%3Aa.yaml,line=20,title=coord%3A convergence point gate::merge-error: disk at 100%25%0D%0Asee: the log, line 2',
      '',
    ]);
    expect(githubAnnotations(outcome([stream('ok')]), plan, 'p.yaml')).toBe('');
  });
});

describe('GithubReporter', () => {
  it("prints each stream's lines in one group when it ends, never interleaved, and run events outside", () => {
    const o = sink();
    const r = new GithubReporter(options(o.stream), noColors);
    r.onEvent(ev({ type: 'run-started', plan: 'p', name: 'p', pid: 1, concurrency: 2 }));
    r.onEvent(ev({ type: 'stream-registered', stream: 'a', workspace: '/w/a' }));
    r.onEvent(ev({ type: 'stream-started', stream: 'a', pid: 11, command: 'x', workspace: '/w/a' }));
    r.onEvent(ev({ type: 'stream-started', stream: 'b', pid: 12, command: 'x', workspace: '/w/b' }));
    r.onEvent(out('a', 'a1'));
    r.onEvent(out('b', 'b1', 'stderr'));
    r.onEvent(out('a', 'a2'));
    r.onEvent(ev({ type: 'stream-beat', stream: 'b', progress: 5, message: null }));
    r.onEvent(out('b', 'b2'));
    r.onEvent(ev({ type: 'point-merged', point: 'p1', stream: 'x', files: 1, skipped: 0 }));
    r.onEvent(ended('b', 'failed', 1500));
    r.onEvent(out('a', 'a3'));
    r.onEvent(ended('a', 'succeeded', 2500));
    r.onEvent(ev({ type: 'stream-skipped', stream: 'c', reason: 'dependency-failed', because: 'b failed' }));
    r.onEvent(ended('c', 'skipped', 0));
    const text = o.text();
    const lines = text.split('\n');
    const groupOf = (id: string): string[] => {
      const start = lines.findIndex((l) => l.startsWith(`::group::${id} (`));
      const end = lines.indexOf('::endgroup::', start);
      return lines.slice(start, end + 1);
    };
    expect(groupOf('b')).toEqual(['::group::b (failed, 1.5s)', '10:00:00.000 b started, pid 12', 'b1', 'b2', '10:00:00.000 b failed', '::endgroup::']);
    expect(groupOf('a')).toEqual([
      '::group::a (succeeded, 2.5s)',
      '10:00:00.000 a started, pid 11',
      'a1',
      'a2',
      'a3',
      '10:00:00.000 a succeeded',
      '::endgroup::',
    ]);
    // outside the groups: the run's events, the point's merge before b's group (it came first), the skip
    expect(lines[0]).toBe('10:00:00.000 run r1 started: p (concurrency 2)');
    expect(lines[1]).toBe('10:00:00.000 p1 merged x');
    expect(lines[2]).toBe('::group::b (failed, 1.5s)');
    expect(lines.slice(-3, -1)).toEqual(['10:00:00.000 c skipped: b failed', '10:00:00.000 c skipped']);
    expect(text).not.toContain('registered');
    expect(text).not.toContain('::group::c');
  });

  it('prints the groups of streams still running at the end, then the summary', () => {
    const o = sink();
    const r = new GithubReporter(options(o.stream), noColors);
    r.onEvent(out('slow', 'half way'));
    r.done(outcome([stream('slow', { state: 'cancelled', reason: 'cancelled', startedAt: T, endedAt: '2026-12-02T10:00:03.000Z' })]));
    const text = o.text();
    expect(text.startsWith('::group::slow (cancelled, 3.0s)\nhalf way\n::endgroup::\n\nSTREAM')).toBe(true);
    expect(text).toContain('run r1 failed');
  });

  it('prints a group held partly in a file whole, and removes the file at the end', () => {
    const o = sink();
    const r = new GithubReporter(options(o.stream), noColors, { keepChars: 64, totalChars: 128, tmp });
    const want: string[] = [];
    for (let i = 0; i < 200; i++) {
      r.onEvent(out('chatty', `line ${i}`));
      r.onEvent(out('other', `other ${i}`));
      want.push(`line ${i}`);
    }
    expect(readdirSync(tmp)).toHaveLength(1);
    r.onEvent(ended('chatty', 'succeeded', 10));
    expect(o.text()).toBe(`::group::chatty (succeeded, 10ms)\n${want.join('\n')}\n10:00:00.000 chatty succeeded\n::endgroup::\n`);
    r.done(outcome([stream('chatty'), stream('other')]));
    expect(o.text()).toContain('::group::other (succeeded, 0ms)\nother 0\n');
    expect(o.text()).toContain('other 199\n::endgroup::\n');
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('with --quiet prints only what the plain reporter prints then, outside groups', () => {
    const o = sink();
    const r = new GithubReporter(options(o.stream, { quiet: true }), noColors);
    r.onEvent(ev({ type: 'stream-started', stream: 'a', pid: 11, command: 'x', workspace: '/w/a' }));
    r.onEvent(ended('a', 'succeeded', 10));
    r.onEvent(ended('b', 'failed', 10));
    expect(o.text()).toBe('10:00:00.000 b failed\n');
  });
});

describe('StreamLines', () => {
  it('keeps memory within its limits and gives every line back in order from its file', () => {
    const lines = new StreamLines({ keepChars: 100, totalChars: 250, tmp });
    const want = new Map<string, string[]>();
    let most = 0;
    for (let i = 0; i < 400; i++) {
      const id = `s${i % 4}`;
      const line = `${id} line ${i} ${'x'.repeat(i % 30)}`;
      lines.add(id, line);
      want.set(id, [...(want.get(id) ?? []), line]);
      most = Math.max(most, lines.inMemory());
    }
    // the total, and at most one line over it
    expect(most).toBeLessThanOrEqual(250 + 60);
    expect(readdirSync(tmp)).toHaveLength(1);
    for (const id of ['s2', 's0', 's3', 's1']) {
      const got: Buffer[] = [];
      lines.take(id, (c) => got.push(Buffer.from(c)));
      expect(Buffer.concat(got).toString('utf8')).toBe((want.get(id) ?? []).join('\n') + '\n');
      expect(lines.has(id)).toBe(false);
    }
    expect(lines.inMemory()).toBe(0);
    const dir = join(tmp, readdirSync(tmp)[0] ?? '');
    expect(readdirSync(dir)).toEqual([]);
    lines.close();
    expect(existsSync(dir)).toBe(false);
  });

  it('keeps a multi-byte character whole across the chunks its file is copied in', () => {
    const lines = new StreamLines({ keepChars: 10, tmp });
    const long = '\u00e9\u20ac\u{1F600}'.repeat(40_000);
    lines.add('w', long);
    lines.add('w', 'end');
    const got: Buffer[] = [];
    lines.take('w', (c) => got.push(Buffer.from(c)));
    expect(got.length).toBeGreaterThan(1);
    expect(Buffer.concat(got).toString('utf8')).toBe(`${long}\nend\n`);
    lines.close();
  });

  it('says how many lines it could not keep when their file cannot be written', () => {
    const lines = new StreamLines({ keepChars: 10, tmp: join(tmp, 'missing', 'dir') });
    lines.add('a', 'first line, too long to keep');
    lines.add('a', 'second');
    let text = '';
    lines.take('a', (c) => (text += c.toString()));
    expect(text).toMatch(/^second\ncoord: 1 line\(s\) of a could not be kept for this group \(ENOENT[^)]*\); coord logs a has them\n$/);
  });
});

describe('chooseReporter', () => {
  const tty = { isTTY: true, columns: 80 } as unknown as NodeJS.WriteStream;
  const pipe = { isTTY: false } as unknown as NodeJS.WriteStream;
  const choose = (extra: Partial<ReporterOptions>, stdout = pipe) => chooseReporter({ quiet: false, json: false, env: {}, stdout, stderr: stdout, ...extra });

  it('--json always, then --reporter, then GITHUB_ACTIONS=true, then a terminal', () => {
    expect(choose({ json: true, reporter: 'github', env: { GITHUB_ACTIONS: 'true' } })).toBe('json');
    expect(choose({ reporter: 'plain', env: { GITHUB_ACTIONS: 'true' } })).toBe('plain');
    expect(choose({ reporter: 'tty' })).toBe('tty');
    expect(choose({ reporter: 'github' }, tty)).toBe('github');
    expect(choose({ env: { GITHUB_ACTIONS: 'true', CI: 'true' } })).toBe('github');
    expect(choose({ env: { GITHUB_ACTIONS: 'false' } }, tty)).toBe('tty');
    expect(choose({ env: { CI: 'true' } }, tty)).toBe('plain');
    expect(choose({})).toBe('plain');
  });
});
