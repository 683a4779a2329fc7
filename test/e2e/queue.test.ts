/**
 * `coord queue` from the outside: a group of consumer processes draining a topic exactly once,
 * a killed consumer's message handed to another member after its ack timeout, waits woken by
 * another process, order, refused input, and queues between the streams of a real run.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, FIXTURES, Rig, shellQuote } from '../rig.js';
import { FileBackend } from '../../src/backend/file/file-backend.js';
import { runRecord } from '../backend/contract.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

/** A run `r1` (and `r2` with the message_queue state) made directly, for commands outside any run process. */
async function makeRuns(): Promise<void> {
  const b = new FileBackend(rig.home);
  await b.createRun(runRecord('r1', new Date().toISOString()), 'streams: []\n');
  await b.createRun(
    { ...runRecord('r2', new Date().toISOString()), sharedState: { type: 'message_queue', keepVersions: 10, durable: false } },
    'streams: []\n',
  );
  await b.close();
}

const coord = (...args: string[]) => rig.coord([...args, '--run', 'r1']);
const WORKER = join(FIXTURES, 'queue-worker.js');
const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

async function until<T>(fn: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every path under `root` with its size, sorted: a snapshot to show that nothing changed. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out.push(`${rel}${e.name}${e.isDirectory() ? '/' : ` ${statSync(p).size}`}`);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
    }
  };
  walk(root, '');
  return out.sort();
}

describe('coord queue', () => {
  it.each([
    ['without ack timeout', undefined],
    ['with --ack-timeout and an ack per message', '60000'],
  ])('a group of 4 consumer processes drains 1,200 messages from 2 concurrent producers exactly once (%s)', async (_name, ackMs) => {
    await makeRuns();
    const consumers = ['w1', 'w2', 'w3', 'w4'].map((m) =>
      rig.spawnNode(WORKER, [rig.home, 'r1', 'consume', 'jobs', 'workers', m, join(rig.dir, `${m}.out`), ...(ackMs ? [ackMs] : [])]),
    );
    const producers = ['p', 'q'].map((prefix) => rig.spawnNode(WORKER, [rig.home, 'r1', 'produce', 'jobs', '600', prefix]));
    for (const p of producers) expect((await p.done).code).toBe(0);
    for (let i = 0; i < consumers.length; i++) expect((await coord('queue', 'send', 'jobs', 'STOP')).code).toBe(0);
    for (const c of consumers) expect(await c.done).toMatchObject({ code: 0, stderr: '' });

    const got = ['w1', 'w2', 'w3', 'w4'].map((m) => lines(join(rig.dir, `${m}.out`)).map((l) => ({ id: Number(l.split(' ')[0]), body: l.split(' ')[1]! })));
    const all = got.flat();
    // exactly once: no duplicate, none missing
    expect(all).toHaveLength(1200);
    expect(new Set(all.map((m) => m.id)).size).toBe(1200);
    expect(new Set(all.map((m) => m.body))).toEqual(
      new Set([...Array.from({ length: 600 }, (_, i) => `p-${i + 1}`), ...Array.from({ length: 600 }, (_, i) => `q-${i + 1}`)]),
    );
    // the work was shared, and each member got its share in order
    for (const share of got) {
      expect(share.length).toBeGreaterThan(0);
      expect(share.map((m) => m.id)).toEqual([...share.map((m) => m.id)].sort((a, b) => a - b));
    }
    // each producer's messages are numbered in the order it sent them
    for (const prefix of ['p', 'q']) {
      const mine = all.filter((m) => m.body.startsWith(`${prefix}-`)).sort((a, b) => a.id - b.id);
      expect(mine.map((m) => m.body)).toEqual(Array.from({ length: 600 }, (_, i) => `${prefix}-${i + 1}`));
    }

    const events = rig.events('r1');
    expect(events.filter((e) => e.type === 'queue-sent')).toHaveLength(1204);
    const received = events.filter((e) => e.type === 'queue-received');
    expect(received).toHaveLength(1204);
    expect(new Set(received.map((e) => e.id)).size).toBe(1204);
    expect(received.every((e) => e.consumer === 'workers' && e.delivery === 1 && typeof e.time === 'string' && e.run === 'r1')).toBe(true);
    expect(events.filter((e) => e.type === 'queue-redelivered')).toHaveLength(0);
    expect(events.filter((e) => e.type === 'queue-acked')).toHaveLength(ackMs ? 1204 : 0);

    const ls = JSON.parse((await coord('queue', 'ls', '--json')).stdout) as unknown;
    expect(ls).toEqual({ topics: [{ topic: 'jobs', size: 1204, consumers: [{ name: 'workers', next: 1205, lag: 0, pending: 0 }] }] });
  });

  it("hands a SIGKILLed consumer's unacknowledged message to another member of the group after --ack-timeout", async () => {
    await makeRuns();
    expect((await coord('queue', 'send', 'jobs', 'job-1')).stdout).toBe('1\n');
    expect((await coord('queue', 'send', 'jobs', 'job-2')).stdout).toBe('2\n');
    const gotA = join(rig.dir, 'got-a');
    // member a: receives with a 5 s ack timeout, then hangs "working" until it is killed
    const a = spawn(
      'sh',
      [
        '-c',
        `${shellQuote(process.execPath)} ${shellQuote(COORD)} queue recv jobs --group g --as a --ack-timeout 5s --json --run r1 > ${shellQuote(gotA)} && exec sleep 60`,
      ],
      {
        cwd: rig.dir,
        env: rig.env(),
        stdio: 'ignore',
        detached: true,
      },
    );
    const received = await until(() =>
      existsSync(gotA) && readFileSync(gotA, 'utf8').endsWith('\n') ? (JSON.parse(readFileSync(gotA, 'utf8')) as { id: number; delivery: number }) : undefined,
    );
    expect(received).toMatchObject({ id: 1, delivery: 1, body: 'job-1' });
    process.kill(-a.pid!, 'SIGKILL');
    // before the deadline another member gets the next message, not a's
    const b1 = await coord('queue', 'recv', 'jobs', '--group', 'g', '--as', 'b', '--ack-timeout', '2s', '--json');
    expect(JSON.parse(b1.stdout)).toMatchObject({ id: 2, delivery: 1 });
    expect((await coord('queue', 'ack', 'jobs', '2', '--group', 'g', '--as', 'b')).code).toBe(0);
    expect((await coord('queue', 'recv', 'jobs', '--group', 'g', '--as', 'c')).code).toBe(75);
    // after it: a's message goes to whichever member asks (c waits for it)
    const c = await coord('queue', 'recv', 'jobs', '--group', 'g', '--as', 'c', '--ack-timeout', '2s', '--wait', '20s', '--json');
    expect(c.code).toBe(0);
    expect(JSON.parse(c.stdout)).toMatchObject({ topic: 'jobs', id: 1, body: 'job-1', delivery: 2 });
    expect((await coord('queue', 'ack', 'jobs', '1', '--group', 'g', '--as', 'c')).code).toBe(0);
    const again = await coord('queue', 'ack', 'jobs', '1', '--group', 'g', '--as', 'a');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/message 1 of jobs is not waiting for an acknowledgement by g/);
    const events = rig.events('r1');
    expect(events.filter((e) => e.type === 'queue-redelivered')).toEqual([
      expect.objectContaining({ topic: 'jobs', id: 1, consumer: 'g', member: 'c', delivery: 2, from: 'a', run: 'r1' }),
    ]);
    expect(events.filter((e) => e.type === 'queue-acked').map((e) => [e.id, e.member])).toEqual([
      [2, 'b'],
      [1, 'c'],
    ]);
    expect(JSON.parse((await coord('queue', 'ls', '--json')).stdout)).toEqual({
      topics: [{ topic: 'jobs', size: 2, consumers: [{ name: 'g', next: 3, lag: 0, pending: 0 }] }],
    });
  });

  it('recv --wait sleeps until another process sends, then prints the message; exits 75 when none comes', async () => {
    await makeRuns();
    const t0 = Date.now();
    const none = await coord('queue', 'recv', 'jobs', '--as', 'r', '--wait', '700ms');
    expect(none.code).toBe(75);
    expect(none.stderr).toBe('coord: no message for r on jobs within 700ms\n');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);

    const waiting = rig.spawn(['queue', 'recv', 'later', '--as', 'r', '--wait', '30s', '--run', 'r1']);
    // the waiter watches the topic's directory once it has looked for the first time
    await until(() => (existsSync(join(rig.home, 'runs', 'r1', 'queues', 'later', 'messages')) ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    expect((await coord('queue', 'send', 'later', 'wake up')).code).toBe(0);
    const tSent = Date.now();
    const r = await waiting.done;
    expect(r).toMatchObject({ code: 0, stdout: 'wake up\n' });
    expect(Date.now() - tSent).toBeLessThan(10_000); // woken, not at the end of its 30 s
    expect(rig.events('r1').filter((e) => e.type === 'queue-received')).toEqual([
      expect.objectContaining({ topic: 'later', id: 1, consumer: 'r', member: 'r' }),
    ]);
  });

  it('one consumer reads in order; another reads everything again; stdin, --json, and the drain loop', async () => {
    await makeRuns();
    for (let i = 1; i <= 5; i++) expect((await coord('queue', 'send', 'jobs', `m${i}`)).stdout).toBe(`${i}\n`);
    expect((await rig.coord(['queue', 'send', 'jobs', '--json', '--run', 'r1'], { input: 'from stdin\nsecond line' })).stdout).toBe(
      '{"topic":"jobs","id":6}\n',
    );
    const solo: string[] = [];
    for (let i = 1; i <= 6; i++) solo.push((await coord('queue', 'recv', 'jobs', '--as', 'solo')).stdout);
    expect(solo).toEqual(['m1\n', 'm2\n', 'm3\n', 'm4\n', 'm5\n', 'from stdin\nsecond line\n']);
    expect((await coord('queue', 'recv', 'jobs', '--as', 'solo')).code).toBe(75);
    // --json for the envelope; a consumer of its own starts from the first message
    const j = JSON.parse((await coord('queue', 'recv', 'jobs', '--as', 'other', '--json')).stdout) as Record<string, unknown>;
    expect(j).toEqual({ topic: 'jobs', id: 1, body: 'm1', sender: null, time: expect.any(String), delivery: 1 });
    // inside a stream the consumer defaults to the stream id; the documented drain loop
    const drain = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(
        'sh',
        ['-c', `while m=$(${shellQuote(process.execPath)} ${shellQuote(COORD)} queue recv jobs 2>/dev/null); do echo "got $m"; done; echo end`],
        {
          cwd: rig.dir,
          env: rig.env({ COORD_STREAM_ID: 'drainer', COORD_RUN_DIR: join(rig.home, 'runs', 'r1') }),
        },
      );
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.on('close', (code) => resolve({ code, out }));
    });
    expect(drain.out).toBe('got m1\ngot m2\ngot m3\ngot m4\ngot m5\ngot from stdin\nsecond line\nend\n');
    const ls = await coord('queue', 'ls');
    expect(ls.stdout).toBe(
      [
        'TOPIC      SIZE',
        'jobs       6',
        '  drainer  next 7  lag 0  pending 0',
        '  other    next 2  lag 5  pending 0',
        '  solo     next 7  lag 0  pending 0',
        '',
      ].join('\n'),
    );
  });

  it('refuses bad input with a clear message and exit 2 (or 1 for an ack of an unknown id), changing nothing', async () => {
    await makeRuns();
    expect((await coord('queue', 'send', 'jobs', 'x')).code).toBe(0);
    expect((await coord('queue', 'recv', 'jobs', '--group', 'g', '--ack-timeout', '1h')).code).toBe(0);
    const runs = join(rig.home, 'runs');
    const before = snapshot(runs);
    const cases: Array<[string[], number, RegExp]> = [
      [['queue', 'send', '../x', 'hi'], 2, /bad topic name "\.\.\/x": use 1 to 64 letters/],
      [['queue', 'send', 'a/b', 'hi'], 2, /bad topic name "a\/b"/],
      [['queue', 'send', '.hidden', 'hi'], 2, /bad topic name/],
      [['queue', 'send', 'x'.repeat(65), 'hi'], 2, /bad topic name/],
      [['queue', 'recv', '../../etc', '--as', 'a'], 2, /bad topic name/],
      [['queue', 'recv', 'jobs', '--group', '../g'], 2, /bad group name/],
      [['queue', 'recv', 'jobs', '--as', 'a/b'], 2, /bad consumer name \(--as\)/],
      [['queue', 'recv', 'jobs'], 2, /recv needs a consumer: --group G/],
      [['queue', 'recv', 'jobs', '--as', 'a', '--wait', 'soon'], 2, /option '-w, --wait <duration>' argument 'soon' is invalid\. bad duration "soon"/],
      [['queue', 'recv', 'jobs', '--as', 'a', '--wait', '-1s'], 2, /option '-w, --wait <duration>' argument '-1s' is invalid\. bad duration/],
      [
        ['queue', 'recv', 'jobs', '--as', 'a', '--ack-timeout', '5 minutes'],
        2,
        /option '--ack-timeout <duration>' argument '5 minutes' is invalid\. bad duration/,
      ],
      [['queue', 'recv', 'jobs', '--as', 'a', '--ack-timeout', '0'], 2, /--ack-timeout must be more than 0/],
      [
        ['queue', 'recv', 'jobs', '--as', 'a', '--wait', `${'9'.repeat(400)}h`],
        2,
        /option '-w, --wait <duration>' argument '9+h' is invalid\. duration "9+h" is too long/,
      ],
      [['queue', 'ack', 'jobs', 'abc', '--group', 'g'], 2, /a message id is a whole number from 1, got "abc"/],
      [['queue', 'ack', 'jobs', '0', '--group', 'g'], 2, /a message id is a whole number/],
      [['queue', 'ack', 'jobs', '1'], 2, /ack needs a consumer/],
      [['queue', 'ack', 'jobs', '99', '--group', 'g'], 1, /message 99 of jobs is not waiting for an acknowledgement by g \(jobs has messages 1 to 1\)/],
      [
        ['queue', 'ack', 'jobs', '1', '--group', 'h'],
        1,
        /message 1 of jobs is not waiting for an acknowledgement by h \(it has not been delivered to it yet\)/,
      ],
      [['queue', 'ack', 'nothing', '1', '--group', 'g'], 1, /nothing has no messages/],
    ];
    for (const [args, code, message] of cases) {
      const r = await coord(...args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code, stderr: expect.stringMatching(message) });
      expect(r.stdout).toBe('');
    }
    expect((await rig.coord(['queue', 'send', 'jobs', 'x', '--run', 'nope'])).code).toBe(2);
    // the shared state's topic under message_queue
    const st = await rig.coord(['queue', 'send', 'state', 'x', '--run', 'r2']);
    expect(st.code).toBe(2);
    expect(st.stderr).toMatch(/topic state is written by the shared state \(state_management.type: message_queue\)/);
    expect(snapshot(runs)).toEqual(before);
    // outside message_queue, `state` is an ordinary topic
    expect((await coord('queue', 'send', 'state', 'x')).stdout).toBe('1\n');
  });

  it('refuses a message over 4 MiB, or JSON nesting more than 64 levels, with exit 2 naming the limit, storing nothing; at the limits it is taken whole', async () => {
    await makeRuns();
    const MiB = 1024 * 1024;
    const nest = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    const runs = join(rig.home, 'runs');
    const before = snapshot(runs);
    const cases: Array<[string, RegExp]> = [
      ['x'.repeat(4 * MiB + 1), /the message is too large: 4194305 bytes \(at most 4 MiB, 4194304 bytes\)/],
      ['é'.repeat(2 * MiB) + 'x', /too large: 4194305 bytes/],
      [nest(65), /the message is JSON nesting more than 64 levels of objects and arrays \(at most 64\)/],
      [`{"a":${nest(2500)}}`, /more than 64 levels/],
    ];
    for (const [body, why] of cases) {
      const r = await rig.coord(['queue', 'send', 'jobs', '--run', 'r1'], { input: body });
      expect({ code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({ code: 2, stderr: expect.stringMatching(why), stdout: '' });
    }
    expect((await coord('queue', 'send', 'jobs', nest(65))).code).toBe(2);
    expect(snapshot(runs)).toEqual(before);
    // at the limits; text that is not JSON is not looked into
    expect((await rig.coord(['queue', 'send', 'jobs', '--run', 'r1'], { input: 'x'.repeat(4 * MiB) })).stdout).toBe('1\n');
    expect((await coord('queue', 'send', 'jobs', nest(64))).stdout).toBe('2\n');
    expect((await coord('queue', 'send', 'jobs', '['.repeat(100))).stdout).toBe('3\n');
    const got = await coord('queue', 'recv', 'jobs', '--as', 'r', '--json');
    expect((JSON.parse(got.stdout) as { body: string }).body).toBe('x'.repeat(4 * MiB));
    expect((await coord('queue', 'recv', 'jobs', '--as', 'r')).stdout).toBe(nest(64) + '\n');
  });

  it('carries work between the streams of a run: a producer, a group of 3 workers, and a reader of everything', async () => {
    const out = join(rig.dir, 'out');
    const N = 24;
    const recvLoop = (flags: string, stop: string) =>
      `mkdir -p ${out}; while m=$(coord queue recv jobs ${flags} --wait 30s); do ${stop}; echo "$m" >> ${out}/$COORD_STREAM_ID; done`;
    rig.writePlan({
      streams: [
        {
          id: 'producer',
          command: `for i in $(seq 1 ${N}); do coord queue send jobs "m$i" >/dev/null || exit 1; done; for i in 1 2 3; do coord queue send jobs STOP >/dev/null; done`,
        },
        ...['w1', 'w2', 'w3'].map((id) => ({ id, command: recvLoop('--group workers', '[ "$m" = STOP ] && exit 0') })),
        // no --group, no --as: the stream id is the consumer; it reads every message
        { id: 'reader', command: `n=0; ${recvLoop('', '[ "$m" = STOP ] && n=$((n+1)) && [ $n = 3 ] && exit 0')}` },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml', '--concurrency', '8']);
    expect(r.code).toBe(0);
    const shares = ['w1', 'w2', 'w3'].map((w) => lines(join(out, w)));
    const all = shares.flat().sort();
    expect(all).toEqual(Array.from({ length: N }, (_, i) => `m${i + 1}`).sort());
    expect(lines(join(out, 'reader'))).toEqual([...Array.from({ length: N }, (_, i) => `m${i + 1}`), 'STOP', 'STOP']);

    const events = rig.events();
    const sent = events.filter((e) => e.type === 'queue-sent');
    expect(sent).toHaveLength(N + 3);
    expect(sent.every((e) => e.sender === 'producer' && e.topic === 'jobs')).toBe(true);
    const byWorkers = events.filter((e) => e.type === 'queue-received' && e.consumer === 'workers');
    expect(byWorkers.map((e) => e.id).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: N + 3 }, (_, i) => i + 1));
    // each worker's events match its share, plus the STOP that ended it
    for (const [i, w] of ['w1', 'w2', 'w3'].entries()) expect(byWorkers.filter((e) => e.member === w)).toHaveLength(shares[i]!.length + 1);
    expect(events.filter((e) => e.type === 'queue-received' && e.consumer === 'reader').map((e) => e.id)).toEqual(
      Array.from({ length: N + 3 }, (_, i) => i + 1),
    );

    const ls = JSON.parse((await rig.coord(['queue', 'ls', '--json'])).stdout) as unknown;
    expect(ls).toEqual({
      topics: [
        {
          topic: 'jobs',
          size: N + 3,
          consumers: [
            { name: 'reader', next: N + 4, lag: 0, pending: 0 },
            { name: 'workers', next: N + 4, lag: 0, pending: 0 },
          ],
        },
      ],
    });
    // coord status shows the same topics
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as { queues: unknown };
    expect({ topics: status.queues }).toEqual(ls);
    expect((await rig.coord(['status'])).stdout).toMatch(/TOPIC\s+SIZE\s+CONSUMERS.*\n\s*jobs\s+\d+\s+reader @\d+ lag 0; workers @\d+ lag 0/);
  });
  it('under state_management.type message_queue, a stream follows the shared state on the topic state and cannot send to it', async () => {
    rig.writePlan({
      stream_configuration: { coordination: { state_management: { type: 'message_queue' } } },
      streams: [
        {
          id: 's',
          command:
            'coord state set a 1 >/dev/null && coord state set a 2 >/dev/null && coord queue recv state --json && coord queue recv state && { coord queue send state x; echo "send $?"; }',
        },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const [first = '', second, send] = readFileSync(join(rig.runDir(), 'streams', 's', 'stdout'), 'utf8')
      .trim()
      .split('\n');
    expect(JSON.parse(first)).toMatchObject({ topic: 'state', id: 1, sender: 's', delivery: 1 });
    expect(JSON.parse((JSON.parse(first) as { body: string }).body)).toMatchObject({ version: 1, stream: 's', op: 'set', keys: ['a'], data: { a: 1 } });
    expect(JSON.parse(second!)).toMatchObject({ version: 2, data: { a: 2 } });
    expect(send).toBe('send 2');
    expect(readFileSync(join(rig.runDir(), 'streams', 's', 'stderr'), 'utf8')).toMatch(/topic state is written by the shared state/);
    const ls = JSON.parse((await rig.coord(['queue', 'ls', '--json'])).stdout) as unknown;
    expect(ls).toEqual({ topics: [{ topic: 'state', size: 2, consumers: [{ name: 's', next: 3, lag: 0, pending: 0 }] }] });
  });
});
