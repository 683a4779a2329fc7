/**
 * Multi-process stress tests in the style of proper-lockfile's stress.js: processes hammer one
 * lock through FileLockManager (fixtures/lock-stress.js) and a checker reads their log.
 */
import { afterEach, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, Rig } from '../rig.js';
import { checkLog } from './lockcheck.js';

let rig: Rig;
afterEach(async () => rig?.cleanup());

const STRESS = join(FIXTURES, 'lock-stress.js');

describe('lock stress', () => {
  test('4 processes × 500 read-increment-write cycles: exact count, no two writers overlap, tokens all distinct', async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const counter = join(rig.dir, 'counter');
    const log = join(rig.dir, 'log');
    const runs = Array.from({ length: 4 }, () => rig.spawnNode(STRESS, [f, counter, log, '500', 'write']).done);
    const results = await Promise.all(runs);
    for (const r of results) expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(counter, 'utf8')).toBe('2000');
    const check = checkLog(readFileSync(log, 'utf8'));
    expect(check.violations).toEqual([]);
    expect(check.writes).toBe(2000);
    expect(new Set(check.tokens).size).toBe(2000);
    expect(check.tokens).toEqual([...check.tokens].sort((a, b) => a - b));
  }, 90_000);

  test('readers overlap with each other and never with a writer', async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const counter = join(rig.dir, 'counter');
    const log = join(rig.dir, 'log');
    // "mixed": every fourth cycle writes; readers hold 3 ms so that they meet
    const runs = Array.from({ length: 4 }, () => rig.spawnNode(STRESS, [f, counter, log, '120', 'mixed', '3']).done);
    for (const r of await Promise.all(runs)) expect(r).toMatchObject({ code: 0, stderr: '' });
    const check = checkLog(readFileSync(log, 'utf8'));
    expect(check.violations).toEqual([]);
    expect(check.writes).toBe(4 * 30);
    expect(readFileSync(counter, 'utf8')).toBe(String(4 * 30));
    expect(check.maxReaders).toBeGreaterThanOrEqual(2);
  }, 90_000);

  test('a writer under a constant stream of readers is served', async () => {
    rig = new Rig();
    const f = join(rig.dir, 'f');
    const counter = join(rig.dir, 'counter');
    const log = join(rig.dir, 'log');
    // 3 readers, each holding 30 ms and coming straight back: there is always a reader inside
    const readers = Array.from({ length: 3 }, () => rig.spawnNode(STRESS, [f, counter, log, '80', 'read', '30']));
    await rig.waitForFile(log);
    const writer = await rig.spawnNode(STRESS, [f, counter, log, '1', 'write']).done;
    expect(writer.code).toBe(0);
    const atWriterDone = readFileSync(log, 'utf8');
    for (const r of readers) expect((await r.done).code).toBe(0);
    const check = checkLog(readFileSync(log, 'utf8'));
    expect(check.violations).toEqual([]);
    expect(check.maxReaders).toBeGreaterThanOrEqual(2);
    // the writer got in while the readers were still going: reader cycles come after it
    const readsBefore = checkLog(atWriterDone).reads;
    expect(readsBefore).toBeLessThan(check.reads);
  }, 90_000);
});
