/** One check of a point's merge, with real processes: retries, the time limit, a check called off, its log. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logTail, runCheck, type CheckRequest } from '../../src/convergence/point-check.js';
import { nodeSpawner } from '../../src/supervise/spawner.js';
import { processAlive } from '../rig.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'coord-check-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const req = (command: string, over: Partial<CheckRequest> = {}): CheckRequest => ({
  command,
  tree: dir,
  env: { PATH: process.env.PATH ?? '' },
  log: join(dir, 'logs', 'check-1.log'),
  timeoutMs: 60_000,
  retries: 0,
  graceMs: 1000,
  ...over,
});

/** A check that fails until its `n`th run (counted in a file of its tree). */
const failsUntil = (n: number): string => `c=$(cat count 2>/dev/null || echo 0); c=$((c + 1)); echo $c > count; echo "run $c"; [ $c -ge ${n} ]`;

function readFileSafe(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

describe('runCheck', () => {
  it('passes on exit 0, fails on another exit, with the exit in the result and the output in the log', async () => {
    expect(await runCheck(nodeSpawner, req('echo fine'))).toMatchObject({ outcome: 'passed', exitCode: 0, tries: 1 });
    const failed = await runCheck(nodeSpawner, req('echo broken >&2; exit 3', { log: join(dir, 'logs', 'check-2.log') }));
    expect(failed).toMatchObject({ outcome: 'failed', exitCode: 3, signal: null, tries: 1 });
    expect(readFileSync(join(dir, 'logs', 'check-2.log'), 'utf8')).toBe('── try 1 of 1: echo broken >&2; exit 3 ──\nbroken\n── failed: exit 3 ──\n');
  });

  it('runs a failing check again while verify_retries allows, and stops at the first pass', async () => {
    expect(await runCheck(nodeSpawner, req(failsUntil(3), { retries: 5 }))).toMatchObject({ outcome: 'passed', tries: 3 });
    expect(readFileSync(join(dir, 'count'), 'utf8')).toBe('3\n');
    const log = readFileSync(join(dir, 'logs', 'check-1.log'), 'utf8');
    expect(log.match(/── try \d of 6/g)).toEqual(['── try 1 of 6', '── try 2 of 6', '── try 3 of 6']);
    expect(logTail(join(dir, 'logs', 'check-1.log'), 2)).toBe('run 3\n── passed ──');
  });

  it('fails after its last retry', async () => {
    expect(await runCheck(nodeSpawner, req(failsUntil(10), { retries: 1 }))).toMatchObject({ outcome: 'failed', exitCode: 1, tries: 2 });
    expect(readFileSync(join(dir, 'count'), 'utf8')).toBe('2\n');
  });

  it('stops a check past its time limit, TERM then KILL, with everything it started', async () => {
    const r = await runCheck(nodeSpawner, req(`trap '' TERM; sleep 60 & echo $! > child; wait`, { timeoutMs: 300, graceMs: 200 }));
    expect(r).toMatchObject({ outcome: 'timed-out', tries: 1 });
    expect(processAlive(Number(readFileSync(join(dir, 'child'), 'utf8')))).toBe(false);
    expect(readFileSync(join(dir, 'logs', 'check-1.log'), 'utf8')).toMatch(/── timed out ──\n$/);
  });

  it('a check called off is stopped and ends cancelled, without a retry', async () => {
    const off = new AbortController();
    writeFileSync(join(dir, 'go'), '');
    const running = runCheck(nodeSpawner, req('echo $$ > pid; rm go; exec sleep 60', { retries: 3, signal: off.signal }));
    // called off once it runs (it removed `go`)
    while (readFileSafe(join(dir, 'go')) !== undefined) await new Promise((r) => setTimeout(r, 5));
    off.abort();
    expect(await running).toMatchObject({ outcome: 'cancelled', tries: 1 });
    expect(processAlive(Number(readFileSync(join(dir, 'pid'), 'utf8')))).toBe(false);
  });

  it('a check called off before it starts does not run', async () => {
    const off = new AbortController();
    off.abort();
    expect(await runCheck(nodeSpawner, req('touch ran', { signal: off.signal }))).toMatchObject({ outcome: 'cancelled', tries: 0 });
    expect(readFileSafe(join(dir, 'ran'))).toBeUndefined();
  });
});
