// Locks: uncontended acquire+release latency and contended throughput of FileLockManager,
// beside a bare mkdir/rmdir lock loop and a kernel flock(2) loop measured in the same run and
// the same directory; and a whole `coord lock PATH -- true` process beside `node -e 0`.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, ROOT, benchEnv, fmt, has, median, percentile, ratio, tempDir, timed } from './util.js';

const N = Number(process.env.BENCH_LOCK_CYCLES ?? 3000);
const PROCS = 4;
const CONTENDED = Number(process.env.BENCH_LOCK_CONTENDED ?? 500);

const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;

// flock(2) from Python's fcntl module: Node has no flock binding. Prints per-cycle ms, or one total.
const FLOCK_PY = `
import fcntl, os, sys, time
path, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = []
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
t0 = time.perf_counter()
for i in range(n):
    s = time.perf_counter()
    fcntl.flock(fd, fcntl.LOCK_EX)
    if mode == 'count':
        c = path + '.count'
        v = int(open(c).read() or 0) if os.path.exists(c) else 0
        open(c, 'w').write(str(v + 1))
    fcntl.flock(fd, fcntl.LOCK_UN)
    out.append((time.perf_counter() - s) * 1000)
print(' '.join('%.4f' % x for x in out) if mode == 'latency' else '%.3f' % ((time.perf_counter() - t0) * 1000))
`;

// a contended mkdir lock: retry every millisecond, as mkdir-based locks (proper-lockfile) do
const MKDIR_JS = `
import { mkdirSync, rmdirSync, readFileSync, writeFileSync } from 'node:fs';
const [dir, counter, n] = process.argv.slice(1);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; i < Number(n); i++) {
  for (;;) { try { mkdirSync(dir); break; } catch { await sleep(1); } }
  let v = 0; try { v = Number(readFileSync(counter, 'utf8')) || 0; } catch {}
  writeFileSync(counter, String(v + 1));
  rmdirSync(dir);
}
`;

function procs(count, cmd, argsOf, opts = {}) {
  const t0 = performance.now();
  return Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise((resolve, reject) => {
          const c = spawn(cmd, argsOf(i), { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
          let err = '';
          c.stderr.on('data', (d) => (err += d));
          c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err}`))));
        }),
    ),
  ).then(() => performance.now() - t0);
}

export async function run() {
  const { FileLockManager } = await import(join(ROOT, 'dist', 'locks', 'manager.js'));
  const { dir, cleanup } = tempDir('locks');
  try {
    const registry = join(dir, 'registry');
    const manager = new FileLockManager({ registry });
    const target = join(dir, 'file');
    // uncontended: library acquire + release
    for (let i = 0; i < 200; i++) await (await manager.acquire(target)).release();
    const lib = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      const h = await manager.acquire(target);
      await h.release();
      lib.push(performance.now() - t0);
    }
    const mk = [];
    const md = join(registry, 'mkdir-lock');
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      mkdirSync(md);
      rmdirSync(md);
      mk.push(performance.now() - t0);
    }
    let fl = null;
    const python = has('python3');
    if (python) {
      const r = spawnSync('python3', ['-c', FLOCK_PY, join(registry, 'flock-file'), String(N), 'latency'], { encoding: 'utf8' });
      if (r.status === 0) fl = r.stdout.trim().split(' ').map(Number);
    }
    console.log(`\n## Locks: uncontended acquire + release (${N} cycles, one process, same directory)`);
    console.log('| lock | p50 | p99 | p50 vs mkdir |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| mkdir/rmdir (baseline) | ${us(percentile(mk, 50))} | ${us(percentile(mk, 99))} | 1.00x |`);
    if (fl)
      console.log(
        `| flock(2) via Python (baseline) | ${us(percentile(fl, 50))} | ${us(percentile(fl, 99))} | ${ratio(percentile(fl, 50), percentile(mk, 50))} |`,
      );
    console.log(
      `| FileLockManager (read/write, fenced, leased) | ${us(percentile(lib, 50))} | ${us(percentile(lib, 99))} | ${ratio(percentile(lib, 50), percentile(mk, 50))} |`,
    );

    // contended: 4 processes, each CONTENDED cycles of lock / read-increment-write / unlock
    const total = PROCS * CONTENDED;
    const stress = join(ROOT, 'fixtures', 'lock-stress.js');
    const env = benchEnv({ COORD_LOCK_DIR: registry });
    const libMs = await procs(
      PROCS,
      process.execPath,
      () => [stress, join(dir, 'c-file'), join(dir, 'c-counter'), join(dir, 'c-log'), String(CONTENDED), 'write'].map(String),
      { env },
    );
    const mkMs = await procs(PROCS, process.execPath, () => [
      '--input-type=module',
      '-e',
      MKDIR_JS,
      join(dir, 'm-lock'),
      join(dir, 'm-counter'),
      String(CONTENDED),
    ]);
    const flMs = python ? await procs(PROCS, 'python3', () => ['-c', FLOCK_PY, join(dir, 'f-lock'), String(CONTENDED), 'count']) : null;
    const { readFileSync } = await import('node:fs');
    const counts = [readFileSync(join(dir, 'c-counter'), 'utf8'), readFileSync(join(dir, 'm-counter'), 'utf8')];
    console.log(`\n## Locks: contended, ${PROCS} processes × ${CONTENDED} cycles of lock / read-increment-write / unlock`);
    console.log('| lock | wall time | cycles/s | final count |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| mkdir/rmdir, 1 ms retry (baseline) | ${fmt(mkMs)} | ${Math.round(total / (mkMs / 1000))} | ${counts[1]} |`);
    if (flMs !== null)
      console.log(
        `| flock(2) via Python (baseline) | ${fmt(flMs)} | ${Math.round(total / (flMs / 1000))} | ${readFileSync(join(dir, 'f-lock.count'), 'utf8')} |`,
      );
    console.log(`| FileLockManager | ${fmt(libMs)} | ${Math.round(total / (libMs / 1000))} | ${counts[0]} |`);
    if (Number(counts[0]) !== total) throw new Error(`lost update: FileLockManager counted ${counts[0]} of ${total}`);

    // a whole `coord lock PATH -- true` process, as streams call it in loops
    const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 20);
    const cenv = benchEnv({ COORD_LOCK_DIR: registry });
    const sample = async (args) => {
      await timed(process.execPath, args, { env: cenv, cwd: dir });
      const xs = [];
      for (let i = 0; i < RUNS; i++) xs.push(await timed(process.execPath, args, { env: cenv, cwd: dir }));
      return median(xs);
    };
    writeFileSync(join(dir, 'x'), '');
    const base = await sample(['-e', '0']);
    const lockMs = await sample([COORD, 'lock', join(dir, 'x'), '--', 'true']);
    const writeMs = await sample([COORD, 'write', join(dir, 'x')]);
    console.log(`\n## Locks: whole process (median of ${RUNS})`);
    console.log('| command | time | vs node -e 0 |');
    console.log('| --- | --- | --- |');
    console.log(`| node -e 0 (baseline) | ${fmt(base)} | 1.00x |`);
    console.log(`| coord lock PATH -- true | ${fmt(lockMs)} | ${ratio(lockMs, base)} |`);
    console.log(`| coord write PATH < /dev/null | ${fmt(writeMs)} | ${ratio(writeMs, base)} |`);
  } finally {
    cleanup();
  }
}
