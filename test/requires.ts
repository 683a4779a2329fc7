/**
 * What a test file needs from the machine beyond Node and the npm dependencies (a redis-server,
 * Chromium, xmllint, root, ip(8), unshare(1)), probed for real when the file loads:
 *
 *   const needs = requires('redis-server');
 *   needs.beforeAll(async () => { server = await startRedis(); });
 *   needs.describe('…', () => { … });
 *
 * With everything there, needs.describe / it / test and the hooks are Jest's own. With something
 * missing, the file prints one line on stderr, `skipped: test/x.test.ts needs redis-server
 * (apt-get install redis-server, or set COORD_REDIS_SERVER to the binary)`, its tests are
 * skipped and its hooks are not registered. Under COORD_TEST_REQUIRE_ALL=1 (what `.ci/run`
 * sets) a missing requirement is a failure instead: each needs.it / needs.test, and each
 * needs.describe as one test, fails with that same line.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { relative, resolve } from 'node:path';

/** The environment variable under which a missing requirement fails instead of skipping. */
export const REQUIRE_ALL = 'COORD_TEST_REQUIRE_ALL';

/** The redis-server binary the tests start: COORD_REDIS_SERVER or `redis-server` on PATH. */
export const redisServerCommand = (): string => process.env['COORD_REDIS_SERVER'] || 'redis-server';
/** The Chromium the dashboard test drives: COORD_CHROMIUM or Debian's /usr/bin/chromium. */
export const chromiumCommand = (): string => process.env['COORD_CHROMIUM'] || '/usr/bin/chromium';
/** The xmllint that validates JUnit reports: COORD_XMLLINT or `xmllint` on PATH. */
export const xmllintCommand = (): string => process.env['COORD_XMLLINT'] || 'xmllint';

/** A requirement of a test file's own: `missing()` says why it cannot be met here, or null when it is. */
export interface Custom {
  what: string;
  missing: () => string | null;
}

/**
 * 'redis-server': the binary, for tests that start (and restart, and kill) servers of their own;
 * 'redis': a server to use, the one at COORD_TEST_REDIS or else a private one (so the binary).
 */
export type Requirement = 'redis-server' | 'redis' | 'chromium' | 'xmllint' | 'root' | 'ip' | 'unshare' | Custom;

/** Why running `cmd args` failed, or null when it exited 0. */
function cannotRun(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 });
  if (r.error) return `"${[cmd, ...args].join(' ')}": ${r.error.message}`;
  if (r.status !== 0) return `"${[cmd, ...args].join(' ')}" exited ${r.status ?? r.signal}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n')[0]}` : ''}`;
  return null;
}

/** What is missing of `req` and how to get it, or null when it is there. */
function check(req: Requirement): string | null {
  if (typeof req === 'object') {
    const why = req.missing();
    return why === null ? null : `${req.what} (${why})`;
  }
  switch (req) {
    case 'redis':
      // COORD_TEST_REDIS names a running server; without it the test starts a private one
      if (process.env['COORD_TEST_REDIS']) return null;
      return check('redis-server');
    case 'redis-server': {
      const why = cannotRun(redisServerCommand(), ['--version']);
      return why && `redis-server (apt-get install redis-server, or set COORD_REDIS_SERVER to the binary; ${why})`;
    }
    case 'chromium': {
      const why = cannotRun(chromiumCommand(), ['--version']);
      return why && `Chromium (apt-get install chromium, or set COORD_CHROMIUM to its executable; ${why})`;
    }
    case 'xmllint': {
      const why = cannotRun(xmllintCommand(), ['--version']);
      return why && `xmllint (apt-get install libxml2-utils, or set COORD_XMLLINT to the binary; ${why})`;
    }
    case 'root':
      return process.getuid?.() === 0 ? null : `root (run the tests as root; this process is uid ${process.getuid?.() ?? '?'})`;
    case 'ip': {
      const why = cannotRun('ip', ['-V']);
      return why && `ip(8) (apt-get install iproute2; ${why})`;
    }
    case 'unshare': {
      const why = cannotRun('unshare', ['--version']);
      return why && `unshare(1) (apt-get install util-linux; ${why})`;
    }
  }
}

type ItArgs = Parameters<typeof it>;
type HookArgs = Parameters<typeof beforeAll>;

export interface Needs {
  /** True when every requirement is met. */
  ok: boolean;
  /** `test/x.test.ts needs …`, or null when every requirement is met. */
  reason: string | null;
  describe: (name: string, fn: () => void) => void;
  it: (...args: ItArgs) => void;
  test: (...args: ItArgs) => void;
  beforeAll: (...args: HookArgs) => void;
  afterAll: (...args: HookArgs) => void;
  beforeEach: (...args: HookArgs) => void;
  afterEach: (...args: HookArgs) => void;
}

/** COORD_TEST_REQUIRE_ALL is set (to anything but "" or "0"). */
const requireAll = (): boolean => !['', '0', undefined].includes(process.env[REQUIRE_ALL]);

/** What this test file has said it skips for, and what it has yet to say (each test file loads its own copy of this module). */
const said = new Set<string>();
const unsaid: string[] = [];

function say(): void {
  if (unsaid.length === 0) return;
  process.stderr.write(`skipped: ${testFile()} needs ${unsaid.join(', and ')}\n`);
  for (const m of unsaid.splice(0)) said.add(m);
}

/** The file of the test that is loading, relative to the working directory. */
function testFile(): string {
  const path = expect.getState().testPath;
  return path ? relative(process.cwd(), resolve(path)) || path : 'this test file';
}

/**
 * Probes `reqs` in order (a Custom one only once everything before it is there) and gives the
 * Jest functions to write the tests that need them with.
 */
export function requires(...reqs: Requirement[]): Needs {
  const missing: string[] = [];
  for (const req of reqs) {
    if (typeof req === 'object' && missing.length > 0) continue;
    const why = check(req);
    if (why !== null) missing.push(why);
  }
  if (missing.length === 0) {
    return { ok: true, reason: null, describe, it, test, beforeAll, afterAll, beforeEach, afterEach };
  }
  const reason = `${testFile()} needs ${missing.join(', and ')}`;
  const none = (): void => undefined;
  if (requireAll()) {
    const fail = (): never => {
      throw new Error(`${reason} (${REQUIRE_ALL} is set: a missing requirement fails)`);
    };
    const failing = (name: ItArgs[0]): void => it(name, fail);
    return {
      ok: false,
      reason,
      describe: (name) => describe(name, () => it(`needs ${missing.join(', and ')}`, fail)),
      it: failing,
      test: failing,
      beforeAll: none,
      afterAll: none,
      beforeEach: none,
      afterEach: none,
    };
  }
  // one line a file: the calls of its top-level code are gathered, then said once
  if (unsaid.length === 0) queueMicrotask(say);
  for (const m of missing) if (!said.has(m) && !unsaid.includes(m)) unsaid.push(m);
  return { ok: false, reason, describe: describe.skip, it: it.skip, test: test.skip, beforeAll: none, afterAll: none, beforeEach: none, afterEach: none };
}
