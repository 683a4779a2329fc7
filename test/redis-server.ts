/**
 * A private redis-server for tests: bound to 127.0.0.1 on a free port, with its own temp
 * directory and the append-only file fsynced on every write (`--appendfsync always`), so a
 * restart, even after SIGKILL, keeps every acknowledged write. The binary is
 * COORD_REDIS_SERVER or `redis-server` on PATH (Debian package `redis-server`).
 *
 * Every server started here is killed when the process exits; tests stop theirs in afterAll.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  /** Starts it again after stop() or kill() (same port, same directory, same data). */
  start(): Promise<void>;
  /** SHUTDOWN by SIGTERM (the server writes out its files) and waits for the exit; the directory stays until cleanup(). */
  stop(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** restart(), then kill() and start(): a clean restart and one without a shutdown (appendfsync always keeps every acknowledged write). */
  bounce(): Promise<void>;
  /** SIGKILL: nothing written out; waits for the exit. */
  kill(): Promise<void>;
  /** stop(), then removes the directory. */
  cleanup(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHook = false;

function hookExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const p of running) p.kill('SIGKILL');
  });
}

/** The redis-server binary; throws with install advice when there is none. */
export function redisServerBinary(): string {
  const bin = process.env['COORD_REDIS_SERVER'] || 'redis-server';
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `cannot run "${bin}" (${probe.error?.message ?? probe.stderr.trim()}): install the Debian package redis-server (apt-get install redis-server) or set COORD_REDIS_SERVER to the binary`,
    );
  }
  return bin;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** True when the server on `port` answers PING with PONG (not LOADING, not refused). */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => p.once('exit', () => resolve()));
}

export async function startRedis(
  opts: { appendfsync?: 'always' | 'everysec' | 'no'; startMs?: number /** More addresses to listen on besides 127.0.0.1. */; bind?: string[] } = {},
): Promise<RedisServer> {
  const bin = redisServerBinary();
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), 'coord-redis-'));
  const port = await freePort();
  const log = join(dir, 'redis.log');
  let proc: ChildProcess | null = null;

  const start = async (): Promise<void> => {
    if (proc) return;
    const p = spawn(
      bin,
      [
        '--port',
        String(port),
        '--bind',
        ['127.0.0.1', ...(opts.bind ?? [])].join(' '),
        '--protected-mode',
        'no',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        opts.appendfsync ?? 'always',
        '--logfile',
        log,
        '--daemonize',
        'no',
      ],
      { stdio: 'ignore' },
    );
    running.add(p);
    p.once('exit', () => running.delete(p));
    proc = p;
    const deadline = Date.now() + (opts.startMs ?? 10_000);
    while (!(await pong(port))) {
      if (p.exitCode !== null || p.signalCode !== null || Date.now() > deadline) {
        p.kill('SIGKILL');
        await exited(p);
        proc = null;
        let tail = '';
        try {
          tail = readFileSync(log, 'utf8').split('\n').slice(-5).join('\n');
        } catch {
          /* no log yet */
        }
        throw new Error(`redis-server on port ${port} did not start:\n${tail}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const p = proc;
    if (!p) return;
    proc = null;
    p.kill(signal);
    await exited(p);
  };

  await start();
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    start,
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    restart: async () => {
      await halt('SIGTERM');
      await start();
    },
    bounce: async () => {
      await halt('SIGTERM');
      await start();
      await halt('SIGKILL');
      await start();
    },
    cleanup: async () => {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
