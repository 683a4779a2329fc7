/** Atomic writes and appends (src/locks/files.ts): the owner a replacement keeps (as root), the writer named in its temp file, no descriptor left open, the checks before a torn record is cut. */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendRecord, atomicReplace, JOURNAL_SUFFIX, PendingReplace } from '../../src/locks/files.js';
import { processStartTime } from '../../src/util/proc.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'coord-files-own-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const buf = (s: string) => Buffer.from(s);
const DEAD_PID = 4_194_399;
const asRoot = process.getuid?.() === 0 ? test : test.skip;
const openFds = () => readdirSync('/proc/self/fd').length;
const linux = process.platform === 'linux' ? test : test.skip;

describe('atomic replacement', () => {
  asRoot('as root, the new content keeps the owner of the target: another uid', () => {
    const f = join(dir, 'a');
    writeFileSync(f, 'old');
    chownSync(f, 4242, 0);
    atomicReplace(f, buf('new'));
    const st = statSync(f);
    expect([st.uid, st.gid]).toEqual([4242, 0]);
    expect(readFileSync(f, 'utf8')).toBe('new');
  });

  asRoot('as root, the new content keeps the owner of the target: another gid only', () => {
    const f = join(dir, 'a');
    writeFileSync(f, 'old');
    chownSync(f, 0, 4343);
    atomicReplace(f, buf('new'));
    const st = statSync(f);
    expect([st.uid, st.gid]).toEqual([0, 4343]);
  });

  asRoot('as root, an owner changed while the input came is the one the new content gets', () => {
    const f = join(dir, 'a');
    writeFileSync(f, 'old');
    const p = PendingReplace.open(f);
    p.write(buf('new'));
    chownSync(f, 4242, 4343);
    p.commitSync();
    const st = statSync(f);
    expect([st.uid, st.gid]).toEqual([4242, 4343]);
  });

  test('its temp file names this process and its start time', () => {
    const f = join(dir, 'a');
    const p = PendingReplace.open(f);
    const start = processStartTime(process.pid);
    expect(p.path.startsWith(join(dir, `.a.${process.pid}-${start ?? ''}-`))).toBe(true);
    if (process.platform === 'linux') expect(typeof start).toBe('number');
    p.discard();
    // a second one (the start time is kept) names it the same way
    const q = PendingReplace.open(f);
    expect(q.path.startsWith(join(dir, `.a.${process.pid}-${start ?? ''}-`))).toBe(true);
    q.discard();
  });

  linux('leaves no file descriptor open: a commit, a failed check, a discard', () => {
    const f = join(dir, 'a');
    atomicReplace(f, buf('warm up'));
    const before = openFds();
    atomicReplace(f, buf('one'));
    expect(() =>
      atomicReplace(f, buf('two'), () => {
        throw new Error('fenced');
      }),
    ).toThrow('fenced');
    PendingReplace.open(f).discard();
    expect(openFds()).toBe(before);
    expect(readFileSync(f, 'utf8')).toBe('one');
  });
});

describe('appends', () => {
  const journal = (f: string, j: object) => writeFileSync(join(dir, `.${f}${JOURNAL_SUFFIX}`), JSON.stringify(j) + '\n');
  const fileId = (f: string) => {
    const st = statSync(f, { bigint: true });
    return { dev: String(st.dev), ino: String(st.ino) };
  };

  linux('leave no file descriptor open', () => {
    const f = join(dir, 'log');
    appendRecord(f, buf('warm\n'));
    const before = openFds();
    appendRecord(f, buf('a\n'));
    appendRecord(f, buf('b'));
    expect(openFds()).toBe(before);
    expect(readFileSync(f, 'utf8')).toBe('warm\na\nb');
  });

  test("another host's journal is acted on even when its pid is alive here", () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'whole\nto');
    // the parent of this process is alive on this host, but the journal is another host's
    journal('log', { pid: process.ppid, start: null, host: `${hostname()}-elsewhere`, ...fileId(f), offset: 6, length: 10 });
    appendRecord(f, buf('next\n'));
    expect(readFileSync(f, 'utf8')).toBe('whole\nnext\n');
  });

  test('a journal whose offset is past the end (the file was cut since) never extends the file', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'ab\n');
    journal('log', { pid: DEAD_PID, start: null, host: hostname(), ...fileId(f), offset: 10, length: 5 });
    appendRecord(f, buf('c\n'));
    expect(readFileSync(f, 'utf8')).toBe('ab\nc\n');
    expect(readdirSync(dir)).toEqual(['log']);
  });

  test('a journal naming the same device but another inode, or another device with the same inode, cuts nothing', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'whole\nto');
    const id = fileId(f);
    journal('log', { pid: DEAD_PID, start: null, host: hostname(), dev: id.dev, ino: String(BigInt(id.ino) + 1n), offset: 6, length: 10 });
    appendRecord(f, buf('x\n'));
    expect(readFileSync(f, 'utf8')).toBe('whole\nto\nx\n');
    writeFileSync(f, 'whole\nto');
    journal('log', { pid: DEAD_PID, start: null, host: hostname(), dev: String(BigInt(id.dev) + 1n), ino: id.ino, offset: 6, length: 10 });
    appendRecord(f, buf('y\n'));
    expect(readFileSync(f, 'utf8')).toBe('whole\nto\ny\n');
    expect(readdirSync(dir)).toEqual(['log']);
  });
});
