/**
 * Stream output as coord passes it on line by line (`coord run --json`, the plain output, a
 * worker's output sent to the coordinator): a UTF-8 character split across two writes of a
 * stream arrives whole, as it does in `coord logs`.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Rig, fixture } from '../rig.js';
import { startRedis, type RedisServer } from '../redis-server.js';
import { requires } from '../requires.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

type Output = { type: string; stream?: string; fd?: string; line?: string };

const outputLines = (ndjson: string): Output[] =>
  ndjson
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Output)
    .filter((e) => e.type === 'stream-output');

describe('a UTF-8 character split across two writes', () => {
  it('arrives whole in coord run --json and in the plain output', async () => {
    rig.writePlan({ streams: [{ id: 's', command: fixture('split-utf8.js') }] });
    const json = await rig.coord(['run', 'plan.yaml', '--json']);
    expect(json.code).toBe(0);
    expect(outputLines(json.stdout)).toEqual([expect.objectContaining({ stream: 's', fd: 'stdout', line: 'café' })]);
    expect((await rig.coord(['logs', 's'])).stdout).toBe('café\n');

    const plain = await rig.coord(['run', 'plan.yaml']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^\S+ \[s\] café$/m);
    expect(plain.stdout).not.toContain('\ufffd');
  });

  requires('redis-server').describe('on a worker', () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await startRedis();
    }, 30_000);
    afterAll(async () => {
      await server.cleanup();
    });

    it('arrives whole at the coordinator', async () => {
      const worker = rig.spawn(['worker', '--backend', server.url, '--name', 'w1'], { env: { COORD_REAPER_GRACE_MS: '500' } });
      let err = '';
      worker.child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      const deadline = Date.now() + 20_000;
      while (!err.includes('coord worker w1: ready')) {
        if (Date.now() > deadline || worker.child.exitCode !== null) throw new Error(`the worker did not start: ${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      rig.writePlan({ streams: [{ id: 's', command: fixture('split-utf8.js') }] });
      const json = await rig.coord(['run', 'plan.yaml', '--json', '--workers', '--backend', server.url]);
      expect(json.code).toBe(0);
      expect(outputLines(json.stdout)).toEqual([expect.objectContaining({ stream: 's', fd: 'stdout', line: 'café' })]);
      worker.child.kill('SIGTERM');
      await worker.done;
    });
  });
});
