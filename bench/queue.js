// Queues: MessageQueue.send and recv in one process (2,000 messages), beside bare appends
// measured in the same run and the same directory (a link(2)-published file per message, as
// the topic log writes them, and lines appended to one O_APPEND file); 3 consumer processes
// of one group draining 2,000 messages; and a whole `coord queue send` / `recv` process beside
// `node -e 0`.
import { spawn } from 'node:child_process';
import { closeSync, linkSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, ROOT, benchEnv, fmt, median, ratio as ratio2, tempDir, timed } from './util.js';

const N = Number(process.env.BENCH_QUEUE_MESSAGES ?? 2000);
const WORKERS = 3;

const perSec = (n, ms) => Math.round(n / (ms / 1000));
// small ratios (the O_APPEND baseline) need more digits
const ratio = (a, b) => (a / b < 0.1 ? `${(a / b).toFixed(3)}x` : ratio2(a, b));

function runRecord(id) {
  return {
    id,
    plan: '/bench/plan.yaml',
    name: 'bench',
    state: 'running',
    startedAt: new Date().toISOString(),
    endedAt: null,
    coordinator: { pid: process.pid, startTime: null, host: 'bench' },
    workspaceDir: '/tmp/bench',
    concurrency: 1,
    pools: {},
  };
}

function procs(count, argsOf, env) {
  const t0 = performance.now();
  return Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise((resolve, reject) => {
          const c = spawn(process.execPath, argsOf(i), { stdio: ['ignore', 'ignore', 'pipe'], env });
          let err = '';
          c.stderr.on('data', (d) => (err += d));
          c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited ${code}: ${err}`))));
        }),
    ),
  ).then(() => performance.now() - t0);
}

export async function run() {
  const { FileBackend } = await import(join(ROOT, 'dist', 'backend', 'file', 'file-backend.js'));
  const { MessageQueue } = await import(join(ROOT, 'dist', 'queue', 'queue.js'));
  const { dir, cleanup } = tempDir('queue');
  try {
    const home = join(dir, '.coord');
    const backend = new FileBackend(home);
    await backend.createRun(runRecord('r1'), 'streams: []\n');
    const queue = new MessageQueue(backend, 'r1', { sender: 'bench' });
    const body = JSON.stringify({ file: 'src/some/file.ts', shard: 3 });

    // warm-up on another topic
    for (let i = 0; i < 100; i++) await queue.send('warm', body);
    for (let i = 0; i < 100; i++) await queue.recv('warm', { consumer: 'c' });

    let t0 = performance.now();
    for (let i = 0; i < N; i++) await queue.send('jobs', body);
    const sendMs = performance.now() - t0;
    t0 = performance.now();
    for (let i = 0; i < N; i++) if (!(await queue.recv('jobs', { consumer: 'solo' }))) throw new Error('queue ran dry');
    const recvMs = performance.now() - t0;
    const ACKED = Math.floor(N / 2);
    t0 = performance.now();
    for (let i = 0; i < ACKED; i++) {
      const m = await queue.recv('jobs', { consumer: 'acking', ackTimeoutMs: 60_000 });
      await queue.ack('jobs', m.id, { consumer: 'acking' });
    }
    const ackMs = performance.now() - t0;

    // baseline 1: a file per message published with link(2), as the topic log does (no JSON, no events)
    const linkDir = join(dir, 'link-baseline');
    mkdirSync(linkDir);
    const line = JSON.stringify({ body, sender: 'bench', time: new Date().toISOString() });
    t0 = performance.now();
    for (let i = 1; i <= N; i++) {
      const tmp = join(linkDir, `.tmp-${i}`);
      const fd = openSync(tmp, 'wx', 0o600);
      writeSync(fd, line);
      closeSync(fd);
      linkSync(tmp, join(linkDir, `${i}.json`));
      unlinkSync(tmp);
    }
    const linkMs = performance.now() - t0;
    // baseline 2: lines appended to one O_APPEND file (what events.jsonl does)
    const fd = openSync(join(dir, 'append-baseline.jsonl'), 'a', 0o600);
    t0 = performance.now();
    for (let i = 0; i < N; i++) writeSync(fd, line + '\n');
    const appendMs = performance.now() - t0;
    closeSync(fd);

    console.log(`\n## Queues: ${N} messages in one process (same directory)`);
    console.log('| operation | total | messages/s | vs link(2) per message |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| O_APPEND line per message (baseline) | ${fmt(appendMs)} | ${perSec(N, appendMs)} | ${ratio(appendMs, linkMs)} |`);
    console.log(`| temp file + link(2) per message (baseline) | ${fmt(linkMs)} | ${perSec(N, linkMs)} | 1.00x |`);
    console.log(`| MessageQueue.send | ${fmt(sendMs)} | ${perSec(N, sendMs)} | ${ratio(sendMs, linkMs)} |`);
    console.log(`| MessageQueue.recv (one consumer) | ${fmt(recvMs)} | ${perSec(N, recvMs)} | ${ratio(recvMs, linkMs)} |`);
    console.log(
      `| MessageQueue.recv with ack timeout + ack (${ACKED} messages) | ${fmt(ackMs)} | ${perSec(ACKED, ackMs)} | ${ratio(ackMs / ACKED, linkMs / N)} |`,
    );

    // a group of worker processes draining a topic (each ends at its STOP message)
    const worker = join(ROOT, 'fixtures', 'queue-worker.js');
    for (let i = 0; i < N; i++) await queue.send('work', body);
    for (let i = 0; i < WORKERS; i++) await queue.send('work', 'STOP');
    const env = benchEnv();
    const nodeMs = await procs(WORKERS, () => ['-e', '0'], env);
    const drainMs = await procs(WORKERS, (i) => [worker, home, 'r1', 'consume', 'work', 'group', `w${i}`, join(dir, `w${i}.out`)], env);
    const summary = await queue.summary();
    const work = summary.find((t) => t.topic === 'work').consumers.find((c) => c.name === 'group');
    if (work.lag !== 0) throw new Error(`the group left ${work.lag} messages`);
    console.log(`\n## Queues: ${WORKERS} consumer processes of one group draining ${N} messages`);
    console.log('| run | wall time | messages/s |');
    console.log('| --- | --- | --- |');
    console.log(`| ${WORKERS} × node -e 0 (baseline: process start alone) | ${fmt(nodeMs)} | — |`);
    console.log(
      `| ${WORKERS} × MessageQueue.recv loop (exactly once, compare-and-set contention) | ${fmt(drainMs)} | ${perSec(N, drainMs - nodeMs)} (start-up taken off) |`,
    );

    // whole processes, as streams call them in loops
    const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 20);
    const cenv = benchEnv({ COORD_HOME: home });
    const sample = async (args) => {
      await timed(process.execPath, args, { env: cenv, cwd: dir });
      const xs = [];
      for (let i = 0; i < RUNS; i++) xs.push(await timed(process.execPath, args, { env: cenv, cwd: dir }));
      return median(xs);
    };
    const base = await sample(['-e', '0']);
    const sendProc = await sample([COORD, 'queue', 'send', 'cli', body, '--run', 'r1']);
    const recvProc = await sample([COORD, 'queue', 'recv', 'cli', '--as', 'reader', '--run', 'r1']);
    console.log(`\n## Queues: whole process (median of ${RUNS})`);
    console.log('| command | time | vs node -e 0 |');
    console.log('| --- | --- | --- |');
    console.log(`| node -e 0 (baseline) | ${fmt(base)} | 1.00x |`);
    console.log(`| coord queue send TOPIC MESSAGE | ${fmt(sendProc)} | ${ratio(sendProc, base)} |`);
    console.log(`| coord queue recv TOPIC --as NAME | ${fmt(recvProc)} | ${ratio(recvProc, base)} |`);
    await backend.close();
  } finally {
    cleanup();
  }
}
