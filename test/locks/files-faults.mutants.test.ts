/**
 * The file operations of src/locks/files.ts and src/locks/journal.ts when the system says no:
 * a short write(2), a failed fsync, close, rename or truncate, a full disk, a file that may be
 * appended to but not read, a directory that cannot be listed. The failures are forced through
 * the FileOps the functions take; every other call goes to node:fs on real files.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { appendRecord, atomicReplace, atomicReplaceAsync, JOURNAL_SUFFIX, PendingReplace, TEMP_SUFFIX, type FileOps } from '../../src/locks/files.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'coord-files-faults-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 6);
const DEAD_PID = 4_194_399;
const buf = (s: string) => Buffer.from(s);
const temps = () => readdirSync(dir).filter((n) => n.endsWith(TEMP_SUFFIX));
const errno = (code: string) => Object.assign(new Error(`${code}: forced`), { code });
const journalPath = (name: string) => join(dir, `.${name}${JOURNAL_SUFFIX}`);

type Call = [name: keyof FileOps, ...args: unknown[]];

/** node:fs with the calls in `over` replaced; every call (replaced or not) is recorded. */
function ops(over: Partial<FileOps> = {}): FileOps & { calls: Call[]; named: (n: keyof FileOps) => unknown[][] } {
  const calls: Call[] = [];
  const names = [
    'closeSync',
    'fchmodSync',
    'fchownSync',
    'fdatasyncSync',
    'fstatSync',
    'fsyncSync',
    'ftruncateSync',
    'openSync',
    'readdirSync',
    'readFileSync',
    'readSync',
    'renameSync',
    'statSync',
    'unlinkSync',
    'writeFileSync',
    'writeSync',
  ] as const;
  const o: Record<string, unknown> = { calls, named: (n: keyof FileOps) => calls.filter((c) => c[0] === n).map((c) => c.slice(1)) };
  for (const n of names) {
    const impl = (over[n] ?? fs[n]) as (...a: unknown[]) => unknown;
    o[n] = (...args: unknown[]) => {
      calls.push([n, ...args]);
      return impl(...args);
    };
  }
  return o as unknown as FileOps & { calls: Call[]; named: (n: keyof FileOps) => unknown[][] };
}

/** A writeSync that writes at most `n` bytes a call, as write(2) may. */
const shortWrites =
  (n: number) =>
  (fd: number, data: Uint8Array, off = 0, len = data.length - off): number =>
    fs.writeSync(fd, data, off, Math.min(n, len));

describe('atomicReplace when the system says no', () => {
  test('short writes still give the whole content', () => {
    const f = join(dir, 'f');
    const o = ops({ writeSync: shortWrites(3) as FileOps['writeSync'] });
    atomicReplace(f, buf('0123456789ab'), undefined, o);
    expect(readFileSync(f, 'utf8')).toBe('0123456789ab');
    expect(o.named('writeSync')).toHaveLength(4);
    expect(temps()).toEqual([]);
  });

  test('an empty content writes nothing and still replaces the target', () => {
    const f = join(dir, 'f');
    writeFileSync(f, 'old');
    const o = ops();
    atomicReplace(f, buf(''), undefined, o);
    expect(readFileSync(f, 'utf8')).toBe('');
    expect(o.named('writeSync')).toHaveLength(0);
  });

  const fail = (code: string) => () => {
    throw errno(code);
  };
  for (const [what, code, over] of [
    ['a full disk on write', 'ENOSPC', { writeSync: fail('ENOSPC') }],
    ['a failed fsync of the temp file', 'EIO', { fsyncSync: fail('EIO') }],
    ['a failed rename', 'EXDEV', { renameSync: fail('EXDEV') }],
  ] as Array<[string, string, Partial<FileOps>]>) {
    test(`${what}: the error, the old content, no temp file (sync and async)`, async () => {
      const f = join(dir, 'f');
      writeFileSync(f, 'old');
      expect(() => atomicReplace(f, buf('new'), undefined, ops(over))).toThrow(code);
      await expect(atomicReplaceAsync(f, buf('new'), undefined, ops(over))).rejects.toThrow(code);
      expect(readFileSync(f, 'utf8')).toBe('old');
      expect(temps()).toEqual([]);
    });
  }

  test('a close of the temp file that fails after the data is synced does not stop the replacement', () => {
    const f = join(dir, 'f');
    writeFileSync(f, 'old');
    const o = ops({
      closeSync: (fd: number) => {
        fs.closeSync(fd);
        if (o.named('fsyncSync').length === 1) throw errno('EIO');
      },
    });
    atomicReplace(f, buf('new'), undefined, o);
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(temps()).toEqual([]);
  });

  test('the directory is fsynced after the rename and closed even when its fsync fails', () => {
    const f = join(dir, 'f');
    let dirFd = -1;
    const o = ops({
      openSync: ((p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode) => {
        const fd = fs.openSync(p, flags, mode);
        if (p === dir) dirFd = fd;
        return fd;
      }) as FileOps['openSync'],
      fsyncSync: (fd: number) => {
        if (fd === dirFd) throw errno('EIO');
        fs.fsyncSync(fd);
      },
    });
    expect(() => atomicReplace(f, buf('new'), undefined, o)).toThrow('EIO');
    // the rename was made: the content is there, and no temp file stays
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(temps()).toEqual([]);
    expect(o.named('openSync').filter((c) => c[0] === dir)).toEqual([[dir, 'r']]);
    expect(o.named('closeSync').map((c) => c[0])).toContain(dirFd);
    const order = o.calls.map((c) => c[0]);
    expect(order.lastIndexOf('renameSync')).toBeLessThan(order.lastIndexOf('fsyncSync'));
  });

  test('a directory that cannot be listed: the leftovers stay, the write goes on', () => {
    const f = join(dir, 'f');
    const dead = `.f.${DEAD_PID}-123-${HOST_TAG}-0123abcd${TEMP_SUFFIX}`;
    writeFileSync(join(dir, dead), 'left');
    atomicReplace(
      f,
      buf('x'),
      undefined,
      ops({
        readdirSync: (() => {
          throw errno('EACCES');
        }) as unknown as FileOps['readdirSync'],
      }),
    );
    expect(readFileSync(f, 'utf8')).toBe('x');
    expect(temps()).toEqual([dead]);
  });

  test('a target that cannot be looked at (not a missing one) is an error, and no temp file is made', () => {
    const f = join(dir, 'f');
    writeFileSync(f, 'old');
    const o = ops({
      statSync: (() => {
        throw errno('EACCES');
      }) as unknown as FileOps['statSync'],
    });
    expect(() => atomicReplace(f, buf('new'), undefined, o)).toThrow('EACCES');
    expect(o.named('openSync')).toEqual([]);
    expect(temps()).toEqual([]);
  });

  test('the mode cannot be given to the temp file at its open: it is closed and removed, and the error thrown', () => {
    const f = join(dir, 'f');
    writeFileSync(f, 'old');
    const o = ops({
      fchmodSync: () => {
        throw errno('EPERM');
      },
    });
    // a umask that takes bits the target has: the temp file needs an fchmod at its open
    const old = process.umask(0o077);
    try {
      fs.chmodSync(f, 0o640);
      expect(() => PendingReplace.open(f, o)).toThrow('EPERM');
    } finally {
      process.umask(old);
    }
    const opened = o.named('openSync')[0]![0];
    expect(o.named('closeSync').length).toBe(1);
    expect(o.named('unlinkSync')).toEqual([[opened]]);
    expect(temps()).toEqual([]);
  });

  test('the owner is given (as root) only when it differs, the mode only when it differs', () => {
    const f = join(dir, 'f');
    writeFileSync(f, 'old');
    fs.chmodSync(f, 0o644 & ~process.umask());
    const same = ops();
    atomicReplace(f, buf('a'), undefined, same);
    expect(same.named('fchownSync')).toEqual([]);
    expect(same.named('fchmodSync')).toEqual([]);
    if (process.getuid?.() === 0) {
      fs.chownSync(f, 4242, 4343);
      const other = ops();
      atomicReplace(f, buf('b'), undefined, other);
      // at the open; at the commit the temp file has that owner already
      expect(other.named('fchownSync').map((c) => c.slice(1))).toEqual([[4242, 4343]]);
    }
    fs.chmodSync(f, 0o4750);
    const setid = ops();
    atomicReplace(f, buf('c'), undefined, setid);
    // at the open: the permission bits; at the commit: all of them, set-id included
    expect(setid.named('fchmodSync').map((c) => c[1])).toContain(0o4750);
    expect(statSync(f).mode & 0o7777).toBe(0o4750);
  });

  test('a discard after the commit, and a second discard, touch no file', () => {
    const f = join(dir, 'f');
    const o = ops();
    const p = PendingReplace.open(f, o);
    p.write(buf('x'));
    p.commitSync();
    const n = o.calls.length;
    p.discard();
    expect(o.calls.length).toBe(n);
    const q = PendingReplace.open(f, o);
    q.discard();
    const m = o.calls.length;
    q.discard();
    expect(o.calls.length).toBe(m);
  });
});

describe('appendRecord when the system says no', () => {
  test('short writes still append the whole record', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'a\n');
    appendRecord(f, buf('0123456789\n'), ops({ writeSync: shortWrites(4) as FileOps['writeSync'] }));
    expect(readFileSync(f, 'utf8')).toBe('a\n0123456789\n');
  });

  for (const [what, over] of [
    [
      'a full disk',
      {
        writeSync: () => {
          throw errno('ENOSPC');
        },
      },
    ],
    [
      'a failed flush',
      {
        fdatasyncSync: () => {
          throw errno('EIO');
        },
      },
    ],
  ] as Array<[string, Partial<FileOps>]>) {
    test(`${what}: the error, no partial record, no journal left`, () => {
      const f = join(dir, 'log');
      writeFileSync(f, 'a\nb');
      const o = ops(over);
      expect(() => appendRecord(f, buf('new record\n'), o)).toThrow();
      expect(readFileSync(f, 'utf8')).toBe('a\nb');
      expect(existsSync(journalPath('log'))).toBe(false);
      expect(o.named('ftruncateSync').map((c) => c[1])).toEqual([3]);
      expect(o.named('closeSync')).toHaveLength(1);
    });
  }

  test('a failed write that cannot be cut back either: the original error, and the journal stays for the next append to repair', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'a\n');
    const o = ops({
      writeSync: ((fd: number, data: Uint8Array) => {
        fs.writeSync(fd, data, 0, 3);
        throw errno('ENOSPC');
      }) as unknown as FileOps['writeSync'],
      ftruncateSync: () => {
        throw errno('EIO');
      },
    });
    expect(() => appendRecord(f, buf('torn record\n'), o)).toThrow('ENOSPC');
    expect(readFileSync(f, 'utf8')).toBe('a\ntor');
    expect(existsSync(journalPath('log'))).toBe(true);
    // this process's own journal, from an append that ended: the next append cuts the torn part off
    appendRecord(f, buf('next\n'));
    expect(readFileSync(f, 'utf8')).toBe('a\nnext\n');
    expect(existsSync(journalPath('log'))).toBe(false);
  });

  test('a journal the directory will not take: the record is appended without one, and no empty one is left', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'a\n');
    const o = ops({
      writeFileSync: ((p: string) => {
        fs.writeFileSync(p, ''); // created, then the disk was full
        throw errno('ENOSPC');
      }) as unknown as FileOps['writeFileSync'],
    });
    appendRecord(f, buf('b\n'), o);
    expect(readFileSync(f, 'utf8')).toBe('a\nb\n');
    expect(readdirSync(dir)).toEqual(['log']);
    expect(o.named('unlinkSync')).toEqual([[journalPath('log')]]);
    // not even made: nothing to remove, and the append still goes on
    appendRecord(
      f,
      buf('c\n'),
      ops({
        writeFileSync: (() => {
          throw errno('EACCES');
        }) as unknown as FileOps['writeFileSync'],
      }),
    );
    expect(readFileSync(f, 'utf8')).toBe('a\nb\nc\n');
  });

  test('a journal replaced by another appender before the end is left to it; one that vanished is no error', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'a\n');
    const theirs = '{"someone":"else"}\n';
    const o = ops({
      writeSync: ((fd: number, data: Uint8Array, off?: number, len?: number) => {
        const n = fs.writeSync(fd, data, off, len);
        fs.writeFileSync(journalPath('log'), theirs);
        return n;
      }) as unknown as FileOps['writeSync'],
    });
    appendRecord(f, buf('b\n'), o);
    expect(readFileSync(journalPath('log'), 'utf8')).toBe(theirs);
    fs.unlinkSync(journalPath('log'));
    const gone = ops({
      writeSync: ((fd: number, data: Uint8Array, off?: number, len?: number) => {
        const n = fs.writeSync(fd, data, off, len);
        fs.unlinkSync(journalPath('log'));
        return n;
      }) as unknown as FileOps['writeSync'],
    });
    appendRecord(f, buf('c\n'), gone);
    expect(readFileSync(f, 'utf8')).toBe('a\nb\nc\n');
    expect(readdirSync(dir)).toEqual(['log']);
  });

  test('a file that may be appended to but not read: the record goes on as it is, no look at the last byte', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'no newline');
    const o = ops({
      openSync: ((p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode) => {
        if (flags === 'a+') throw errno('EACCES');
        return fs.openSync(p, flags, mode);
      }) as FileOps['openSync'],
    });
    appendRecord(f, buf('rec\n'), o);
    expect(readFileSync(f, 'utf8')).toBe('no newlinerec\n');
    expect(o.named('openSync').map((c) => c.slice(1))).toEqual([
      ['a+', 0o666],
      ['a', 0o666],
    ]);
    expect(o.named('readSync')).toEqual([]);
  });

  test('another error opening the file is thrown, and nothing is written', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'x\n');
    const o = ops({
      openSync: ((p: fs.PathLike, flags: fs.OpenMode, mode?: fs.Mode) => {
        if (flags === 'a+') throw errno('EMFILE');
        return fs.openSync(p, flags, mode);
      }) as FileOps['openSync'],
    });
    expect(() => appendRecord(f, buf('rec\n'), o)).toThrow('EMFILE');
    expect(o.named('openSync')).toHaveLength(1);
    expect(readFileSync(f, 'utf8')).toBe('x\n');
  });

  test('a target that cannot be looked at is an error; a missing one is created', () => {
    const f = join(dir, 'log');
    expect(() =>
      appendRecord(
        f,
        buf('x\n'),
        ops({
          statSync: (() => {
            throw errno('EACCES');
          }) as unknown as FileOps['statSync'],
        }),
      ),
    ).toThrow('EACCES');
    expect(existsSync(f)).toBe(false);
    appendRecord(f, buf('x\n'));
    expect(readFileSync(f, 'utf8')).toBe('x\n');
  });

  test('a record for a pipe or a device: a flush it cannot take (EINVAL) is fine, another failure is thrown; the file is closed either way', () => {
    const dev = '/dev/null';
    const einval = ops({
      fdatasyncSync: () => {
        throw errno('EINVAL');
      },
    });
    appendRecord(dev, buf('x'), einval);
    expect(einval.named('openSync').map((c) => c.slice(0, 2))).toEqual([[dev, 'a']]);
    expect(einval.named('closeSync')).toHaveLength(1);
    const eio = ops({
      fdatasyncSync: () => {
        throw errno('EIO');
      },
    });
    expect(() => appendRecord(dev, buf('x'), eio)).toThrow('EIO');
    expect(eio.named('closeSync')).toHaveLength(1);
    // a device gets no journal, no look at its end
    expect(eio.named('writeFileSync')).toEqual([]);
    expect(eio.named('readSync')).toEqual([]);
  });

  test('a last byte that cannot be read (0 bytes back) adds no newline', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'abc');
    appendRecord(f, buf('d\n'), ops({ readSync: (() => 0) as unknown as FileOps['readSync'] }));
    expect(readFileSync(f, 'utf8')).toBe('abcd\n');
    const o = ops();
    appendRecord(f, buf('e\n'), o);
    // the byte it reads is the last one
    expect(o.named('readSync').map((c) => c.slice(2))).toEqual([[0, 1, 4]]);
  });

  test('a journal that cannot be read, or removed, is never acted on', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'whole\ntorn');
    const st = fs.statSync(f, { bigint: true });
    const deadJournal = () =>
      fs.writeFileSync(
        journalPath('log'),
        JSON.stringify({ pid: DEAD_PID, start: 1, host: hostname(), dev: String(st.dev), ino: String(st.ino), offset: 6, length: 20 }),
      );
    deadJournal();
    appendRecord(
      f,
      buf('a\n'),
      ops({
        readFileSync: (() => {
          throw errno('EACCES');
        }) as unknown as FileOps['readFileSync'],
      }),
    );
    expect(readFileSync(f, 'utf8')).toBe('whole\ntorn\na\n');
    writeFileSync(f, 'whole\ntorn');
    deadJournal();
    appendRecord(
      f,
      buf('b\n'),
      ops({
        unlinkSync: () => {
          throw errno('EPERM');
        },
      }),
    );
    expect(readFileSync(f, 'utf8')).toBe('whole\ntorn\nb\n');
    expect(existsSync(journalPath('log'))).toBe(true);
    // removed at last, it is acted on
    writeFileSync(f, 'whole\ntorn');
    deadJournal();
    appendRecord(f, buf('c\n'));
    expect(readFileSync(f, 'utf8')).toBe('whole\nc\n');
  });

  test('the journal names this process, this host, the file, the offset and length of the record', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'abc');
    const o = ops();
    appendRecord(f, buf('d\n'), o);
    const [[path, text]] = o.named('writeFileSync') as [[string, string]];
    expect(path).toBe(journalPath('log'));
    const st = fs.statSync(f, { bigint: true });
    const j = JSON.parse(text) as Record<string, unknown>;
    expect(j).toEqual({ pid: process.pid, start: expect.any(Number), host: hostname(), dev: String(st.dev), ino: String(st.ino), offset: 3, length: 3 });
    expect(text.endsWith('}\n')).toBe(true);
  });
});

describe('details no failure forces', () => {
  const journal = (name: string, j: object) => writeFileSync(journalPath(name), JSON.stringify(j) + '\n');
  const fileId = (f: string) => {
    const st = statSync(f, { bigint: true });
    return { dev: String(st.dev), ino: String(st.ino) };
  };

  test('a platform without getuid (no owners to keep) still replaces, and gives no owner', () => {
    const f = join(dir, 'f');
    writeFileSync(f, 'old');
    const getuid = process.getuid;
    const o = ops();
    (process as { getuid?: () => number }).getuid = undefined;
    try {
      atomicReplace(f, buf('new'), undefined, o);
    } finally {
      process.getuid = getuid;
    }
    expect(readFileSync(f, 'utf8')).toBe('new');
    expect(o.named('fchownSync')).toEqual([]);
  });

  test('an empty file is not read before the first record; a new one is made 0666 less the umask', () => {
    const f = join(dir, 'log');
    writeFileSync(f, '');
    const o = ops();
    appendRecord(f, buf('a\n'), o);
    expect(o.named('readSync')).toEqual([]);
    expect(readFileSync(f, 'utf8')).toBe('a\n');
    const g = join(dir, 'new');
    appendRecord(g, buf('b\n'));
    expect(statSync(g).mode & 0o777).toBe(0o666 & ~process.umask());
  });

  test('a torn first record (its journal at offset 0) is cut off to nothing', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'tor');
    journal('log', { pid: DEAD_PID, start: 1, host: hostname(), ...fileId(f), offset: 0, length: 10 });
    appendRecord(f, buf('next\n'));
    expect(readFileSync(f, 'utf8')).toBe('next\n');
  });

  test('a journal whose start time does not parse names its process by the pid alone: a live one is left alone', () => {
    const f = join(dir, 'log');
    writeFileSync(f, 'whole\nto');
    journal('log', { pid: process.ppid, start: 'yesterday', host: hostname(), ...fileId(f), offset: 6, length: 10 });
    appendRecord(f, buf('x\n'));
    expect(readFileSync(f, 'utf8')).toBe('whole\nto\nx\n');
    journal('log', { pid: process.ppid, start: -4, host: hostname(), ...fileId(f), offset: 6, length: 10 });
    appendRecord(f, buf('y\n'));
    expect(readFileSync(f, 'utf8')).toBe('whole\nto\nx\ny\n');
  });

  test('after a cut, the new end is what the next record is put after: one that ends mid-line gets a newline first', () => {
    const f = join(dir, 'log');
    // "abc" was left unfinished by another program; the killed appender had written "\nxy" of its record "\nxyz..."
    writeFileSync(f, 'abc\nxy');
    journal('log', { pid: DEAD_PID, start: 1, host: hostname(), ...fileId(f), offset: 3, length: 10 });
    const o = ops();
    appendRecord(f, buf('next\n'), o);
    expect(readFileSync(f, 'utf8')).toBe('abc\nnext\n');
    const [[, text]] = o.named('writeFileSync') as [[string, string]];
    expect(JSON.parse(text)).toMatchObject({ offset: 3, length: 6 });
  });
});
