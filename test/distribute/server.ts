/**
 * The Redis server of the distribute unit tests: COORD_TEST_REDIS, or a private one
 * (test/redis-server.ts); each test gets a fresh key prefix, whose keys are deleted after it,
 * and a temp directory.
 */
import { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '../redis-server.js';
import type { requires } from '../requires.js';
import { makeTemp, removeTemp } from '../workspace/fsfix.js';

/** What a test uses: set by the hooks `useRedis` registers. */
export interface RedisFixture {
  url: string;
  cmd: Redis;
  prefix: string;
  tmp: string;
}

let serial = 0;

/** Registers the hooks (through `needs`, so nothing runs where no server can be had). */
export function useRedis(needs: ReturnType<typeof requires>, name: string): RedisFixture {
  let server: RedisServer | null = null;
  const f = { url: '', prefix: '', tmp: '' } as RedisFixture;
  needs.beforeAll(async () => {
    f.url = process.env['COORD_TEST_REDIS'] || (server = await startRedis()).url;
    f.cmd = new Redis(f.url);
  });
  needs.afterAll(async () => {
    await f.cmd.quit();
    await server?.cleanup();
  });
  needs.beforeEach(async () => {
    f.tmp = await makeTemp(`coord-${name}-`);
    f.prefix = `coord-test:${process.pid}:${Date.now().toString(36)}:${++serial}:`;
  });
  needs.afterEach(async () => {
    const left = await f.cmd.keys(`${f.prefix}*`);
    if (left.length > 0) await f.cmd.del(...left);
    await removeTemp(f.tmp);
  });
  return f;
}
