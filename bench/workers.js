// Distributed execution: 1,000 short streams (`sleep 0.2`) run by `coord run --workers` on 1,
// 2 and 4 `coord worker` processes of this host (8 slots each), on a private redis-server.
// The baseline is the 1-worker round of the same run; the target is 4 workers at least 3x
// faster than one. BENCH_WORKER_STREAMS changes the number of streams, BENCH_WORKER_SLOTS the slots.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, has, ratio, tempDir } from './util.js';
import { startServer } from './redis.js';

const STREAMS = Number(process.env.BENCH_WORKER_STREAMS ?? 1000);
const SLOTS = Number(process.env.BENCH_WORKER_SLOTS ?? 8);

function startWorker(dir, url, name) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [COORD, 'worker', '--backend', url, '--name', name, '--slots', String(SLOTS)], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      if (err.includes(': ready')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`worker ${name} exited ${code}: ${err}`)));
  });
}

function runPlan(dir, url) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [COORD, 'run', 'plan.yaml', '--workers', '--backend', url, '--quiet'], {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CI: 'true' },
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`coord run exited ${code}: ${err.slice(-800)}`))));
  });
}

export async function run() {
  console.log(`\n## Workers: ${STREAMS} streams of \`sleep 0.2\`, ${SLOTS} slots a worker (one run each; baseline: 1 worker)`);
  if (!has('redis-server')) {
    console.log('skipped: redis-server is not installed (apt-get install redis-server)');
    return;
  }
  const tmp = tempDir('workers');
  const server = await startServer(tmp.dir);
  try {
    const ids = Array.from({ length: STREAMS }, (_, i) => `s${i + 1}`);
    const plan = [
      'version: 1',
      'name: workers-bench',
      'agent_coordination:',
      `  workspace_root: ${join(tmp.dir, 'ws')}`,
      'streams:',
      ...ids.map((id) => `  - id: ${id}\n    command: sleep 0.2`),
    ].join('\n');
    writeFileSync(join(tmp.dir, 'plan.yaml'), plan + '\n');
    const rows = [];
    let db = 0;
    for (const n of [1, 2, 4]) {
      const url = `redis://127.0.0.1:${server.port}/${++db}`;
      const workers = await Promise.all(Array.from({ length: n }, (_, i) => startWorker(tmp.dir, url, `w${i + 1}`)));
      try {
        const ms = await runPlan(tmp.dir, url);
        rows.push({ n, ms });
      } finally {
        await Promise.all(
          workers.map(
            (w) =>
              new Promise((r) => {
                w.once('exit', r);
                w.kill('SIGTERM');
              }),
          ),
        );
      }
    }
    const base = rows[0].ms;
    const ideal = (STREAMS * 200) / SLOTS;
    console.log('| workers | wall time | streams/s | vs 1 worker | vs the ideal (`sleep` time / slots) |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const r of rows) {
      console.log(
        `| ${r.n} | ${(r.ms / 1000).toFixed(2)} s | ${((STREAMS * 1000) / r.ms).toFixed(0)} | ${ratio(base, r.ms)} faster | ${(ideal / r.n / r.ms).toFixed(2)} |`,
      );
    }
    const four = rows.find((r) => r.n === 4);
    console.log(`target: 4 workers at least 3x one worker: ${four && base / four.ms >= 3 ? 'met' : 'missed'} (${ratio(base, four?.ms ?? base)})`);
  } finally {
    server.stop();
    tmp.cleanup();
  }
}
