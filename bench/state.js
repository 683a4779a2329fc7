// Shared state: StateStore update latency (p50, p99), plain and durable, beside a bare
// temp + write (+ fsync) + rename of the same document measured in the same run and directory;
// and a whole `coord state incr` process beside `node -e 0`.
import { closeSync, fsyncSync, openSync, renameSync, writeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, ROOT, benchEnv, fmt, median, percentile, ratio, tempDir, timed } from './util.js';

const N = Number(process.env.BENCH_STATE_UPDATES ?? 1000);
const ND = Number(process.env.BENCH_STATE_DURABLE ?? 300);
const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;

/** A bare atomic replace of `doc`: temp file, write, optionally fsync (file and directory), rename. */
function bareWrite(dir, doc, durable) {
  const file = join(dir, 'doc.json');
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  writeSync(fd, JSON.stringify(doc));
  if (durable) fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file);
  if (durable) {
    const d = openSync(dir, 'r');
    fsyncSync(d);
    closeSync(d);
  }
}

export async function run() {
  const { FileBackend } = await import(join(ROOT, 'dist', 'backend', 'file', 'file-backend.js'));
  const { StateStore } = await import(join(ROOT, 'dist', 'state', 'store.js'));
  const { dir, cleanup } = tempDir('state');
  try {
    const home = join(dir, '.coord');
    const backend = new FileBackend(home);
    const run = (id, durable) => ({
      id,
      plan: '/p.yaml',
      name: 'p',
      state: 'running',
      startedAt: new Date().toISOString(),
      endedAt: null,
      coordinator: { pid: process.pid, startTime: null, host: 'here' },
      workspaceDir: dir,
      concurrency: 1,
      pools: {},
      sharedState: { type: 'centralized', keepVersions: 100, durable },
    });
    await backend.createRun(run('plain', false), '');
    await backend.createRun(run('durable', true), '');
    // a document of a realistic size: 50 keys of small objects
    const seed = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, { done: false, owner: `stream-${i % 4}`, files: [`src/f${i}.ts`] }]));
    const measure = async (runId, n) => {
      const store = await StateStore.open(backend, runId, { onEvent: () => undefined });
      await store.set('seed', seed);
      for (let i = 0; i < 50; i++) await store.incr('n');
      const xs = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await store.incr('n');
        xs.push(performance.now() - t0);
      }
      return xs;
    };
    const bare = (durable, n) => {
      const d = join(dir, durable ? 'bare-durable' : 'bare');
      mkdirSync(d);
      const doc = { seed, n: 0 };
      const xs = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        doc.n++;
        bareWrite(d, doc, durable);
        xs.push(performance.now() - t0);
      }
      return xs;
    };
    const bp = bare(false, N);
    const sp = await measure('plain', N);
    const bd = bare(true, ND);
    const sd = await measure('durable', ND);
    console.log(`\n## Shared state: one update (incr of a ${JSON.stringify({ seed, n: 0 }).length}-byte document; change-log entry and event included)`);
    console.log('| write | updates | p50 | p99 | p50 vs its bare write |');
    console.log('| --- | --- | --- | --- | --- |');
    console.log(`| bare temp + write + rename (baseline) | ${N} | ${us(percentile(bp, 50))} | ${us(percentile(bp, 99))} | 1.00x |`);
    console.log(`| StateStore.incr | ${N} | ${us(percentile(sp, 50))} | ${us(percentile(sp, 99))} | ${ratio(percentile(sp, 50), percentile(bp, 50))} |`);
    console.log(`| bare temp + write + fsync + rename + dir fsync (baseline) | ${ND} | ${us(percentile(bd, 50))} | ${us(percentile(bd, 99))} | 1.00x |`);
    console.log(
      `| StateStore.incr, durable: true | ${ND} | ${us(percentile(sd, 50))} | ${us(percentile(sd, 99))} | ${ratio(percentile(sd, 50), percentile(bd, 50))} |`,
    );
    const total = (await StateStore.open(backend, 'plain')).read();
    if ((await total).data.n !== N + 50) throw new Error(`lost update: n is ${(await total).data.n}, expected ${N + 50}`);

    // a whole `coord state incr` process, as streams call it from shell loops
    const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 20);
    const env = benchEnv({ COORD_HOME: home });
    const sample = async (args) => {
      await timed(process.execPath, args, { env, cwd: dir });
      const xs = [];
      for (let i = 0; i < RUNS; i++) xs.push(await timed(process.execPath, args, { env, cwd: dir }));
      return median(xs);
    };
    const base = await sample(['-e', '0']);
    const incr = await sample([COORD, 'state', 'incr', 'cold', '--run', 'plain']);
    const get = await sample([COORD, 'state', 'get', 'n', '--run', 'plain']);
    console.log(`\n## Shared state: whole process (median of ${RUNS})`);
    console.log('| command | time | vs node -e 0 |');
    console.log('| --- | --- | --- |');
    console.log(`| node -e 0 (baseline) | ${fmt(base)} | 1.00x |`);
    console.log(`| coord state incr KEY | ${fmt(incr)} | ${ratio(incr, base)} |`);
    console.log(`| coord state get KEY | ${fmt(get)} | ${ratio(get, base)} |`);
    await backend.close();
  } finally {
    cleanup();
  }
}
