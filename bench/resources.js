// Scheduling overhead of resource pools: 500 streams of `true`, each demanding 1 unit of a
// pool of 4, beside the same 500 streams without pools — concurrency 8 in both, same run.
// (With the pool at most 4 run at once; the third row, without pools at concurrency 4, shows
// how much of the difference is that cap rather than the pools' bookkeeping.)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, benchEnv, fmt, median, ratio, tempDir, timed } from './util.js';

const N = Number(process.env.BENCH_STREAMS ?? 500);
const J = 8;
const POOL = 4;
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);

function plan(ws, withPool) {
  const lines = ['version: 1', 'name: bench', 'agent_coordination:', `  workspace_root: ${ws}`];
  if (withPool) lines.push(`  resources: { slots: ${POOL} }`);
  lines.push('streams:');
  for (let i = 0; i < N; i++) {
    lines.push(`  - id: s${i}`, '    command: ["true"]');
    if (withPool) lines.push('    resources: { slots: 1 }');
  }
  return lines.join('\n') + '\n';
}

export async function run() {
  const { dir, cleanup } = tempDir('resources');
  try {
    const plans = { bare: join(dir, 'bare.yaml'), pool: join(dir, 'pool.yaml') };
    writeFileSync(plans.bare, plan(join(dir, 'ws'), false));
    writeFileSync(plans.pool, plan(join(dir, 'ws'), true));
    const coord = (file, concurrency) => () =>
      timed(process.execPath, [COORD, 'run', file, '--concurrency', String(concurrency), '--quiet'], {
        cwd: dir,
        env: benchEnv({ COORD_HOME: join(dir, '.coord') }),
      });
    const runners = [
      [`no pools, concurrency ${J} (baseline)`, coord(plans.bare, J)],
      [`pool of ${POOL}, 1 unit each, concurrency ${J}`, coord(plans.pool, J)],
      [`no pools, concurrency ${POOL}`, coord(plans.bare, POOL)],
    ];
    // Runners take turns, REPEAT rounds; each figure is the median of its rounds.
    const samples = new Map(runners.map(([label]) => [label, []]));
    for (let round = 0; round < REPEAT; round++) {
      for (const [label, fn] of runners) samples.get(label).push(await fn());
    }
    const results = runners.map(([label]) => [label, median(samples.get(label))]);
    const base = results[0][1];
    console.log(`\n## Resource pools: ${N} streams of \`true\` (median of ${REPEAT} rounds; target: pool within 1.2x of no pools)`);
    console.log('| run | total | per stream | vs no pools |');
    console.log('| --- | --- | --- | --- |');
    for (const [label, ms] of results) console.log(`| ${label} | ${fmt(ms)} | ${fmt(ms / N)} | ${ratio(ms, base)} |`);
  } finally {
    cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
