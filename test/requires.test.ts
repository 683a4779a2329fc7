/**
 * test/requires.ts in a real child Jest, on test/fixtures/requires/probe.check.ts: with a
 * requirement missing the file prints one `skipped:` line saying what it needs and how to
 * install it, its tests are skipped and Jest exits 0; under COORD_TEST_REQUIRE_ALL=1 the same
 * tests fail with that reason and Jest exits 1; with everything there they run. The binaries
 * are really probed: "missing" is a PATH without them or a path that does not exist or fails.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './rig.js';

const PROBE = 'test/fixtures/requires/probe.check.ts';
const CONFIG = JSON.stringify({
  rootDir: ROOT,
  roots: ['<rootDir>/test/fixtures/requires'],
  testMatch: ['**/probe.check.ts'],
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: join(ROOT, 'tsconfig.test.json') }] },
});

interface Assertion {
  title: string;
  fullName: string;
  status: 'passed' | 'failed' | 'pending';
  failureMessages: string[];
}
interface Run {
  code: number | null;
  stderr: string;
  statuses: Record<string, Assertion['status']>;
  failures: string[];
}

let tmp: string;
let emptyPath: string;
let broken: string;
/** The child runs, started together in beforeAll (each takes a second or two, mostly start-up). */
let runs: Record<'skip' | 'requireAll' | 'present' | 'shared' | 'own', Promise<Run>>;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'coord-requires-'));
  // a PATH with nothing on it: no redis-server, no xmllint
  emptyPath = join(tmp, 'bin');
  mkdirSync(emptyPath);
  // a redis-server that is there but does not work
  broken = join(tmp, 'broken-redis-server');
  writeFileSync(broken, '#!/bin/sh\necho "broken build" >&2\nexit 3\n');
  chmodSync(broken, 0o755);
  runs = {
    skip: jest({ PATH: emptyPath, COORD_XMLLINT: '/nonexistent/xmllint' }),
    requireAll: jest({ COORD_TEST_REQUIRE_ALL: '1', COORD_REDIS_SERVER: broken, COORD_XMLLINT: process.execPath }),
    // node answers --version with exit 0: it stands in for both binaries
    present: jest({ COORD_TEST_REQUIRE_ALL: '1', PATH: emptyPath, COORD_REDIS_SERVER: process.execPath, COORD_XMLLINT: process.execPath }),
    shared: jest({ COORD_TEST_REDIS: 'redis://127.0.0.1:1', COORD_REDIS_SERVER: '/nonexistent/redis-server', COORD_XMLLINT: process.execPath }),
    own: jest({ COORD_REDIS_SERVER: process.execPath, COORD_XMLLINT: process.execPath, PROBE_OWN_MISSING: 'no veth here' }),
  };
  // each is awaited by its test; a rejection is that test's failure, not an unhandled one
  for (const r of Object.values(runs)) r.catch(() => undefined);
});
afterAll(async () => {
  await Promise.allSettled(Object.values(runs ?? {}));
  rmSync(tmp, { recursive: true, force: true });
});

/** Jest on the probe, in a child process, with only `env` of the variables test/requires.ts reads. */
function jest(env: Record<string, string>): Promise<Run> {
  const base = { ...process.env };
  for (const k of ['COORD_TEST_REQUIRE_ALL', 'COORD_REDIS_SERVER', 'COORD_XMLLINT', 'COORD_CHROMIUM', 'COORD_TEST_REDIS', 'PROBE_OWN_MISSING', 'NODE_OPTIONS'])
    delete base[k];
  const child = spawn(
    process.execPath,
    ['--experimental-vm-modules', join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), '--config', CONFIG, '--json', '--ci', PROBE],
    {
      cwd: ROOT,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        const report = JSON.parse(stdout) as { testResults: Array<{ assertionResults: Assertion[] }> };
        const results = report.testResults.flatMap((r) => r.assertionResults);
        resolve({
          code,
          stderr,
          statuses: Object.fromEntries(results.map((a) => [a.fullName, a.status])),
          failures: results.flatMap((a) => a.failureMessages),
        });
      } catch (e) {
        reject(new Error(`jest gave no JSON report (exit ${code}): ${(e as Error).message}\n${stderr}`));
      }
    });
  });
}

const skippedLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('skipped:'));

describe('tests that need a program or a server', () => {
  it('are skipped with one line saying what is missing and how to install it, and Jest exits 0', async () => {
    const r = await runs.skip;
    expect(skippedLines(r.stderr)).toEqual([
      `skipped: ${PROBE} needs redis-server (apt-get install redis-server, or set COORD_REDIS_SERVER to the binary; "redis-server --version": spawnSync redis-server ENOENT), and xmllint (apt-get install libxml2-utils, or set COORD_XMLLINT to the binary; "/nonexistent/xmllint --version": spawnSync /nonexistent/xmllint ENOENT)`,
    ]);
    expect(r.statuses).toEqual({
      'a block that needs them runs inside the block': 'pending',
      'a test that needs them': 'pending',
      'a test that needs a Redis server': 'pending',
      'a test that needs nothing': 'passed',
    });
    // neither the hooks of what is skipped nor a requirement after a missing one ran
    expect(r.stderr).not.toContain('probe: beforeAll ran');
    expect(r.stderr).not.toContain('probe: own requirement checked');
    expect(r.code).toBe(0);
  });

  it('fail under COORD_TEST_REQUIRE_ALL=1, naming what is missing, and Jest exits 1', async () => {
    const r = await runs.requireAll;
    const missing = `redis-server (apt-get install redis-server, or set COORD_REDIS_SERVER to the binary; "${broken} --version" exited 3: broken build)`;
    const reason = `${PROBE} needs ${missing}`;
    expect(r.statuses).toEqual({
      [`a block that needs them needs ${missing}`]: 'failed',
      'a test that needs them': 'failed',
      'a test that needs a Redis server': 'failed',
      'a test that needs nothing': 'passed',
    });
    expect(r.failures).toHaveLength(3);
    for (const f of r.failures) expect(f).toContain(`${reason} (COORD_TEST_REQUIRE_ALL is set: a missing requirement fails)`);
    expect(skippedLines(r.stderr)).toEqual([]);
    expect(r.stderr).not.toContain('probe: beforeAll ran');
    expect(r.code).toBe(1);
  });

  it('run when what they need is there, under COORD_TEST_REQUIRE_ALL=1 too', async () => {
    const r = await runs.present;
    expect(r.statuses).toEqual({
      'a block that needs them runs inside the block': 'passed',
      'a test that needs them': 'passed',
      'a test that needs a Redis server': 'passed',
      'a test that needs nothing': 'passed',
    });
    expect(r.stderr).toContain('probe: own requirement checked');
    expect(r.stderr).toContain('probe: beforeAll ran');
    expect(skippedLines(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('with COORD_TEST_REDIS, those that need a server run without the binary; those that start their own skip', async () => {
    const r = await runs.shared;
    expect(r.statuses).toEqual({
      'a block that needs them runs inside the block': 'pending',
      'a test that needs them': 'pending',
      'a test that needs a Redis server': 'passed',
      'a test that needs nothing': 'passed',
    });
    expect(skippedLines(r.stderr)).toEqual([
      `skipped: ${PROBE} needs redis-server (apt-get install redis-server, or set COORD_REDIS_SERVER to the binary; "/nonexistent/redis-server --version": spawnSync /nonexistent/redis-server ENOENT)`,
    ]);
    expect(r.code).toBe(0);
  });

  it("say why a requirement of the file's own is not met", async () => {
    const r = await runs.own;
    expect(skippedLines(r.stderr)).toEqual([`skipped: ${PROBE} needs a thing of its own (no veth here)`]);
    expect(r.statuses['a test that needs them']).toBe('pending');
    expect(r.statuses['a test that needs a Redis server']).toBe('passed');
    expect(r.code).toBe(0);
  });
});
