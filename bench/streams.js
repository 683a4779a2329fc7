// 1,000 streams of `true` at concurrency 8: coord beside xargs -P 8, GNU parallel -j 8 (when
// installed) and a bare Node spawn loop, all measured in this run.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, benchEnv, fmt, has, median, ratio, tempDir, timed } from './util.js';

const N = Number(process.env.BENCH_STREAMS ?? 1000);
const J = 8;
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);

function barePlan(command) {
  const lines = ['version: 1', 'name: bench', 'agent_coordination:', '  workspace_root: WS', 'streams:'];
  for (let i = 0; i < N; i++) lines.push(`  - id: s${i}`, `    command: ${command}`);
  return lines.join('\n') + '\n';
}

async function bareNode() {
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < N) {
      next++;
      await new Promise((r) => spawn('true', [], { stdio: 'ignore' }).on('close', r));
    }
  };
  await Promise.all(Array.from({ length: J }, worker));
  return performance.now() - t0;
}

export async function run() {
  const { dir, cleanup } = tempDir('streams');
  try {
    const seq = Array.from({ length: N }, (_, i) => String(i)).join('\n') + '\n';
    const plans = {};
    for (const [key, command] of [
      ['array', '["true"]'],
      ['string', '"true"'],
    ]) {
      plans[key] = join(dir, `plan-${key}.yaml`);
      writeFileSync(plans[key], barePlan(command).replace('WS', join(dir, 'ws')));
    }
    const coord = (plan) =>
      timed(process.execPath, [COORD, 'run', plan, '--concurrency', String(J), '--quiet'], {
        cwd: dir,
        env: benchEnv({ COORD_HOME: join(dir, '.coord') }),
      });
    const runners = [
      ['xargs -P 8', () => timed('xargs', ['-P', String(J), '-n', '1', 'true'], { input: seq })],
      ...(has('parallel') ? [['GNU parallel -j 8', () => timed('parallel', ['-j', String(J), 'true', ':::', ...seq.trim().split('\n')])]] : []),
      ['bare Node spawn, 8 at once', bareNode],
      ['coord run (array command)', () => coord(plans.array)],
      ['coord run (string command, sh -c)', () => coord(plans.string)],
    ];
    // Runners take turns, REPEAT rounds; each figure is the median of its rounds.
    const samples = new Map(runners.map(([label]) => [label, []]));
    for (let round = 0; round < REPEAT; round++) {
      for (const [label, fn] of runners) samples.get(label).push(await fn());
    }
    const results = runners.map(([label]) => [label, median(samples.get(label))]);
    const xargs = results[0][1];
    const parallel = results.find(([l]) => l.startsWith('GNU'))?.[1];
    console.log(`\n## ${N} streams of \`true\`, concurrency ${J} (median of ${REPEAT} rounds)`);
    console.log('| runner | total | per stream | vs xargs | vs GNU parallel |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const [label, ms] of results) {
      console.log(`| ${label} | ${fmt(ms)} | ${fmt(ms / N)} | ${ratio(ms, xargs)} | ${parallel ? ratio(ms, parallel) : 'n/a'} |`);
    }
    if (!parallel) console.log('(GNU parallel is not installed: `apt-get install parallel` to compare)');
  } finally {
    cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
