// Cold start: `coord --version` and `coord status` beside `node -e 0`, in the same environment.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, benchEnv, fmt, median, ratio, tempDir, timed } from './util.js';

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 20);

async function sample(args, opts) {
  const xs = [];
  await timed(process.execPath, args, opts); // warm the file cache
  for (let i = 0; i < RUNS; i++) xs.push(await timed(process.execPath, args, opts));
  return median(xs);
}

export async function run() {
  const { dir, cleanup } = tempDir('cold');
  try {
    const env = benchEnv({ COORD_HOME: join(dir, '.coord') });
    writeFileSync(join(dir, 'plan.yaml'), `agent_coordination:\n  workspace_root: ${join(dir, 'ws')}\nstreams:\n  - id: a\n    command: "true"\n`);
    await timed(process.execPath, [COORD, 'run', 'plan.yaml', '--quiet'], { cwd: dir, env });
    const base = await sample(['-e', '0'], { cwd: dir, env });
    const rows = [
      ['node -e 0 (baseline)', base],
      ['coord --version', await sample([COORD, '--version'], { cwd: dir, env })],
      ['coord status', await sample([COORD, 'status'], { cwd: dir, env })],
    ];
    console.log(`\n## Cold start (median of ${RUNS})`);
    console.log('| command | time | vs node -e 0 |');
    console.log('| --- | --- | --- |');
    for (const [label, ms] of rows) console.log(`| ${label} | ${fmt(ms)} | ${ratio(ms, base)} |`);
  } finally {
    cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
