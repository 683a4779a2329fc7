/**
 * A worker on another network: `coord worker` in its own network namespace, reaching the
 * redis-server only over a veth pair (its own 127.0.0.1 is another host's), runs a stream
 * of a plan coordinated in this namespace. Needs root (creating namespaces), ip(8) and
 * redis-server; the test says why it is skipped otherwise (test/requires.ts).
 */
import { expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { COORD, Rig } from '../rig.js';
import { startRedis, type RedisServer } from '../redis-server.js';
import { requires } from '../requires.js';

const ns = `coordtest-${randomBytes(3).toString('hex')}`;
const hostIf = `cv${randomBytes(3).toString('hex')}`;
const nsIf = `${hostIf}n`;
const octet = 1 + (randomBytes(1)[0]! % 250);
const hostIp = `10.231.${octet}.1`;
const nsIp = `10.231.${octet}.2`;

function sh(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

function removeNamespace(): void {
  sh(['ip', 'link', 'del', hostIf]);
  sh(['ip', 'netns', 'del', ns]);
}

/** Why the namespace cannot be made here (leaving none of it), or null when it was made. */
function makeNamespace(): string | null {
  const steps = [
    ['ip', 'netns', 'add', ns],
    ['ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf],
    ['ip', 'link', 'set', nsIf, 'netns', ns],
    ['ip', 'addr', 'add', `${hostIp}/30`, 'dev', hostIf],
    ['ip', 'link', 'set', hostIf, 'up'],
    ['ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', nsIf],
    ['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up'],
    ['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'],
  ];
  for (const s of steps) {
    const r = sh(s);
    if (!r.ok) {
      removeNamespace();
      return `${s.join(' ')}: ${r.out.trim()}`;
    }
  }
  return null;
}

// the namespace is made only once root, ip(8) and redis-server are there
const needs = requires('root', 'ip', 'redis-server', { what: 'a network namespace with a veth pair', missing: makeNamespace });
let server: RedisServer | undefined;
let rig: Rig;

needs.beforeAll(async () => {
  server = await startRedis({ bind: [hostIp] });
  rig = new Rig();
}, 30_000);
needs.afterAll(async () => {
  await rig?.cleanup();
  await server?.cleanup();
  removeNamespace();
});

needs.describe('a worker in its own network namespace', () => {
  it('runs a stream of a plan coordinated here, reaching Redis over a veth pair', async () => {
    const port = server!.port;
    // inside the namespace this host's 127.0.0.1 is out of reach: only the veth address works
    const probe = `const s=require('net').connect(${port},process.argv[1]);s.on('connect',()=>{console.log('up');process.exit(0)});s.on('error',()=>{console.log('down');process.exit(0)})`;
    expect(sh(['ip', 'netns', 'exec', ns, process.execPath, '-e', probe, '127.0.0.1']).out.trim()).toBe('down');
    expect(sh(['ip', 'netns', 'exec', ns, process.execPath, '-e', probe, hostIp]).out.trim()).toBe('up');

    // the worker, in the namespace, names the server by its veth address
    const url = `redis://${hostIp}:${port}/1`;
    const worker = spawn('ip', ['netns', 'exec', ns, process.execPath, COORD, 'worker', '--backend', url, '--name', 'far-host', '--lease', '2s'], {
      cwd: rig.dir,
      env: rig.env(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    worker.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const deadline = Date.now() + 20_000;
      while (!err.includes('ready on')) {
        if (Date.now() > deadline || worker.exitCode !== null) throw new Error(`the worker did not start: ${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      // the coordinator, here, names it by 127.0.0.1
      rig.writePlan({
        agent_coordination: { convergence_points: [{ name: 'out', type: 'barrier', streams: ['far'] }] },
        streams: [{ id: 'far', command: 'echo "ran on $COORD_WORKER via $COORD_BACKEND" > where.txt' }],
      });
      const r = await rig.coord(['run', 'plan.yaml', '--workers', '--backend', `redis://127.0.0.1:${port}/1`]);
      expect(r.stderr + r.stdout).toContain('far started, on worker far-host');
      expect(r.code).toBe(0);
      const run = rig.runIds()[0]!;
      expect(readFileSync(join(rig.runDir(run), 'converged', 'out', 'where.txt'), 'utf8')).toBe(`ran on far-host via ${url}\n`);
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('close', r));
    }
  });
});
