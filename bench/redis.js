// The Redis backend: a lock acquire + release (FileLockManager on a RedisLockStore), a shared-state update (StateStore.incr: one compare-and-set script with its
// change-log entry) and a queue send + receive + acknowledge on Redis, beside a bare
// `SET key NX` + `DEL key` loop on the same server and client library, measured in the same run.
// A private redis-server (Debian package redis-server) is started on 127.0.0.1 for the run.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT, has, median, percentile, ratio, tempDir } from './util.js';

const N = Number(process.env.BENCH_REDIS_OPS ?? 2000);
const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function startServer(dir) {
  const port = await freePort();
  const proc = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const { Redis } = await import('ioredis');
  for (let i = 0; i < 100; i++) {
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      return { port, stop: () => proc.kill('SIGTERM') };
    } catch {
      c.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  proc.kill('SIGKILL');
  throw new Error('redis-server did not start');
}

async function sample(n, op) {
  for (let i = 0; i < 100; i++) await op(i); // warm-up
  const xs = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await op(i);
    xs.push(performance.now() - t0);
  }
  return { p50: median(xs), p99: percentile(xs, 99) };
}

export async function run() {
  if (!has('redis-server')) {
    console.log('\n## Redis backend\nskipped: redis-server is not installed (apt-get install redis-server)');
    return;
  }
  const { dir, cleanup } = tempDir('redis');
  const server = await startServer(dir);
  const url = `redis://127.0.0.1:${server.port}/0`;
  const { Redis } = await import('ioredis');
  const { RedisBackend } = await import(join(ROOT, 'dist', 'backend', 'redis', 'redis-backend.js'));
  const { StateStore } = await import(join(ROOT, 'dist', 'state', 'store.js'));
  const { MessageQueue } = await import(join(ROOT, 'dist', 'queue', 'queue.js'));
  const { FileLockManager } = await import(join(ROOT, 'dist', 'locks', 'manager.js'));
  const { RedisLockStore } = await import(join(ROOT, 'dist', 'locks', 'redis-store.js'));
  const bare = new Redis({ port: server.port, host: '127.0.0.1' });
  const backend = new RedisBackend(url, { onConnection: () => undefined });
  try {
    const base = await sample(N, async (i) => {
      await bare.set(`bench:lock:${i % 8}`, 'x', 'NX');
      await bare.del(`bench:lock:${i % 8}`);
    });
    await backend.createRun(
      {
        id: 'bench',
        plan: '/p.yaml',
        name: 'p',
        state: 'running',
        startedAt: new Date().toISOString(),
        endedAt: null,
        coordinator: { pid: process.pid, startTime: null, host: 'here' },
        workspaceDir: dir,
        concurrency: 1,
        pools: {},
      },
      '',
    );
    const locks = new FileLockManager({ store: new RedisLockStore(backend), owner: 'bench' });
    const lock = await sample(N, async (i) => {
      const h = await locks.acquire(join(dir, `lock-${i % 8}`));
      await h.release();
    });
    const store = new StateStore(backend, 'bench', { onEvent: () => undefined });
    const state = await sample(N, () => store.incr('n'));
    const queue = new MessageQueue(backend, 'bench', { onEvent: () => undefined, sender: 'bench' });
    const q = await sample(Math.min(N, 1000), async (i) => {
      await queue.send('jobs', `m${i}`);
      const m = await queue.recv('jobs', { consumer: 'w', ackTimeoutMs: 60_000 });
      await queue.ack('jobs', m.id, { consumer: 'w' });
    });
    console.log('\n## Redis backend: one client, a private redis-server on 127.0.0.1 (`node bench/index.js redis`)');
    console.log('| operation | p50 | p99 | p50 vs bare SET NX + DEL |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| bare \`SET key NX\` + \`DEL key\` (baseline, 2 round trips) | ${us(base.p50)} | ${us(base.p99)} | 1.00x |`);
    console.log(`| lock acquire + release (uncontended) | ${us(lock.p50)} | ${us(lock.p99)} | ${ratio(lock.p50, base.p50)} |`);
    console.log(
      `| shared state \`StateStore.incr\` (read, compare-and-set script with its change-log entry) | ${us(state.p50)} | ${us(state.p99)} | ${ratio(state.p50, base.p50)} |`,
    );
    console.log(`| queue send + recv + ack (three calls) | ${us(q.p50)} | ${us(q.p99)} | ${ratio(q.p50 / 3, base.p50)} a call |`);
    console.log('Target: within 3x of the bare loop.');
  } finally {
    bare.disconnect();
    await backend.close();
    server.stop();
    cleanup();
  }
}
