/** `coord lock`, `write`, `append` and `locks` from the outside, alone and inside runs. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, Rig, fixture } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

interface LocksJson {
  locks: Array<{
    path: string;
    mode: string | null;
    holders: Array<{ owner: string; pid: number; since: string; token: number }>;
    waiters: Array<{ owner: string; pid: number; mode: string; since: string }>;
  }>;
  contention: Array<{ path: string; acquisitions: number; contended: number; waitMsTotal: number; waitMsMax: number }>;
}

async function until<T>(fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('coord lock', () => {
  it("exits with its command's code, hands it a token that grows with every grant", async () => {
    const f = join(rig.dir, 'f');
    const a = await rig.coord(['lock', f, '--', 'sh', '-c', 'echo $COORD_LOCK_TOKEN; exit 4']);
    expect(a).toMatchObject({ code: 4, stdout: '1\n' });
    const b = await rig.coord(['lock', f, '--', 'sh -c "echo $COORD_LOCK_TOKEN $COORD_LOCK_PATH"']);
    expect(b).toMatchObject({ code: 0, stdout: `2 ${f}\n` });
    // the same file named through a symbolic link and a relative path is the same lock
    const c = await rig.coord(['lock', './f', '--', 'sh', '-c', 'echo $COORD_LOCK_TOKEN']);
    expect(c.stdout).toBe('3\n');
    expect((await rig.coord(['lock', f])).code).toBe(2);
    expect((await rig.coord(['lock', '--timeout', 'soon', f, '--', 'true'])).code).toBe(2);
  });

  it('lets readers share and times out a writer with exit 75, naming the holders', async () => {
    const f = join(rig.dir, 'f');
    const gate = join(rig.dir, 'gate');
    // each reader announces itself, then waits for the other: both must hold the read lock at once
    const r1 = rig.spawn([
      'lock',
      '--read',
      f,
      '--',
      'sh',
      '-c',
      `touch ${rig.dir}/r1 && ${fixture('wait-for-file.js', join(rig.dir, 'r2'))} && ${fixture('wait-for-file.js', gate)}`,
    ]);
    const r2 = rig.spawn(['lock', '--read', f, '--', 'sh', '-c', `touch ${rig.dir}/r2 && ${fixture('wait-for-file.js', join(rig.dir, 'r1'))}`]);
    expect((await r2.done).code).toBe(0);
    const w = await rig.coord(['lock', '--timeout', '300ms', f, '--', 'true']);
    expect(w.code).toBe(75);
    // r2 has ended: r1 holds the read lock, with token 1 or 2 (whichever reader started first)
    expect(w.stderr).toMatch(/timed out after \d+ms waiting for a write lock on .*\/f: held by pid:\d+ \(pid \d+, read, token [12], since /);
    writeFileSync(gate, '');
    expect((await r1.done).code).toBe(0);
    expect((await rig.coord(['lock', '--timeout', '300ms', f, '--', 'true'])).code).toBe(0);
  });

  it('fails a nested lock on the same file at once, as a deadlock', async () => {
    const f = join(rig.dir, 'f');
    const r = await rig.coord(['lock', f, '--', process.execPath, COORD, 'lock', f, '--', 'true']);
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(/deadlock: .* waits for .*\/f held by its own enclosing lock/);
  });
});

describe('coord write and append', () => {
  it('replace atomically and keep the mode; refuse a stale fencing token and write nothing', async () => {
    const f = join(rig.dir, 'doc.txt');
    writeFileSync(f, 'old\n', { mode: 0o640 });
    expect((await rig.coord(['write', f], { input: 'new\n' })).code).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('new\n');
    const { statSync, readdirSync } = await import('node:fs');
    expect(statSync(f).mode & 0o777).toBe(0o640);
    // the write took the write lock (token 1); two more grants: token 3 is the newest
    await rig.coord(['lock', f, '--', 'true']);
    await rig.coord(['lock', f, '--', 'true']);
    const stale = await rig.coord(['write', '--fence', '1', f], { input: 'stale\n' });
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/refused to write .*doc\.txt: fencing token 1 is stale, token 3 has been granted since/);
    expect(readFileSync(f, 'utf8')).toBe('new\n');
    const appended = await rig.coord(['append', '--fence', '1', f], { input: 'x' });
    expect(appended.code).toBe(1);
    expect((await rig.coord(['write', '--fence', '3', f], { input: 'fresh\n' })).code).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('fresh\n');
    expect((await rig.coord(['append', f], { input: 'no newline' })).code).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('fresh\nno newline\n');
    expect(readdirSync(rig.dir).filter((n) => n.endsWith('.coord-tmp'))).toEqual([]);
  });

  it('refuse a fencing token never granted for the path (newer than the newest, or 0) while another process holds the lock, and write nothing', async () => {
    const f = join(rig.dir, 'doc.txt');
    writeFileSync(f, 'kept\n');
    const gate = join(rig.dir, 'gate');
    const holder = rig.spawn(['lock', f, '--', fixture('wait-for-file.js', gate)]);
    await until(async () => {
      const v = JSON.parse((await rig.coord(['locks', '--all', '--json'])).stdout) as LocksJson;
      return v.locks[0]?.holders[0]?.token === 1 ? true : undefined;
    });
    // 2 is the token the next grant will get, 999 one far ahead, 0 one no grant ever gets
    for (const token of ['999', '2', '0']) {
      const w = await rig.coord(['write', '--fence', token, f], { input: 'forged\n' });
      expect(w.code).toBe(1);
      expect(w.stderr).toMatch(
        new RegExp(`refused to write .*doc\\.txt: fencing token ${token} has never been granted for it \\(the newest is token 1\\); nothing was written`),
      );
      const a = await rig.coord(['append', '--fence', token, f], { input: 'forged\n' });
      expect(a.code).toBe(1);
      expect(a.stderr).toMatch(/fencing token \d+ has never been granted/);
    }
    expect(readFileSync(f, 'utf8')).toBe('kept\n');
    expect(readdirSync(rig.dir).filter((n) => n.endsWith('.coord-tmp'))).toEqual([]);
    // the holder's own token is accepted
    expect((await rig.coord(['write', '--fence', '1', f], { input: 'mine\n' })).code).toBe(0);
    expect(readFileSync(f, 'utf8')).toBe('mine\n');
    writeFileSync(gate, '');
    expect((await holder.done).code).toBe(0);
  });
});

describe('locks inside a run', () => {
  it('show holders and waiters by stream in coord locks, log waits and grants, and count contention', async () => {
    const f = join(rig.dir, 'shared.json');
    const gate = join(rig.dir, 'gate');
    rig.writePlan({
      streams: [
        // second asks once first holds the lock (first's CMD says so by creating 'held')
        { id: 'first', command: `CREATE_FIRST=1 coord lock ${f} -- ${fixture('wait-for-file.js', gate, join(rig.dir, 'held'))}` },
        { id: 'second', command: `${fixture('wait-for-file.js', join(rig.dir, 'held'))} > /dev/null && coord lock ${f} -- sh -c 'echo $COORD_LOCK_TOKEN'` },
      ],
    });
    const run = rig.spawn(['run', 'plan.yaml']);
    const view = await until(async () => {
      const r = await rig.coord(['locks', '--json']);
      if (r.code !== 0) return undefined;
      const v = JSON.parse(r.stdout) as LocksJson;
      return v.locks[0]?.waiters.length ? v : undefined;
    });
    expect(view.locks).toHaveLength(1);
    expect(view.locks[0]).toMatchObject({ path: f, mode: 'write', holders: [{ owner: 'first', token: 1 }], waiters: [{ owner: 'second', mode: 'write' }] });
    expect(Date.parse(view.locks[0]!.holders[0]!.since)).not.toBeNaN();
    const plain = await rig.coord(['locks']);
    expect(plain.stdout).toMatch(/shared\.json\s+write\s+first \(pid \d+, token 1/);
    writeFileSync(gate, '');
    expect((await run.done).code).toBe(0);
    expect(readFileSync(join(rig.runDir(), 'streams', 'second', 'stdout'), 'utf8')).toBe('2\n');
    const types = rig
      .events()
      .filter((e) => e.type.startsWith('lock-'))
      .map((e) => `${e.type}:${String(e.stream)}`);
    expect(types).toEqual(
      expect.arrayContaining(['lock-granted:first', 'lock-waiting:second', 'lock-released:first', 'lock-granted:second', 'lock-released:second']),
    );
    const after = JSON.parse((await rig.coord(['locks', '--json'])).stdout) as LocksJson;
    expect(after.locks).toEqual([]);
    expect(after.contention).toEqual([{ path: f, acquisitions: 2, contended: 1, waitMsTotal: expect.any(Number), waitMsMax: expect.any(Number) }]);
    expect(after.contention[0]!.waitMsMax).toBeGreaterThan(0);
    const events = await rig.coord(['events']);
    expect(events.stdout).toMatch(/second waits for a write lock on .*shared\.json held by first/);
  });

  it('fails the newest request of two streams waiting on each other, naming the cycle', async () => {
    const l1 = join(rig.dir, 'l1');
    const l2 = join(rig.dir, 'l2');
    const cross = (mine: string, other: string, me: string, them: string) =>
      `coord lock ${mine} -- sh -c 'touch ${rig.dir}/${me}.ready; while [ ! -f ${rig.dir}/${them}.ready ]; do sleep 0.02; done; sleep 0.${me === 'a' ? 1 : 5}; coord lock ${other} -- echo ${me} got both'`;
    rig.writePlan({
      streams: [
        { id: 'a', command: cross(l1, l2, 'a', 'b') },
        { id: 'b', command: cross(l2, l1, 'b', 'a') },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as { streams: Array<{ id: string; state: string; exitCode: number }> };
    const by = Object.fromEntries(status.streams.map((s) => [s.id, s]));
    // b asked last: it gives up with 75, and a, no longer blocked, finishes
    expect(by.b).toMatchObject({ state: 'failed', exitCode: 75 });
    expect(by.a).toMatchObject({ state: 'succeeded' });
    expect(readFileSync(join(rig.runDir(), 'streams', 'a', 'stdout'), 'utf8')).toBe('a got both\n');
    const err = readFileSync(join(rig.runDir(), 'streams', 'b', 'stderr'), 'utf8');
    expect(err).toMatch(/deadlock: b \(pid \d+\) waits for .*\/l1 held by a \(pid \d+\), a \(pid \d+\) waits for .*\/l2 held by b/);
    expect(rig.events().some((e) => e.type === 'lock-deadlock' && e.stream === 'b')).toBe(true);
  });
});

describe('isolation.file_access', () => {
  const plan = (access: string, writer: string) => ({
    stream_configuration: { coordination: { isolation: { file_access: access } } },
    streams: [
      // the holder makes `held` once it holds the lock, and the writer starts then, however loaded the machine
      {
        id: 'holder',
        command: `CREATE_FIRST=1 coord lock ${join(rig.dir, 'doc')} -- ${fixture('wait-for-file.js', join(rig.dir, 'gate'), join(rig.dir, 'held'))}`,
      },
      { id: 'writer', command: `${fixture('wait-for-file.js', join(rig.dir, 'held'))} && ${writer}; touch ${join(rig.dir, 'writer-done')}` },
    ],
  });

  it('exclusive_write: coord write waits for the write lock', async () => {
    rig.writePlan(plan('exclusive_write', `echo w | coord write ${join(rig.dir, 'doc')}`));
    const run = rig.spawn(['run', 'plan.yaml']);
    await rig.waitForEvent((e) => e.type === 'lock-waiting' && e.stream === 'writer');
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(join(rig.dir, 'writer-done'))).toBe(false);
    writeFileSync(join(rig.dir, 'gate'), '');
    expect((await run.done).code).toBe(0);
    expect(readFileSync(join(rig.dir, 'doc'), 'utf8')).toBe('w\n');
  });

  it('atomic: coord write replaces the file through a temp file without waiting for locks', async () => {
    rig.writePlan(plan('atomic', `echo w | coord write ${join(rig.dir, 'doc')}`));
    const run = rig.spawn(['run', 'plan.yaml']);
    await rig.waitForFile(join(rig.dir, 'writer-done'));
    expect(readFileSync(join(rig.dir, 'doc'), 'utf8')).toBe('w\n');
    expect(rig.events().some((e) => e.type === 'lock-waiting')).toBe(false);
    writeFileSync(join(rig.dir, 'gate'), '');
    expect((await run.done).code).toBe(0);
  });

  it('shared_read: the shared directory is read-only to hybrid streams through coord', async () => {
    rig.writePlan({
      stream_configuration: { coordination: { isolation: { file_access: 'shared_read' } } },
      streams: [
        { id: 'owner', isolation: 'shared', command: 'echo seed > seed.txt' },
        { id: 'reader', isolation: 'hybrid', depends_on: ['owner'], command: 'cat "$COORD_SHARED/seed.txt" && echo x | coord write "$COORD_SHARED/seed.txt"' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    expect(readFileSync(join(rig.runDir(), 'streams', 'reader', 'stdout'), 'utf8')).toBe('seed\n');
    expect(readFileSync(join(rig.runDir(), 'streams', 'reader', 'stderr'), 'utf8')).toMatch(
      /seed\.txt is in the shared directory, which is read-only to this stream \(isolation\.file_access: shared_read\)/,
    );
  });
});
