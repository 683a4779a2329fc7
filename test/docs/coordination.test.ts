/**
 * The shell examples of docs/coordination.md that run on their own, run as written: the locks
 * block and the shared state block, line by line in one directory, each line's claims (its
 * comment, the text around it) checked. Lines that need jq (which the suite does not require)
 * or never end (`coord state watch`) are left out, and the test says which.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, Rig, shellQuote } from '../rig.js';
import { blocks, commands, readDoc, section } from './markdown.js';

const PAGE = readDoc('docs/coordination.md');

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `sh -c LINE` in the test's directory, with `coord` on PATH being this coord. */
function sh(line: string): Promise<Ran> {
  const bin = join(rig.dir, 'bin');
  const env = rig.env({ PATH: `${bin}:${process.env.PATH ?? ''}` });
  const child = spawn('sh', ['-c', line], { cwd: rig.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** `coord` on the PATH of sh(): a script that runs this coord, as an installed one would. */
function installCoord(): void {
  const bin = join(rig.dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'coord'), `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(COORD)} "$@"\n`);
  chmodSync(join(bin, 'coord'), 0o755);
}

/** The one shell block of a section, split into the lines run here and those left out. */
function lines(heading: string): { run: string[]; left: string[] } {
  const sh = blocks(section(PAGE, heading)).filter((b) => b.info === 'sh');
  expect(sh.length).toBeGreaterThan(0);
  const all = commands(sh[0]!.text);
  const leftOut = (l: string): boolean => /\bjq\b/.test(l) || /^coord state watch\b/.test(l) || /"\$v"/.test(l);
  return { run: all.filter((l) => !leftOut(l)), left: all.filter(leftOut) };
}

describe('docs/coordination.md, run as written', () => {
  it('Locks: a read lock runs its command, an append adds one whole line', async () => {
    installCoord();
    const { run, left } = lines('Locks');
    expect(left).toEqual([expect.stringMatching(/^coord lock notes\.json -- sh -c 'jq /)]);
    rig.write('data.csv', 'a,b\n1,2\n');
    rig.write('report.sh', '#!/bin/sh\nwc -l < data.csv\n');
    chmodSync(join(rig.dir, 'report.sh'), 0o755);
    for (const line of run) {
      const r = await sh(line);
      expect({ line, code: r.code, stderr: r.stderr }).toEqual({ line, code: 0, stderr: '' });
      if (line.includes('./report.sh')) expect(r.stdout.trim()).toBe('2');
    }
    expect(readFileSync(join(rig.dir, 'progress.log'), 'utf8')).toBe('shard 3 done\n');
  });

  it('Shared state: versions from 1, incr of a missing key, merge, get, log, rollback', async () => {
    installCoord();
    // the state belongs to a run: the newest run of this directory
    expect((await rig.coord(['run', rig.writePlan({ streams: [{ id: 'a', command: 'true' }] })])).code).toBe(0);
    const { run, left } = lines('Shared state');
    expect(left).toEqual([
      'v=$(coord state get --json | jq .version)',
      `coord state set plan '{"step":2}' --expect-version "$v" || echo "moved on (exit $?)"`,
      expect.stringMatching(/^coord state watch config --json/),
    ]);
    const out: Record<string, string> = {};
    for (const line of run) {
      const r = await sh(line);
      expect({ line, code: r.code, stderr: r.stderr }).toEqual({ line, code: 0, stderr: '' });
      out[line.split('#')[0]!.trim()] = r.stdout;
    }
    // "prints the new version: 1"; "a missing key counts as 0"; "true"
    expect(out[`coord state set config.model '"sonnet"'`]).toBe('1\n');
    expect(out['coord state incr tests.passed 3']).toBe('2\n');
    expect(out['coord state get config.tools.git']).toBe('true\n');
    // "who changed what, when": a line per version under a header
    const [header, ...rows] = out['coord state log']!.trim().split('\n');
    expect(header!.split(/\s+/)).toEqual(['VER', 'TIME', 'STREAM', 'OP', 'KEYS']);
    expect(rows.map((r) => r.trim().split(/\s+/)).map((w) => [w[0], w[3]])).toEqual([
      ['1', 'set'],
      ['2', 'incr'],
      ['3', 'merge'],
    ]);
    // "a new version equal to version 1"
    expect(out['coord state rollback 1']).toBe('4\n');
    const now = JSON.parse((await sh('coord state get --json')).stdout) as { version: number; value: unknown };
    const one = JSON.parse((await sh('coord state get --version 1 --json')).stdout) as { value: unknown };
    expect(now.version).toBe(4);
    expect(now.value).toEqual(one.value);
    expect(now.value).toEqual({ config: { model: 'sonnet' } });
    // the incr before it: 0 + 3
    expect(JSON.parse((await sh('coord state get tests.passed --version 2')).stdout)).toBe(3);
  });
});
