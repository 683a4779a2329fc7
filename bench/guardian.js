// The guardian: (1) detection latency, from a stream's heartbeat deadline to the soft signal;
// (2) what watching 500 idle streams for 30 s costs the coordinator (and its launchers):
// CPU and memory, beside an idle `node` process measured over the same window.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, benchEnv, fmt, median, percentile, tempDir, timed } from './util.js';

const IDLE = Number(process.env.BENCH_IDLE_STREAMS ?? 500);
const WINDOW_S = Number(process.env.BENCH_IDLE_SECONDS ?? 30);
const TICK = 100; // clock ticks per second (getconf CLK_TCK on Linux)

function plan(ws, streams, heartbeat, extra = '') {
  const lines = ['agent_coordination:', `  workspace_root: ${ws}`, `  heartbeat: ${heartbeat}`, extra, 'streams:'];
  for (const [id, command] of streams) lines.push(`  - id: ${id}`, `    command: ${JSON.stringify(command)}`);
  return lines.filter(Boolean).join('\n') + '\n';
}

function readEvents(home) {
  const runs = join(home, 'runs');
  const [id] = readdirSync(runs);
  return readFileSync(join(runs, id, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

async function detection(dir) {
  const home = join(dir, '.coord-detect');
  const streams = Array.from({ length: 20 }, (_, i) => [`s${i}`, 'echo started; exec sleep 30']);
  writeFileSync(join(dir, 'detect.yaml'), plan(join(dir, 'ws'), streams, '{ timeout: 2s }', '  recovery: { guardian: { grace: 1s, max_restarts: 0 } }'));
  await timed(process.execPath, [COORD, 'run', 'detect.yaml', '--quiet'], { cwd: dir, env: benchEnv({ COORD_HOME: home }) }).catch(() => undefined);
  const events = readEvents(home);
  const lat = [];
  for (const e of events.filter((x) => x.type === 'stream-stalled')) {
    const signalled = events.find((x) => x.type === 'stream-signalled' && x.stream === e.stream && x.signal === 'SIGTERM');
    if (!signalled || !e.lastHeartbeat) continue;
    lat.push(Date.parse(signalled.time) - (Date.parse(e.lastHeartbeat) + 2000));
  }
  return lat;
}

function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function childrenOf(pid) {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        const s = readFileSync(`/proc/${n}/stat`, 'latin1');
        return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function idleWatch(dir) {
  const home = join(dir, '.coord-idle');
  const streams = Array.from({ length: IDLE }, (_, i) => [`i${i}`, ['sleep', String(WINDOW_S + 60)]]);
  writeFileSync(join(dir, 'idle.yaml'), plan(join(dir, 'ws'), streams, '{ timeout: 10m }'));
  const coord = spawn(process.execPath, [COORD, 'run', 'idle.yaml', '--quiet', '--concurrency', String(IDLE)], {
    cwd: dir,
    env: benchEnv({ COORD_HOME: home }),
    stdio: 'ignore',
  });
  const idleNode = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  // wait until every stream runs
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    try {
      if (readEvents(home).filter((e) => e.type === 'stream-started').length >= IDLE) break;
    } catch {
      /* run not created yet */
    }
  }
  await new Promise((r) => setTimeout(r, 2000)); // let start-up settle
  const family = () => [coord.pid, ...childrenOf(coord.pid).filter((p) => readFileSync(`/proc/${p}/cmdline`, 'latin1').includes('launcher'))];
  const pids = family();
  const before = pids.map(cpuTicks);
  const baseBefore = cpuTicks(idleNode.pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
  const secs = (performance.now() - t0) / 1000;
  const used = pids.map(cpuTicks).reduce((a, b, i) => a + b - before[i], 0) / TICK;
  const coordOnly = (cpuTicks(coord.pid) - before[0]) / TICK;
  const base = (cpuTicks(idleNode.pid) - baseBefore) / TICK;
  const result = {
    coordCpu: (coordOnly / secs) * 100,
    familyCpu: (used / secs) * 100,
    baseCpu: (base / secs) * 100,
    rss: rssMb(coord.pid),
    launchersRss: pids.slice(1).map(rssMb),
    baseRss: rssMb(idleNode.pid),
  };
  await timed(process.execPath, [COORD, 'stop', '--timeout', '60s'], { cwd: dir, env: benchEnv({ COORD_HOME: home }) });
  idleNode.kill();
  return result;
}

export async function run() {
  const { dir, cleanup } = tempDir('guardian');
  try {
    const lat = await detection(dir);
    console.log(`\n## Guardian: detection latency (${lat.length} stalled streams, heartbeat timeout 2 s)`);
    console.log('| from the deadline to SIGTERM | p50 | max |');
    console.log('| --- | --- | --- |');
    console.log(`| coord | ${fmt(median(lat))} | ${fmt(percentile(lat, 100))} |`);
    const r = await idleWatch(dir);
    console.log(`\n## Guardian: watching ${IDLE} idle streams for ${WINDOW_S} s`);
    console.log('| process | CPU (% of one core) | memory (RSS) |');
    console.log('| --- | --- | --- |');
    console.log(`| idle \`node\` (baseline) | ${r.baseCpu.toFixed(2)}% | ${r.baseRss.toFixed(0)} MB |`);
    console.log(`| coord coordinator | ${r.coordCpu.toFixed(2)}% | ${r.rss.toFixed(0)} MB |`);
    console.log(
      `| coordinator + ${r.launchersRss.length} launchers | ${r.familyCpu.toFixed(2)}% | ${(r.rss + r.launchersRss.reduce((a, b) => a + b, 0)).toFixed(0)} MB |`,
    );
  } finally {
    cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
