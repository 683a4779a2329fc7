/** Lock faults: holders killed or paused past their lease, writers killed mid-write, huge appends. */
import { afterEach, describe, expect, test } from '@jest/globals';
import { chmodSync, closeSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { spawn } from 'node:child_process';
import { COORD, FIXTURES, Rig, fixture, processAlive, shellQuote, type Spawned } from '../rig.js';

const coordCmd = [process.execPath, COORD].map(shellQuote).join(' ');
import { checkLog } from './lockcheck.js';

let rig: Rig;
afterEach(async () => rig?.cleanup());

async function lineOf(s: Spawned, re: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  let buf = '';
  s.child.stdout?.on('data', (d: Buffer) => (buf += d.toString()));
  for (;;) {
    const m = re.exec(buf);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`no ${re} in output: ${buf}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface LocksJson {
  locks: Array<{ path: string; mode: string | null; holders: Array<{ owner: string; pid: number; token: number }>; waiters: Array<{ owner: string }> }>;
}

async function locks(): Promise<LocksJson> {
  const r = await rig.coord(['locks', '--all', '--json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as LocksJson;
}

describe('lock faults', () => {
  test('a SIGKILLed holder is detected at once and its lock goes to the waiter', async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const holder = rig.spawn(['lock', f, '--', 'sh', '-c', `echo held $COORD_LOCK_TOKEN; exec ${fixture('hang.js')}`]);
    await lineOf(holder, /held 1/);
    const waiter = rig.spawn(['lock', f, '--', 'sh', '-c', 'echo got $COORD_LOCK_TOKEN']);
    for (;;) {
      const l = await locks();
      if (l.locks[0]?.waiters.length) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const started = Date.now();
    holder.child.kill('SIGKILL');
    const r = await waiter.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('got 2\n');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test("two contenders for a dead holder's lock: exactly one wins at a time", async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const log = join(rig.dir, 'log');
    const counter = join(rig.dir, 'counter');
    // the holder enters and stays inside (hold 1 h) until killed
    const holder = rig.spawnNode(join(FIXTURES, 'lock-stress.js'), [f, counter, log, '1', 'write', '3600000']);
    await rig.waitForFile(log);
    const contenders = [1, 2].map(() => rig.spawnNode(join(FIXTURES, 'lock-stress.js'), [f, counter, log, '3', 'write', '50']));
    for (;;) {
      if ((await locks()).locks[0]?.waiters.length === 2) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    holder.child.kill('SIGKILL');
    for (const c of contenders) expect((await c.done).code).toBe(0);
    const check = checkLog(readFileSync(log, 'utf8').replace(/^E .*\n/, 'E dead 0 write 1\nX dead 0 write\n'));
    expect(check.violations).toEqual([]);
    expect(check.writes).toBe(7);
    expect(readFileSync(counter, 'utf8')).toBe('7');
  });

  test("a holder paused past its lease: its fenced write is refused, the next holder's data survives, its release leaves the new lock", async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    // the locked file is the one written: a fence is a token of the written file's own lock
    const data = f;
    const h = spawn(process.execPath, [join(FIXTURES, 'lock-holder.js'), f, data, '600'], { cwd: rig.dir, env: rig.env(), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    h.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      while (!/granted 1/.test(out)) await new Promise((r) => setTimeout(r, 20));
      process.kill(h.pid!, 'SIGSTOP');
      // the next holder waits out the paused holder's lease, writes with its own token, keeps the lock
      const next = rig.spawn([
        'lock',
        f,
        '--',
        'sh',
        '-c',
        `echo from-next | ${coordCmd} write --fence "$COORD_LOCK_TOKEN" "${data}" && echo wrote $COORD_LOCK_TOKEN && ${fixture('wait-for-file.js', join(rig.dir, 'go'))}`,
      ]);
      const granted = await lineOf(next, /wrote (\d+)/);
      expect(Number(granted[1])).toBe(2);
      process.kill(h.pid!, 'SIGCONT');
      h.stdin.write('go\n');
      await new Promise<void>((resolve) => h.on('close', () => resolve()));
      const last = JSON.parse(out.trim().split('\n').at(-1)!) as { lost: boolean; wrote: boolean; released: boolean };
      expect(last).toEqual({ lost: true, wrote: false, released: false });
      // the next holder still holds its lock after the paused one's release
      const l = await locks();
      expect(l.locks[0]!.holders.map((x) => x.token)).toEqual([2]);
      writeFileSync(join(rig.dir, 'go'), '');
      expect((await next.done).code).toBe(0);
      expect(readFileSync(data, 'utf8')).toBe('from-next\n');
    } finally {
      try {
        process.kill(h.pid!, 'SIGCONT');
      } catch {
        /* ended */
      }
    }
  });

  test('coord lock whose lease ran out while paused stops its command with "lock lost" and exit 75', async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const holder = rig.spawn(['lock', '--lease', '600ms', f, '--', 'sh', '-c', `echo held; exec ${fixture('hang.js')}`]);
    await lineOf(holder, /held/);
    process.kill(holder.child.pid!, 'SIGSTOP');
    const next = await rig.coord(['lock', f, '--', 'sh', '-c', 'echo got $COORD_LOCK_TOKEN']);
    expect(next.stdout).toBe('got 2\n');
    process.kill(holder.child.pid!, 'SIGCONT');
    const r = await holder.done;
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(/lock lost on .*\/f: token 2 was granted since/);
    expect(rig.leftovers()).toEqual([]);
  });

  test('coord write killed at random points: the file is always the old or the new content', async () => {
    rig = new Rig();
    const target = join(rig.dir, 'doc.json');
    const old = JSON.stringify({ v: 'old', pad: 'o'.repeat(300_000) });
    const next = JSON.stringify({ v: 'new', pad: 'n'.repeat(3_000_000) });
    writeFileSync(target, old);
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const w = rig.spawn(['write', target], { input: next });
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 120)));
      w.child.kill('SIGKILL');
      await w.done;
      const doc = JSON.parse(readFileSync(target, 'utf8')) as { v: string };
      expect(['old', 'new']).toContain(doc.v);
      seen.add(doc.v);
      if (doc.v === 'new') writeFileSync(target, old);
    }
    expect(seen.has('old')).toBe(true);
  }, 90_000);

  test('coord write SIGKILLed while it reads a big input for a 0600 file: its temp file is 0600 from the first byte, and the next write removes it', async () => {
    rig = new Rig();
    const target = join(rig.dir, 'secret.json');
    writeFileSync(target, '{"old":true}\n');
    chmodSync(target, 0o600);
    const temps = (): string[] => readdirSync(rig.dir).filter((n) => n.startsWith('.secret.json.') && n.endsWith('.coord-tmp'));
    const w = spawn(process.execPath, [COORD, 'write', target], { cwd: rig.dir, env: rig.env(), stdio: ['pipe', 'ignore', 'pipe'] });
    w.stdin.on('error', () => {}); // killed with its input open
    const closed = new Promise<void>((resolve) => w.on('close', () => resolve()));
    // 1 MiB is more than a pipe holds: once it is all written, the writer has read most of it
    await new Promise<void>((resolve, reject) => w.stdin.write(Buffer.alloc(1 << 20, 'a'), (e) => (e ? reject(e) : resolve())));
    expect(temps()).toHaveLength(1);
    const tmp = join(rig.dir, temps()[0]!);
    expect(statSync(tmp).size).toBeGreaterThan(0);
    expect(statSync(tmp).mode & 0o777).toBe(0o600);
    w.kill('SIGKILL');
    await closed;
    expect(temps()).toEqual([basename(tmp)]);
    expect(statSync(tmp).mode & 0o777).toBe(0o600);
    expect(readFileSync(target, 'utf8')).toBe('{"old":true}\n');
    // the next write of the file removes what the killed writer left (its process is gone)
    expect((await rig.coord(['write', target], { input: '{"new":true}\n' })).code).toBe(0);
    expect(temps()).toEqual([]);
    expect(readFileSync(target, 'utf8')).toBe('{"new":true}\n');
    expect(statSync(target).mode & 0o777).toBe(0o600);
  });

  test('a write of the file meanwhile keeps the temp file of a writer that is still reading its input', async () => {
    rig = new Rig();
    const target = join(rig.dir, 'doc');
    const temps = (): string[] => readdirSync(rig.dir).filter((n) => n.startsWith('.doc.') && n.endsWith('.coord-tmp'));
    const slow = spawn(process.execPath, [COORD, 'write', target], { cwd: rig.dir, env: rig.env(), stdio: ['pipe', 'ignore', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => slow.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => slow.stdin.write(Buffer.alloc(1 << 20, 'a'), (e) => (e ? reject(e) : resolve())));
    const [mine] = temps();
    expect(mine).toBeDefined();
    expect((await rig.coord(['write', target], { input: 'quick\n' })).code).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe('quick\n');
    expect(temps()).toEqual([mine]);
    slow.stdin.end('end\n');
    expect(await exited).toBe(0);
    expect(readFileSync(target, 'latin1')).toBe('a'.repeat(1 << 20) + 'end\n');
    expect(temps()).toEqual([]);
  });

  test('coord append SIGKILLed in the middle of an 8 MB record: the next append cuts the torn record off, every whole record stays alone on its line', async () => {
    rig = new Rig();
    const target = join(rig.dir, 'big.log');
    const SIZE = 8 << 20;
    const record = join(rig.dir, 'record');
    writeFileSync(record, 'x'.repeat(SIZE));
    expect((await rig.coord(['append', target], { input: 'first' })).code).toBe(0);
    // kill an appender as soon as its record shows in the file; again when it had already finished
    let torn = 0;
    for (let attempt = 0; attempt < 20 && torn === 0; attempt++) {
      const before = statSync(target).size;
      const input = openSync(record, 'r'); // a file, not a pipe: the busy look below starves nothing the appender needs
      const a = spawn(process.execPath, [COORD, 'append', target], { cwd: rig.dir, env: rig.env(), stdio: [input, 'ignore', 'ignore'] });
      closeSync(input);
      const closed = new Promise<void>((resolve) => a.on('close', () => resolve()));
      // a busy look rather than a timer: the record takes only milliseconds to write
      const deadline = Date.now() + 30_000;
      while (statSync(target).size === before && processAlive(a.pid!) && Date.now() < deadline) {
        /* look again */
      }
      a.kill('SIGKILL');
      await closed;
      const grown = statSync(target).size - before;
      if (grown > 0 && grown <= SIZE) torn = grown;
    }
    expect(torn).toBeGreaterThan(0);
    expect((await rig.coord(['append', target], { input: 'after' })).code).toBe(0);
    const lines = readFileSync(target, 'latin1').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines[0]).toBe('first');
    expect(lines.at(-1)).toBe('after');
    // the records of attempts that finished before their kill are whole; the torn one is gone
    const middle = lines.slice(1, -1);
    expect(middle.filter((l) => l !== 'x'.repeat(SIZE)).map((l) => l.length)).toEqual([]);
    expect(readdirSync(rig.dir).filter((n) => n.startsWith('.big.log.'))).toEqual([]);
  }, 120_000);

  test('a torn last line coord append cannot trace (written by another program) is kept apart: the next record starts on a new line', async () => {
    rig = new Rig();
    const target = join(rig.dir, 'log');
    writeFileSync(target, 'one\ntw');
    expect((await rig.coord(['append', target], { input: 'three' })).code).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe('one\ntw\nthree\n');
  });

  test('4 processes appending 1 MB records: every record whole, none lost', async () => {
    rig = new Rig();
    const target = join(rig.dir, 'big.log');
    const MB = 1 << 20;
    const runs: Array<Promise<{ code: number | null }>> = [];
    for (const ch of ['a', 'b', 'c', 'd']) for (let i = 0; i < 4; i++) runs.push(rig.coord(['append', target], { input: ch.repeat(MB) }));
    for (const r of await Promise.all(runs)) expect(r.code).toBe(0);
    const lines = readFileSync(target, 'latin1').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(16);
    for (const l of lines) {
      expect(l.length).toBe(MB);
      expect(l).toBe(l.charAt(0).repeat(MB));
    }
    expect(
      lines
        .map((l) => l.charAt(0))
        .sort()
        .join(''),
    ).toBe('aaaabbbbccccdddd');
  }, 90_000);
});
