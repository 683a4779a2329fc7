/** Atomic replacement and whole-record appends (src/locks/files.ts), in one process. */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendRecord, atomicReplace, atomicReplaceAsync, JOURNAL_SUFFIX, PendingReplace, TEMP_SUFFIX } from '../../src/locks/files.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'coord-files-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 6);
const temps = () => readdirSync(dir).filter((n) => n.endsWith(TEMP_SUFFIX));
const buf = (s: string) => Buffer.from(s);
/** A pid no process has (beyond pid_max on Linux). */
const DEAD_PID = 4_194_399;

describe('atomicReplace', () => {
  test('replaces the content whole, keeps the mode of the target, and leaves no temp file', () => {
    const f = join(dir, 'f');
    writeFileSync(f, 'old');
    chmodSync(f, 0o640);
    atomicReplace(f, buf('new content'));
    expect(readFileSync(f, 'utf8')).toBe('new content');
    expect(statSync(f).mode & 0o7777).toBe(0o640);
    expect(temps()).toEqual([]);
  });

  test('a new file gets 0666 less the umask', () => {
    const f = join(dir, 'new');
    atomicReplace(f, buf('x'));
    expect(statSync(f).mode & 0o777).toBe(0o666 & ~process.umask());
  });

  test('a failing check before the rename leaves the old content and no temp file', () => {
    const f = join(dir, 'f');
    writeFileSync(f, 'old');
    expect(() =>
      atomicReplace(f, buf('new'), () => {
        expect(temps()).toHaveLength(1);
        throw new Error('fenced off');
      }),
    ).toThrow('fenced off');
    expect(readFileSync(f, 'utf8')).toBe('old');
    expect(temps()).toEqual([]);
  });

  test('the async form waits for its check, and a failing check changes nothing', async () => {
    const f = join(dir, 'f');
    writeFileSync(f, 'old');
    let checked = false;
    await atomicReplaceAsync(f, buf('new'), async () => {
      await new Promise((r) => setTimeout(r, 5));
      checked = true;
    });
    expect(checked).toBe(true);
    expect(readFileSync(f, 'utf8')).toBe('new');
    await expect(atomicReplaceAsync(f, buf('newer'), async () => Promise.reject(new Error('lost the lock')))).rejects.toThrow('lost the lock');
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(temps()).toEqual([]);
    await atomicReplaceAsync(f, buf('plain'));
    expect(readFileSync(f, 'utf8')).toBe('plain');
  });

  test('a target whose directory is gone fails and leaves nothing', () => {
    expect(() => atomicReplace(join(dir, 'missing', 'f'), buf('x'))).toThrow();
  });

  test('the mode the target has at the commit is the one the new content gets', () => {
    const f = join(dir, 'f');
    writeFileSync(f, 'old');
    chmodSync(f, 0o600);
    const p = PendingReplace.open(f);
    p.write(buf('a'));
    chmodSync(f, 0o644);
    p.write(buf('b'));
    p.commitSync();
    expect(readFileSync(f, 'utf8')).toBe('ab');
    expect(statSync(f).mode & 0o7777).toBe(0o644);
  });
});

describe('PendingReplace', () => {
  test('its temp file sits beside the target, named for this process and host, never wider than the target', () => {
    const f = join(dir, 'f.txt');
    writeFileSync(f, 'old');
    chmodSync(f, 0o600);
    const p = PendingReplace.open(f);
    expect(p.dir).toBe(dir);
    expect(p.target).toBe(f);
    const name = p.path.slice(dir.length + 1);
    expect(name).toMatch(new RegExp(`^\\.f\\.txt\\.${process.pid}-\\d*-${HOST_TAG}-[0-9a-f]{8}\\.coord-tmp$`));
    expect(statSync(p.path).mode & 0o777).toBe(0o600);
    p.discard();
    expect(existsSync(p.path)).toBe(false);
    expect(readFileSync(f, 'utf8')).toBe('old');
  });

  test('after a commit it is closed: a write throws, a discard does nothing', () => {
    const f = join(dir, 'f');
    const p = PendingReplace.open(f);
    p.write(buf('done'));
    p.commitSync();
    expect(() => p.write(buf('more'))).toThrow('is closed');
    p.discard();
    expect(readFileSync(f, 'utf8')).toBe('done');
  });

  test('a discarded one cannot be committed', async () => {
    const f = join(dir, 'f');
    const p = PendingReplace.open(f);
    p.discard();
    expect(() => p.write(buf('x'))).toThrow('is closed');
    expect(() => p.commitSync()).toThrow('is closed');
    await expect(PendingReplace.open(f).commit(async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(existsSync(f)).toBe(false);
    expect(temps()).toEqual([]);
  });

  test('opening one sweeps the leftovers of killed writers on this host, and only those', () => {
    const f = join(dir, 'f');
    const dead = `.f.${DEAD_PID}-123-${HOST_TAG}-0123abcd${TEMP_SUFFIX}`;
    const live = `.f.${process.pid}--${HOST_TAG}-0123abce${TEMP_SUFFIX}`;
    const otherHost = `.f.${DEAD_PID}-123-${HOST_TAG === 'aaaaaa' ? 'bbbbbb' : 'aaaaaa'}-0123abcf${TEMP_SUFFIX}`;
    const oldStyle = `.f.tmp-xyz${TEMP_SUFFIX}`;
    const otherFile = `.g.${DEAD_PID}-123-${HOST_TAG}-0123abcd${TEMP_SUFFIX}`;
    for (const n of [dead, live, otherHost, oldStyle, otherFile]) writeFileSync(join(dir, n), 'left');
    atomicReplace(f, buf('x'));
    expect(temps().sort()).toEqual([live, otherHost, oldStyle, otherFile].sort());
  });
});

describe('appendRecord', () => {
  test('creates the file and appends records whole, each on a line of its own', () => {
    const f = join(dir, 'log');
    appendRecord(f, buf('one\n'));
    appendRecord(f, buf('two\n'));
    expect(readFileSync(f, 'utf8')).toBe('one\ntwo\n');
    writeFileSync(f, 'unfinished');
    appendRecord(f, buf('three\n'));
    expect(readFileSync(f, 'utf8')).toBe('unfinished\nthree\n');
    expect(readdirSync(dir)).toEqual(['log']);
  });

  test('an empty file gets no newline first', () => {
    const f = join(dir, 'log');
    writeFileSync(f, '');
    appendRecord(f, buf('a\n'));
    expect(readFileSync(f, 'utf8')).toBe('a\n');
  });

  const journal = (f: string, j: object) => writeFileSync(join(dir, `.${f}${JOURNAL_SUFFIX}`), JSON.stringify(j) + '\n');
  const fileId = (f: string) => {
    const st = statSync(f, { bigint: true });
    return { dev: String(st.dev), ino: String(st.ino) };
  };

  test('cuts off the torn record a killed appender left, as its journal says', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'whole\nto');
    journal('log', { pid: DEAD_PID, start: 1, host: hostname(), ...fileId(f), offset: 6, length: 10 });
    appendRecord(f, buf('next\n'));
    expect(readFileSync(f, 'utf8')).toBe('whole\nnext\n');
    expect(readdirSync(dir)).toEqual(['log']);
  });

  test('a journal whose record was written whole, or not at all, cuts nothing', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'whole\nrecord\n');
    journal('log', { pid: DEAD_PID, start: null, host: hostname(), ...fileId(f), offset: 6, length: 7 });
    appendRecord(f, buf('a\n'));
    expect(readFileSync(f, 'utf8')).toBe('whole\nrecord\na\n');
    journal('log', { pid: DEAD_PID, start: null, host: hostname(), ...fileId(f), offset: 15, length: 4 });
    appendRecord(f, buf('b\n'));
    expect(readFileSync(f, 'utf8')).toBe('whole\nrecord\na\nb\n');
    expect(readdirSync(dir)).toEqual(['log']);
  });

  test('a journal of another file (replaced since) cuts nothing, and is removed', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'whole\nto');
    journal('log', { pid: DEAD_PID, start: 1, host: hostname(), dev: '1', ino: '2', offset: 6, length: 10 });
    appendRecord(f, buf('x\n'));
    expect(readFileSync(f, 'utf8')).toBe('whole\nto\nx\n');
    expect(readdirSync(dir)).toEqual(['log']);
  });

  test("a live appender's bytes are left alone", () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'whole\nto');
    // the parent of this process: alive, another pid on this host
    journal('log', { pid: process.ppid, start: null, host: hostname(), ...fileId(f), offset: 6, length: 10 });
    appendRecord(f, buf('x\n'));
    expect(readFileSync(f, 'utf8')).toBe('whole\nto\nx\n');
  });

  test("this process's own journal (an append that ended) and a journal that does not parse are acted on or dropped", () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'whole\nto');
    journal('log', { pid: process.pid, start: null, host: hostname(), ...fileId(f), offset: 6, length: 10 });
    appendRecord(f, buf('x\n'));
    expect(readFileSync(f, 'utf8')).toBe('whole\nx\n');
    writeFileSync(join(dir, `.log${JOURNAL_SUFFIX}`), '{"pid": 1, "offs');
    appendRecord(f, buf('y\n'));
    expect(readFileSync(f, 'utf8')).toBe('whole\nx\ny\n');
    expect(readdirSync(dir)).toEqual(['log']);
  });

  test('a journal with a field missing or of the wrong kind is dropped, cutting nothing', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'whole\nto');
    const base = { pid: DEAD_PID, start: 1, host: hostname(), ...fileId(f), offset: 6, length: 10 };
    for (const bad of [{ pid: -1 }, { offset: 'x' }, { length: 1.5 }, { host: 7 }, { dev: 1 }, { ino: null }]) {
      writeFileSync(f, 'whole\nto');
      journal('log', { ...base, ...bad });
      appendRecord(f, buf('z\n'));
      expect(readFileSync(f, 'utf8')).toBe('whole\nto\nz\n');
      expect(readdirSync(dir)).toEqual(['log']);
    }
  });

  test('a record for something not a regular file (a device, a pipe) is written as it is', () => {
    expect(() => appendRecord('/dev/null', buf('into the void\n'))).not.toThrow();
    expect(readdirSync(dir)).toEqual([]);
  });
});
