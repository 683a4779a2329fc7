/**
 * The test rig for the real CLI (after wireit's test-rig): a temp directory per test, plans
 * written from objects, a clean environment, helpers that wait on events rather than time,
 * and a cleanup that kills every process the test left behind (found by a marker variable
 * in their environment, grandchildren included).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { stringify } from 'yaml';

export const ROOT = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
export const COORD = join(ROOT, 'bin', 'coord.js');
export const FIXTURES = join(ROOT, 'fixtures');

/** `node fixtures/<name> args…` as a shell command string for plans. */
export function fixture(name: string, ...args: string[]): string {
  return [process.execPath, join(FIXTURES, name), ...args].map(shellQuote).join(' ');
}

/** git in `cwd` as the tests' own user (`t <t@t>`), to set up and read repositories. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false', ...args], { cwd, encoding: 'utf8' });
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=:@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Spawned {
  child: ChildProcess;
  done: Promise<Result>;
}

/** True while `pid` is a live process (a zombie, dead but not yet reaped, counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

export class Rig {
  readonly dir: string;
  readonly home: string;
  readonly workspaceRoot: string;
  readonly marker = randomBytes(6).toString('hex');
  private readonly children: ChildProcess[] = [];

  constructor() {
    this.dir = realpathSync(mkdtempSync(join(tmpdir(), 'coord-test-')));
    this.home = join(this.dir, '.coord');
    this.workspaceRoot = join(this.dir, 'ws');
  }

  /** The environment every coord process of this test gets (no colour, plain output). */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      CI: 'true',
      NO_COLOR: '1',
      COORD_TEST_RIG: this.marker,
      // each test its own lock registry
      COORD_LOCK_DIR: join(this.dir, 'locks'),
      ...extra,
    };
    if (process.env.NODE_EXTRA_CA_CERTS) env.NODE_EXTRA_CA_CERTS = process.env.NODE_EXTRA_CA_CERTS;
    return env;
  }

  /** Writes a plan (an object, with the rig's workspace root unless it sets one, or YAML text). */
  writePlan(plan: Record<string, unknown> | string, name = 'plan.yaml'): string {
    const file = join(this.dir, name);
    if (typeof plan === 'string') {
      writeFileSync(file, plan);
    } else {
      const ac = (plan.agent_coordination ?? {}) as Record<string, unknown>;
      const withRoot = { ...plan, agent_coordination: { workspace_root: this.workspaceRoot, ...ac } };
      writeFileSync(file, stringify(withRoot));
    }
    return file;
  }

  write(rel: string, content: string): string {
    const file = join(this.dir, rel);
    writeFileSync(file, content);
    return file;
  }

  /** Starts `coord ARGS` in the test directory. */
  spawn(args: string[], opts: { env?: Record<string, string>; ownGroup?: boolean; input?: string | Buffer } = {}): Spawned {
    return this.spawnNode(COORD, args, opts);
  }

  /** Starts `node SCRIPT ARGS` (coord, or a fixture) in the test directory; `input` goes to its stdin. */
  spawnNode(script: string, args: string[], opts: { env?: Record<string, string>; ownGroup?: boolean; input?: string | Buffer } = {}): Spawned {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: this.dir,
      env: this.env(opts.env),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      // ownGroup: coord leads a process group, as in a terminal (where Ctrl-C signals the whole group)
      detached: opts.ownGroup ?? false,
    });
    this.children.push(child);
    if (opts.input !== undefined) {
      child.stdin?.on('error', () => {}); // a child killed before reading all of it
      child.stdin?.end(opts.input);
    }
    let stdout = '';
    let stderr = '';
    // one decoder a pipe: a chunk may end inside a UTF-8 character (other listeners still get Buffers)
    const outText = new StringDecoder('utf8');
    const errText = new StringDecoder('utf8');
    child.stdout?.on('data', (d: Buffer) => (stdout += outText.write(d)));
    child.stderr?.on('data', (d: Buffer) => (stderr += errText.write(d)));
    const done = new Promise<Result>((r) =>
      child.on('close', (code, signal) => r({ code, signal, stdout: stdout + outText.end(), stderr: stderr + errText.end() })),
    );
    return { child, done };
  }

  /** Runs `coord ARGS` to its end. */
  coord(args: string[], opts: { env?: Record<string, string>; input?: string | Buffer } = {}): Promise<Result> {
    return this.spawn(args, opts).done;
  }

  /** The newest run's id (after a run has started). */
  runIds(): string[] {
    const dir = join(this.home, 'runs');
    if (!existsSync(dir)) return [];
    // ids start with the second the run started; two runs of one second are ordered by their records
    const started = (id: string): string => {
      try {
        return (JSON.parse(readFileSync(join(dir, id, 'run.json'), 'utf8')) as { startedAt?: string }).startedAt ?? '';
      } catch {
        return '';
      }
    };
    return readdirSync(dir)
      .map((id) => ({ id, at: started(id) }))
      .sort((a, b) => (a.id.slice(0, 15) === b.id.slice(0, 15) && a.at !== b.at ? (a.at < b.at ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((r) => r.id);
  }

  runDir(id?: string): string {
    const runId = id ?? this.runIds().at(-1);
    if (!runId) throw new Error('no run yet');
    return join(this.home, 'runs', runId);
  }

  events(id?: string): Array<Record<string, unknown> & { type: string }> {
    const file = join(this.runDir(id), 'events.jsonl');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown> & { type: string });
  }

  /** A run's event log on a backend server (`coord events RUN --json --backend URL`). */
  async eventsOn(url: string, run: string): Promise<Array<Record<string, unknown> & { type: string }>> {
    const r = await this.coord(['events', run, '--json', '--backend', url]);
    if (r.code !== 0) throw new Error(`coord events ${run} exited ${String(r.code)}: ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown> & { type: string });
  }

  /** Waits until the newest run's event log holds an event matching `pred`. */
  async waitForEvent(pred: (e: Record<string, unknown> & { type: string }) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.runIds().length > 0) {
        const hit = this.events().find(pred);
        if (hit) return hit;
      }
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for an event; have: ${
            this.runIds().length
              ? this.events()
                  .map((e) => e.type)
                  .join(', ')
              : 'no run'
          }`,
        );
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Waits until `file` exists and returns its content. */
  async waitForFile(file: string, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(file)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${file}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return readFileSync(file, 'utf8');
  }

  /** Pids of live processes carrying this rig's marker in their environment. */
  leftovers(): number[] {
    const found: number[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
      try {
        const environ = readFileSync(`/proc/${name}/environ`, 'latin1');
        const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue; // zombie: already dead
        if (environ.includes(`COORD_TEST_RIG=${this.marker}\0`)) found.push(Number(name));
      } catch {
        /* gone or not ours */
      }
    }
    return found;
  }

  /** Kills whatever the test left running and removes its files. */
  async cleanup(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const pid of this.leftovers()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
