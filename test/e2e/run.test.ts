/** `coord run` end to end: parallel start, isolation, environment, dependencies, skips. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, fixture } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

describe('coord run', () => {
  it('starts independent streams at once (each waits for the other)', async () => {
    const a = join(rig.dir, 'a.started');
    const b = join(rig.dir, 'b.started');
    rig.writePlan({
      streams: [
        { id: 'a', command: fixture('wait-for-file.js', b, a), env: { CREATE_FIRST: '1' } },
        { id: 'b', command: fixture('wait-for-file.js', a, b), env: { CREATE_FIRST: '1' } },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.stderr).not.toContain('gave up');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\[a\] saw/);
    expect(r.stdout).toMatch(/\[b\] saw/);
  });

  it('runs each stream in its own private workspace and gives it the SPEC §3 environment', async () => {
    rig.writePlan({
      name: 'iso',
      streams: [
        { id: 'writer', command: fixture('write-files.js', 'secret.txt=mine') },
        { id: 'reader', command: `${fixture('list-tree.js')} && ${fixture('print-env.js')} && coord --version` },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const runDir = rig.runDir();
    const runId = rig.runIds()[0] ?? '';
    const out = readFileSync(join(runDir, 'streams', 'reader', 'stdout'), 'utf8');
    expect(out).not.toContain('secret.txt');
    const info = JSON.parse(out.split('\n').find((l) => l.startsWith('{')) ?? '{}') as { env: Record<string, string>; cwd: string; path: string };
    const ws = join(rig.workspaceRoot, runId, 'reader');
    expect(info.cwd).toBe(ws);
    expect(info.env).toMatchObject({
      COORD_RUN_ID: runId,
      COORD_RUN_DIR: runDir,
      COORD_STREAM_ID: 'reader',
      COORD_ATTEMPT: '1',
      COORD_WORKSPACE: ws,
      COORD_HEARTBEAT_FILE: join(runDir, 'streams', 'reader', 'heartbeat'),
      COORD_INPUTS: join(runDir, 'streams', 'reader', 'inputs'),
    });
    expect(info.env.COORD_SHARED).toBeUndefined();
    expect(out).toMatch(/^\d+\.\d+\.\d+$/m); // `coord --version` worked inside the stream
    expect(statSync(ws).mode & 0o777).toBe(0o700);
    expect(statSync(runDir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(rig.workspaceRoot, runId, 'writer', 'secret.txt'), 'utf8')).toBe('mine\n');
    // stdout and stderr are kept per stream
    expect(readFileSync(join(runDir, 'plan.yaml'), 'utf8')).toContain('name: iso');
  });

  it('shares one directory between shared streams and gives hybrid streams $COORD_SHARED', async () => {
    rig.writePlan({
      streams: [
        { id: 'one', isolation: 'shared', command: 'echo one > from-one.txt' },
        { id: 'two', isolation: 'shared', depends_on: ['one'], command: 'cat from-one.txt && echo "$COORD_SHARED"' },
        { id: 'mixed', isolation: 'hybrid', depends_on: ['one'], command: 'cat "$COORD_SHARED/from-one.txt" && pwd' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const shared = join(rig.workspaceRoot, rig.runIds()[0] ?? '', 'shared');
    expect(r.stdout).toContain('[two] one');
    expect(r.stdout).toContain(`[two] ${shared}`);
    expect(r.stdout).toContain('[mixed] one');
    expect(r.stdout).toContain(`[mixed] ${join(rig.workspaceRoot, rig.runIds()[0] ?? '', 'mixed')}`);
    const clean = await rig.coord(['clean', '--all']);
    expect(clean.code).toBe(0);
    expect(rig.runIds()).toEqual([]);
    expect(existsSync(shared)).toBe(false);
  });

  it('runs an array command without a shell', async () => {
    rig.writePlan({ streams: [{ id: 'arr', command: [process.execPath, '-e', 'console.log(process.argv[1])', '$HOME;echo no'] }] });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[arr] $HOME;echo no');
  });

  it('skips streams whose dependency failed and exits 1', async () => {
    rig.writePlan({
      streams: [
        { id: 'bad', command: fixture('exit-with.js', '3') },
        { id: 'after', command: 'true', depends_on: ['bad'] },
        { id: 'later', command: 'true', depends_on: ['after'] },
        { id: 'fine', command: 'true' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as {
      run: { state: string };
      streams: Array<{ id: string; state: string; exitCode: number | null }>;
    };
    expect(status.run.state).toBe('failed');
    const by = Object.fromEntries(status.streams.map((s) => [s.id, s]));
    expect(by.bad).toMatchObject({ state: 'failed', exitCode: 3 });
    expect(by.after?.state).toBe('skipped');
    expect(by.later?.state).toBe('skipped');
    expect(by.fine?.state).toBe('succeeded');
    const skips = rig.events().filter((e) => e.type === 'stream-skipped');
    expect(skips.map((e) => e.stream).sort()).toEqual(['after', 'later']);
    expect(r.stdout).toMatch(/bad\s+failed \(exit-non-zero\)\s+\S+\s+3/);
  });

  it('waits for dependencies and respects --concurrency', async () => {
    const log = join(rig.dir, 'order.log');
    const step = (id: string): string => `echo start-${id} >> ${log}; sleep 0.2; echo end-${id} >> ${log}`;
    rig.writePlan({
      streams: [
        { id: 's1', command: step('s1') },
        { id: 's2', command: step('s2') },
        { id: 's3', command: step('s3'), depends_on: ['s1', 's2'] },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml', '--concurrency', '1']);
    expect(r.code).toBe(0);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    // one at a time: every start is followed by its own end
    for (let i = 0; i < lines.length; i += 2) expect(lines[i + 1]).toBe(lines[i]?.replace('start', 'end'));
    expect(lines.slice(-2)).toEqual(['start-s3', 'end-s3']);
  });

  it('starts each of many streams exactly once under a small concurrency', async () => {
    const streams = Array.from({ length: 60 }, (_, i) => ({ id: `s${i}`, command: ['true'] }));
    rig.writePlan({ streams });
    const r = await rig.coord(['run', 'plan.yaml', '--concurrency', '3']);
    expect(r.code).toBe(0);
    const started = rig
      .events()
      .filter((e) => e.type === 'stream-started')
      .map((e) => String(e.stream));
    expect(started.length).toBe(60);
    expect(new Set(started).size).toBe(60);
  });

  it('retries a failing stream with backoff and records each attempt', async () => {
    const marker = join(rig.dir, 'tried');
    rig.writePlan({
      streams: [{ id: 'flaky', retries: 2, command: `if [ -e ${marker} ]; then echo second; else touch ${marker}; exit 1; fi` }],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const ev = rig.events();
    expect(ev.filter((e) => e.type === 'stream-started').map((e) => e.attempt)).toEqual([1, 2]);
    expect(ev.find((e) => e.type === 'stream-retrying')).toMatchObject({ stream: 'flaky', attempt: 1, delayMs: 1000 });
  });

  it('retries: 1 runs a failing stream exactly twice, then fails it', async () => {
    rig.writePlan({ streams: [{ id: 'broken', retries: 1, command: 'exit 3' }] });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    const ev = rig.events();
    expect(ev.filter((e) => e.type === 'stream-started').map((e) => e.attempt)).toEqual([1, 2]);
    expect(ev.filter((e) => e.type === 'stream-retrying')).toEqual([
      expect.objectContaining({ stream: 'broken', attempt: 1, delayMs: 1000, reason: 'exit-non-zero' }),
    ]);
    expect(ev.find((e) => e.type === 'stream-ended')).toMatchObject({ state: 'failed', reason: 'exit-non-zero', attempt: 2 });
  });

  it('fails a stream past its timeout and stops its process group', async () => {
    rig.writePlan({
      agent_coordination: { recovery: { guardian: { grace: '200ms' } } },
      streams: [{ id: 'slow', timeout: '300ms', command: fixture('hang.js') }],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    expect(rig.events().find((e) => e.type === 'stream-ended')).toMatchObject({ state: 'failed', reason: 'timeout' });
  });

  it('prints the order with --dry-run and runs nothing', async () => {
    rig.writePlan({
      streams: [
        { id: 'a', command: 'true' },
        { id: 'b', command: 'true', depends_on: ['a'] },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1. a');
    expect(r.stdout).toContain('2. b');
    expect(existsSync(rig.home)).toBe(false);
  });

  it('prints NDJSON events on stdout with --json', async () => {
    rig.writePlan({ streams: [{ id: 'one', command: 'echo hi' }] });
    const r = await rig.coord(['run', 'plan.yaml', '--json']);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; line?: string });
    expect(events[0]?.type).toBe('run-started');
    expect(events.at(-1)?.type).toBe('run-ended');
    expect(events.some((e) => e.type === 'stream-output' && e.line === 'hi')).toBe(true);
    expect(r.stderr).toContain('STREAM');
  });

  it('refuses a workspace root that is a symbolic link, before starting anything', async () => {
    const { symlinkSync, mkdirSync } = await import('node:fs');
    mkdirSync(join(rig.dir, 'real'));
    symlinkSync(join(rig.dir, 'real'), join(rig.dir, 'link'));
    rig.writePlan({ agent_coordination: { workspace_root: join(rig.dir, 'link') }, streams: [{ id: 'a', command: 'touch ran' }] });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/symbolic link/);
    expect(rig.runIds()).toEqual([]);
  });
});
