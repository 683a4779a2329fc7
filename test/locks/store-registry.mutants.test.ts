/** The file lock store (src/locks/store.ts): privacy checks, grants never published below the ledger, the take-back of a grant made twice, the watch's name filter. */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLockStore } from '../../src/locks/store.js';
import { lockKey } from '../../src/locks/registry.js';
import { UnsafeDirectoryError } from '../../src/util/private-dir.js';
import { acquireStep, type LockState } from '../../src/locks/state.js';
import { grantTo as grant, releaseOf as release, liveWriter } from './waiters.js';

let dir: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'coord-store-reg-')));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Every version of a lock's entry still on disk, oldest first. */
const versions = (reg: string, canonical: string): LockState[] => {
  const entry = join(reg, lockKey(canonical));
  return readdirSync(entry)
    .filter((n) => /^\d+\.json$/.test(n))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
    .map((n) => (JSON.parse(readFileSync(join(entry, n), 'utf8')) as { data: LockState }).data);
};
const uid = process.getuid?.();
const posix = uid === undefined ? test.skip : test;

describe('FileLockStore privacy checks', () => {
  posix('a registry others can write is refused on first use by read, update and list, naming it and the fix', () => {
    const reg = join(dir, 'reg');
    mkdirSync(reg, { mode: 0o700 });
    chmodSync(reg, 0o777);
    const f = join(dir, 'f');
    for (const use of [(s: FileLockStore) => s.readSync(f), (s: FileLockStore) => s.updateSync(f, grant('a')), (s: FileLockStore) => s.listSync()]) {
      let err: unknown;
      try {
        use(new FileLockStore(reg));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UnsafeDirectoryError);
      expect((err as Error).message).toBe(
        `lock registry ${reg} is writable by its group and others (mode 0777); refusing to use it (set COORD_LOCK_DIR to a directory of your own, mode 0700)`,
      );
    }
    // nothing was granted into it
    expect(readdirSync(reg)).toEqual([]);
  });

  posix('a token ledger others can write is refused, naming it and the fix', () => {
    const reg = join(dir, 'reg');
    const tokens = join(dir, 'tok');
    mkdirSync(tokens, { mode: 0o700 });
    chmodSync(tokens, 0o722);
    const s = new FileLockStore(reg, { tokens });
    expect(() => s.updateSync(join(dir, 'f'), grant('a'))).toThrow(
      `lock token ledger ${tokens} is writable by its group and others (mode 0722); refusing to use it (set COORD_LOCK_TOKENS to a directory of your own, mode 0700)`,
    );
  });

  test('a first use creates both directories private', () => {
    const reg = join(dir, 'a', 'reg');
    const tokens = join(dir, 'b', 'tok');
    const s = new FileLockStore(reg, { tokens });
    expect(s.readSync(join(dir, 'f')).token).toBe(0);
    expect(readdirSync(join(dir, 'a'))).toEqual(['reg']);
    expect(readdirSync(join(dir, 'b'))).toEqual(['tok']);
  });

  posix('the directories are checked once per store: a later change of mode does not stop the locks it serves', () => {
    const reg = join(dir, 'reg');
    const s = new FileLockStore(reg);
    const f = join(dir, 'f');
    s.updateSync(f, grant('a'));
    chmodSync(reg, 0o777);
    chmodSync(`${reg}.tokens`, 0o777);
    // the holder can still release, and the listing still shows the lock
    expect(s.updateSync(f, release('a'))).toMatchObject({ changed: true, state: { holders: [] } });
    expect(s.readSync(f).token).toBe(1);
    expect(s.listSync().map((l) => l.path)).toEqual([f]);
    // a new store (another process) checks again
    expect(() => new FileLockStore(reg).readSync(f)).toThrow(UnsafeDirectoryError);
  });

  test('a new store lists the locks of an existing registry', () => {
    const reg = join(dir, 'reg');
    const f = join(dir, 'f');
    new FileLockStore(reg).updateSync(f, grant('a'));
    const locks = new FileLockStore(reg).listSync();
    expect(locks.map((l) => [l.path, l.holders.map((h) => h.token)])).toEqual([[f, [1]]]);
  });
});

describe('FileLockStore grants above the ledger', () => {
  test('a grant on a registry that was removed is never published below the ledger: no version of the entry ever holds an old token', () => {
    const reg = join(dir, 'reg');
    const f = join(dir, 'f');
    const first = new FileLockStore(reg);
    first.updateSync(f, grant('a'));
    first.updateSync(f, release('a'));
    first.updateSync(f, grant('b'));
    rmSync(reg, { recursive: true, force: true });
    const next = new FileLockStore(reg);
    const r = next.updateSync(f, grant('c'));
    expect(r).toMatchObject({ changed: true, state: { token: 3 } });
    // one commit, straight to token 3: a reader in between never saw holder c with token 1 or 2
    const vs = versions(reg, f);
    expect(vs.map((v) => v.holders.map((h) => [h.owner, h.token]))).toEqual([[['c', 3]]]);
    expect(next.ledger.last(lockKey(f))).toBe(3);
  });

  test('a ledger that was removed never lowers the tokens of the registry', () => {
    const reg = join(dir, 'reg');
    const f = join(dir, 'f');
    const s = new FileLockStore(reg);
    s.updateSync(f, grant('a'));
    s.updateSync(f, release('a'));
    s.updateSync(f, grant('b'));
    rmSync(`${reg}.tokens`, { recursive: true, force: true });
    const next = new FileLockStore(reg);
    expect(next.readSync(f)).toMatchObject({ token: 2, holders: [{ owner: 'b', token: 2 }] });
    expect(next.updateSync(f, release('b')).state.token).toBe(2);
    expect(next.updateSync(f, grant('c')).state.holders.map((h) => h.token)).toEqual([3]);
  });

  test('a state the ledger is not above goes on from the state, not the ledger', () => {
    const reg = join(dir, 'reg');
    const f = join(dir, 'f');
    const s = new FileLockStore(reg);
    s.updateSync(f, grant('a'));
    s.updateSync(f, release('a'));
    const r = s.updateSync(f, grant('b'));
    expect(r.state.holders.map((h) => h.token)).toEqual([2]);
    expect(versions(reg, f).map((v) => v.token)).toEqual([1, 1, 2]);
  });

  test('a grant whose token another registry recorded meanwhile is taken back and made again above it', () => {
    // two registries sharing one ledger: the other one grants between this one's look at the ledger and its commit
    const tokens = join(dir, 'tok');
    const f = join(dir, 'f');
    const mine = new FileLockStore(join(dir, 'mine'), { tokens });
    const other = new FileLockStore(join(dir, 'other'), { tokens });
    other.updateSync(f, grant('o1'));
    let calls = 0;
    const seen: number[] = [];
    const r = mine.updateSync(f, (s) => {
      calls++;
      seen.push(s.token);
      if (calls === 2) {
        // after the floor was read (token 1): the other registry grants token 2 and records it
        other.updateSync(f, release('o1'));
        other.updateSync(f, grant('o2'));
      }
      return grant('a')(s);
    });
    expect(r.changed).toBe(true);
    expect(r.state.holders.map((h) => [h.owner, h.token])).toEqual([['a', 3]]);
    expect(r.state.token).toBe(3);
    expect(mine.ledger.last(lockKey(f))).toBe(3);
    // the grant with token 2 (the other's) was committed, then taken back: its holder gone, the state at the ledger's token
    const vs = versions(join(dir, 'mine'), f);
    expect(vs.map((v) => [v.token, v.holders.map((h) => h.token)])).toEqual([
      [2, [2]],
      [2, []],
      [3, [3]],
    ]);
    expect(seen).toEqual([0, 1, 2]);
  });

  test('a take-back removes only the grant made twice, and keeps the holders granted earlier', () => {
    const tokens = join(dir, 'tok');
    const f = join(dir, 'f');
    const mine = new FileLockStore(join(dir, 'mine'), { tokens });
    const other = new FileLockStore(join(dir, 'other'), { tokens });
    const read = (ticket: string) => (s: Readonly<LockState>) => acquireStep(s, { ...liveWriter(ticket), mode: 'read' }, Date.now(), 60_000).state;
    mine.updateSync(f, read('r1')); // token 1
    other.updateSync(f, grant('o1')); // token 2: mine is now below the ledger
    let calls = 0;
    const r = mine.updateSync(f, (s) => {
      calls++;
      if (calls === 2) {
        // after the floor (2) was read: the other registry grants token 3 and records it
        other.updateSync(f, release('o1'));
        other.updateSync(f, grant('o2'));
      }
      return read('r2')(s);
    });
    expect(r.changed).toBe(true);
    expect(r.state.holders.map((h) => [h.owner, h.token])).toEqual([
      ['r1', 1],
      ['r2', 4],
    ]);
    expect(r.state.token).toBe(4);
    // the take-back: r2's token 3 removed, r1 kept, the state lifted to the ledger's 3
    const vs = versions(join(dir, 'mine'), f);
    expect(vs.slice(-3).map((v) => [v.token, v.holders.map((h) => h.token)])).toEqual([
      [3, [1, 3]],
      [3, [1]],
      [4, [1, 4]],
    ]);
  });
});

describe('FileLockStore watch', () => {
  test('only a new version of the entry is a change: temp files and other names are not', async () => {
    const reg = join(dir, 'reg');
    const s = new FileLockStore(reg);
    const f = join(dir, 'f');
    s.updateSync(f, grant('a'));
    const entry = join(reg, lockKey(f));
    const outside = join(dir, 'out');
    mkdirSync(outside);
    let changes = 0;
    const stop = s.watch(f, () => changes++);
    // a second watcher of the same directory sees the same events, in order: the marker is the last
    const counted: string[] = [];
    const done = new Promise<void>((resolve) => {
      const w = watch(entry, { persistent: false }, (_e, name) => {
        counted.push(String(name));
        if (name === 'zz.marker') {
          w.close();
          setImmediate(resolve);
        }
      });
    });
    // renames in: one event each
    for (const n of ['3.json.tmp', 'x3.json', '12.json', 'zz.marker']) {
      writeFileSync(join(outside, n), '{}');
      renameSync(join(outside, n), join(entry, n));
    }
    await done;
    stop();
    expect(changes).toBe(counted.filter((n) => n === '12.json').length);
    expect(changes).toBeGreaterThan(0);
  });
});
