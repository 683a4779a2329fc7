/** `coord state …` from the outside: inside runs, with bad input, compare-and-set, watch, snapshots and resume. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, fixture, type Spawned } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

interface Entry {
  version: number;
  time: string;
  stream: string | null;
  op: string;
  keys: string[];
  from?: number;
}

async function state(args: string[], input?: string) {
  return rig.coord(['state', ...args], input !== undefined ? { input } : {});
}

/** A finished one-stream run to work on from the outside. */
async function emptyRun(): Promise<void> {
  rig.writePlan({ streams: [{ id: 'a', command: 'true' }] });
  expect((await rig.coord(['run', 'plan.yaml', '-q'])).code).toBe(0);
}

/** Collects a process's output from the start; `lines(n)` waits for n lines. */
function collect(s: Spawned): (n: number) => Promise<string[]> {
  let buf = '';
  s.child.stdout?.on('data', (d: Buffer) => (buf += d.toString()));
  return (n) => lines(() => buf, n);
}

/** JSON text of `n` arrays nested in each other: `[[…]]`. */
const nest = (n: number): string => '['.repeat(n) + ']'.repeat(n);
/** A dotted key of `n` segments. */
const longKey = (n: number): string => Array.from({ length: n }, (_, i) => `k${i}`).join('.');
const MiB = 1024 * 1024;

async function lines(get: () => string, n: number, timeoutMs = 15_000): Promise<string[]> {
  let buf = get();
  const deadline = Date.now() + timeoutMs;
  while (buf.split('\n').filter(Boolean).length < n) {
    if (Date.now() > deadline) throw new Error(`wanted ${n} lines, have: ${buf}`);
    await new Promise((r) => setTimeout(r, 20));
    buf = get();
  }
  return buf.split('\n').filter(Boolean);
}

describe('coord state', () => {
  it('4 streams x 25 incr inside a run end at exactly 100: 100 versions, log entries and events; status and the final snapshot agree', async () => {
    const loop = 'for i in $(seq 25); do coord state incr done_total > /dev/null || exit 1; done';
    rig.writePlan({ streams: [0, 1, 2, 3].map((i) => ({ id: `w${i}`, command: loop })) });
    const r = await rig.coord(['run', 'plan.yaml', '-q']);
    expect(r.code).toBe(0);
    expect(JSON.parse((await state(['get', 'done_total'])).stdout)).toBe(100);
    const log = (await state(['log', '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Entry);
    expect(log.map((e) => e.version)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(log.every((e) => e.op === 'incr' && e.keys.join() === 'done_total' && /^w[0-3]$/.test(e.stream ?? ''))).toBe(true);
    const versions = rig.events().filter((e) => e.type === 'state-version');
    expect(versions.map((e) => e.version).sort((a, b) => Number(a) - Number(b))).toEqual(log.map((e) => e.version));
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as { state: { version: number; snapshot: number; type: string } };
    expect(status.state).toMatchObject({ version: 100, snapshot: 100, type: 'centralized' });
    expect((await rig.coord(['status'])).stdout).toMatch(
      /shared state: version 100 \(centralized\), last change .* \(incr by w[0-3]\); snapshot of version 100/,
    );
    const plain = (await state(['log'])).stdout.split('\n');
    expect(plain[0]).toMatch(/VER\s+TIME\s+STREAM\s+OP\s+KEYS/);
    expect(plain[100]).toMatch(/^\s+100\s+\S+Z\s+w[0-3]\s+incr\s+done_total$/);
  });

  it('set, get, merge, delete, rollback; writes print the new version', async () => {
    await emptyRun();
    expect((await state(['set', 'cfg.model', '"sonnet"'])).stdout).toBe('1\n');
    expect((await state(['merge', 'cfg', '{"temp":0.2,"tools":{"git":true}}'])).stdout).toBe('2\n');
    expect((await state(['set', 'list', '[1,2]'])).stdout).toBe('3\n');
    expect((await state(['set', 'list.2', '3'], undefined)).stdout).toBe('4\n');
    expect((await state(['set', 'note'], '"from stdin"')).stdout).toBe('5\n');
    expect((await state(['delete', 'cfg.tools'])).stdout).toBe('6\n');
    expect(JSON.parse((await state(['get'])).stdout)).toEqual({ cfg: { model: 'sonnet', temp: 0.2 }, list: [1, 2, 3], note: 'from stdin' });
    expect(JSON.parse((await state(['get', '--json', 'list.1'])).stdout)).toEqual({ version: 6, value: 2 });
    expect(JSON.parse((await state(['get', 'cfg', '--version', '2'])).stdout)).toEqual({ model: 'sonnet', temp: 0.2, tools: { git: true } });
    expect(await state(['rollback', '1'])).toMatchObject({ code: 0, stdout: '7\n' });
    expect(JSON.parse((await state(['get'])).stdout)).toEqual({ cfg: { model: 'sonnet' } });
    const last = JSON.parse((await state(['log', '--json', '--since', '6'])).stdout) as Entry;
    expect(last).toMatchObject({ version: 7, op: 'rollback', from: 1, stream: null });
    expect((await state(['log'])).stdout).toMatch(/\n\s+7\s+\S+\s+-\s+rollback to 1\s+/);
    // the same value again makes no version
    expect((await state(['set', 'cfg.model', '"sonnet"', '--json'])).stdout).toBe('{"version":7,"changed":false,"keys":[]}\n');
    expect(JSON.parse((await state(['incr', 'n', '-2.5', '--json'])).stdout)).toEqual({ version: 8, changed: true, keys: ['n'], value: -2.5 });
  });

  it('--expect-version: a write on a moved state exits 75 with the current version and changes nothing', async () => {
    await emptyRun();
    await state(['set', 'a', '1']);
    await state(['set', 'a', '2']);
    const stale = await state(['set', 'a', '3', '--expect-version', '1']);
    expect(stale).toMatchObject({ code: 75, stdout: '2\n' });
    expect(stale.stderr).toContain('expected version 1, it is at version 2; nothing was changed');
    expect((await state(['incr', 'a', '--expect-version', '2'])).stdout).toBe('3\n');
    expect((await state(['rollback', '1', '--expect-version', '0'])).code).toBe(75);
    expect((await state(['get', 'a'])).stdout).toBe('3\n');
    expect((await state(['set', 'a', '1', '--expect-version', 'x'])).code).toBe(2);
  });

  it('hostile and invalid input: clear errors, nothing changes, __proto__ is just a key', async () => {
    await emptyRun();
    await state(['set', 'keep', '1']);
    const bad = await state(['set', 'x', '{"a":']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/the value is not valid JSON: /);
    const word = await state(['set', 'x', 'hello']);
    expect(word.stderr).toContain(`a string needs JSON quotes: '"hello"'`);
    expect((await state(['set', 'a..b', '1'])).stderr).toContain('bad key "a..b": empty segment');
    expect((await state(['merge', 'x', '[1]'])).code).toBe(2);
    const notNumber = await state(['incr', 'keep.deeper']);
    expect(notNumber.code).toBe(1);
    expect(notNumber.stderr).toContain('keep is a number, not an object: cannot reach keep.deeper');
    expect((await state(['incr', 'x', 'many'])).code).toBe(2);
    expect((await state(['rollback', '99'])).stderr).toContain('version 99 does not exist yet');
    expect((await state(['get', 'missing'])).code).toBe(1);
    expect((await state(['get', '--version', '1'])).stdout).toBe('{\n  "keep": 1\n}\n');
    expect(JSON.parse((await state(['get', '--json'])).stdout).version).toBe(1);
    // prototype keys are stored as plain keys, read back, and polluted nothing
    expect((await state(['merge', 'obj', '{"__proto__":{"polluted":true},"constructor":{"prototype":{"p2":1}}}'])).code).toBe(0);
    expect((await state(['set', '__proto__.polluted', 'true'])).code).toBe(0);
    expect(JSON.parse((await state(['get', 'obj'])).stdout)).toEqual(JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"p2":1}}}'));
    expect((await state(['get', '__proto__.polluted'])).stdout).toBe('true\n');
    const doc = JSON.parse((await state(['get'])).stdout) as Record<string, unknown>;
    expect(Object.getPrototypeOf(doc)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('bounds what is stored: nesting deeper than 64 levels, a document over 4 MiB or a key of 65 segments exits 2 naming the limit, and nothing is written', async () => {
    await emptyRun();
    expect((await state(['set', 'keep', '1'])).stdout).toBe('1\n');
    const versions = join(rig.runDir(), 'state', 'versions');
    const files = () => readdirSync(versions).sort();
    const written = files();
    const refused = async (args: string[], why: RegExp, input?: string) => {
      const r = await state(args, input);
      expect({ args: args.map((a) => a.slice(0, 40)), code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({
        args: args.map((a) => a.slice(0, 40)),
        code: 2,
        stderr: expect.stringMatching(why),
        stdout: '',
      });
      expect(r.stderr).not.toMatch(/call stack/);
    };
    // the 2,500-deep array, and the other ways to nest deeper than 64 levels
    await refused(['set', 'p', nest(2500)], /too deep: the state would nest more than 64 levels of objects and arrays at p\.0\.0\.0/);
    await refused(['set', 'p'], /more than 64 levels/, nest(2500));
    await refused(['set', 'p', nest(64)], /more than 64 levels/); // the document is level 1, p's array level 2
    await refused(['merge', 'm', `{"a":${'{"a":'.repeat(99)}1${'}'.repeat(99)}}`], /more than 64 levels of objects and arrays at m\.a\.a/);
    await refused(['set', longKey(64), '{}'], /more than 64 levels/);
    await refused(['incr', longKey(65)], /bad key "k0\.k1\.k2.*": 65 segments \(a key has at most 64/);
    await refused(['set', longKey(65), '1'], /65 segments/);
    // over 4 MiB as JSON (UTF-8), the value on standard input
    await refused(
      ['set', 'big'],
      /too large: the state would take 4194\d{3} bytes as JSON \(at most 4 MiB, 4194304 bytes\)/,
      JSON.stringify('x'.repeat(4 * MiB)),
    );
    await refused(['set', 'big'], /too large/, JSON.stringify('é'.repeat(2 * MiB)));
    expect(files()).toEqual(written);
    expect((await state(['get', '--json'])).stdout).toBe('{"version":1,"value":{"keep":1}}\n');
    // right at the limits everything is taken
    expect((await state(['set', 'p', nest(63)])).stdout).toBe('2\n');
    expect((await state(['incr', longKey(64)])).stdout).toBe('3\n'); // the document and 63 objects in it, the number in the last
    const doc = (await state(['get', '--json'])).stdout;
    const size = Buffer.byteLength(JSON.stringify(JSON.parse(doc).value));
    const fill = 4 * MiB - size - Buffer.byteLength(',"big":""');
    expect((await state(['set', 'big'], JSON.stringify('x'.repeat(fill)))).stdout).toBe('4\n');
    await refused(['set', 'big'], /too large: the state would take 4194305 bytes/, JSON.stringify('x'.repeat(fill + 1)));
    expect((await state(['get', 'big', '--json'])).stdout.length).toBeGreaterThan(fill);
    expect((await state(['delete', 'big'])).stdout).toBe('5\n');
    expect(
      (await state(['log', '--json'])).stdout
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as Entry).op),
    ).toEqual(['set', 'set', 'incr', 'set', 'delete']);
  });

  it('a document deeper than the limit, stored before there was one: writes and reads fail cleanly naming the key to delete, and delete removes it', async () => {
    await emptyRun();
    await state(['set', 'p', '"placeholder"']);
    expect((await state(['set', 'q', '1'])).stdout).toBe('2\n');
    // what an older coord left: version 2 with p 100,000 levels deep, on disk as it wrote it
    const file = join(rig.runDir(), 'state', 'versions', '2.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"placeholder"', nest(100_000)));
    const stuck =
      /the state at version 2 nests more than 64 levels of objects and arrays at p\.0\.0\.0.* \(stored before coord limited the depth\): only a change that brings it within the limits is taken, such as coord state delete p/;
    for (const args of [
      ['set', 'q', '2'],
      ['merge', 'm', '{"a":1}'],
      ['incr', 'n'],
    ]) {
      const r = await state(args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 1, stderr: expect.stringMatching(stuck) });
    }
    for (const args of [['get'], ['get', '--json'], ['get', 'p']]) {
      const r = await state(args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({
        args,
        code: 1,
        stderr: expect.stringMatching(/nests more than 64 levels .* at p\.0\.0.*: it cannot be printed; coord state delete p removes it/),
      });
    }
    expect((await state(['get', 'q'])).stdout).toBe('1\n');
    expect((await state(['log'])).code).toBe(0);
    expect((await rig.coord(['status', '--json'])).code).toBe(0);
    expect((await state(['delete', 'p'])).stdout).toBe('3\n');
    expect((await state(['set', 'q', '2'])).stdout).toBe('4\n');
    expect(JSON.parse((await state(['get'])).stdout)).toEqual({ q: 2 });
  });

  it('watch prints each version touching KEY until interrupted (exit 130)', async () => {
    await emptyRun();
    await state(['set', 'cfg.a', '0']);
    // from version 1 on, however late the watchers start
    const w = rig.spawn(['state', 'watch', 'cfg', '--json', '--since', '1']);
    const plain = rig.spawn(['state', 'watch', 'cfg.a', '--since', '1']);
    const wLines = collect(w);
    const plainLines = collect(plain);
    await state(['set', 'cfg.a', '1']);
    await state(['set', 'other', '1']);
    await state(['merge', 'cfg', '{"b":2}']);
    const got = (await wLines(2)).map((l) => JSON.parse(l) as Entry & { value: unknown });
    expect(got.map((e) => [e.version, e.op, e.value])).toEqual([
      [2, 'set', { a: 1 }],
      [4, 'merge', { a: 1, b: 2 }],
    ]);
    expect(await plainLines(1)).toEqual(['2 1']);
    w.child.kill('SIGINT');
    plain.child.kill('SIGINT');
    expect((await w.done).code).toBe(130);
    expect((await plain.done).code).toBe(130);
  });

  it('snapshots every checkpoint_interval; --resume restores versions that were lost, and the stream sees them', async () => {
    const gate = join(rig.dir, 'gate');
    const marker = join(rig.dir, 'first-attempt-done');
    rig.writePlan({
      agent_coordination: { state_management: { checkpoint_interval: 1, keep_versions: 5 } },
      streams: [
        {
          id: 'a',
          command: `if [ -f ${marker} ]; then coord state get progress; else coord state set progress '"half"' && ${fixture('wait-for-file.js', gate)} && touch ${marker} && exit 1; fi`,
        },
      ],
    });
    const run = rig.spawn(['run', 'plan.yaml', '-q']);
    await rig.waitForEvent((e) => e.type === 'state-version' && e.version === 1);
    const snaps = join(rig.runDir(), 'state', 'snapshots', '0');
    await rig.waitForFile(join(snaps, '1.json'), 10_000);
    rig.write('gate', '');
    expect((await run.done).code).toBe(1);
    // the versions are lost (power loss without durable: true); the snapshot is not
    const versions = join(rig.runDir(), 'state', 'versions');
    for (const f of readdirSync(versions)) rmSync(join(versions, f));
    expect((await state(['get', '--json'])).stdout).toBe('{"version":0,"value":{}}\n');
    const id = rig.runIds().at(-1)!;
    const resumed = await rig.coord(['run', 'plan.yaml', '--resume', id]);
    expect(resumed.code).toBe(0);
    expect(rig.events().some((e) => e.type === 'state-restored' && e.version === 1 && e.from === 0)).toBe(true);
    expect(JSON.parse((await state(['get', '--json'])).stdout)).toEqual({ version: 1, value: { progress: 'half' } });
    expect(existsSync(join(snaps, '1.json'))).toBe(true);
    const log = await rig.coord(['logs', 'a']);
    expect(log.stdout).toContain('"half"');
  });

  it('durable: true and keep_versions are honoured; a version no longer kept cannot be rolled back to', async () => {
    rig.writePlan({
      agent_coordination: { state_management: { durable: true, keep_versions: 3, checkpoint_interval: 3600 } },
      streams: [{ id: 'a', command: 'for i in $(seq 30); do coord state set i $i > /dev/null; done' }],
    });
    expect((await rig.coord(['run', 'plan.yaml', '-q'])).code).toBe(0);
    const kept = readdirSync(join(rig.runDir(), 'state', 'versions')).filter((f) => f.endsWith('.json'));
    expect(kept.length).toBeLessThanOrEqual(3 + 8);
    const gone = await state(['rollback', '2']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/version 2 is no longer kept \(kept: \d+–30; snapshots: 30\); raise state_management.keep_versions/);
    expect((await state(['log', '--json'])).stdout.trim().split('\n')).toHaveLength(30);
  });
});
