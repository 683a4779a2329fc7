/**
 * The file lock store's change notifications (src/locks/store.ts) through the fs.watch it is
 * given, and the token ledger (src/locks/ledger.ts) when the file system says no, through the
 * LedgerOps it is given: a key directory that vanishes, another process making the anchor, a
 * name that cannot be removed.
 */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import * as fs from 'node:fs';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLockStore } from '../../src/locks/store.js';
import { TokenLedger, type LedgerOps } from '../../src/locks/ledger.js';
import { lockKey } from '../../src/locks/registry.js';
import { grantTo as grant } from './waiters.js';

let dir: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'coord-store-faults-')));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const errno = (code: string) => Object.assign(new Error(`${code}: forced`), { code });

/** An fs.watch that records what it was asked and lets the test send events. */
class FakeWatcher extends EventEmitter {
  closes = 0;
  close(): void {
    this.closes++;
  }
}
function fakeWatch(fail?: Error) {
  const made: Array<{ path: string; options: unknown; listener: (event: string, name: string | null) => void; watcher: FakeWatcher }> = [];
  const watch = ((path: string, options: unknown, listener: (event: string, name: string | null) => void) => {
    if (fail) throw fail;
    const watcher = new FakeWatcher();
    made.push({ path, options, listener, watcher });
    return watcher;
  }) as unknown as typeof fs.watch;
  return { watch, made };
}

describe('FileLockStore watch, on the fs.watch it is given', () => {
  test("watches the lock's entry without keeping the process alive; a new version, or an event with no name, is a change", () => {
    const { watch, made } = fakeWatch();
    const s = new FileLockStore(join(dir, 'reg'), { watch });
    const f = join(dir, 'f');
    s.updateSync(f, grant('a'));
    let changes = 0;
    const stop = s.watch(f, () => changes++);
    expect(made).toHaveLength(1);
    expect(made[0]!.path).toBe(join(dir, 'reg', lockKey(f)));
    expect(made[0]!.options).toEqual({ persistent: false });
    const send = made[0]!.listener;
    send('rename', '3.json');
    expect(changes).toBe(1);
    send('rename', null); // the system could not say which name: a change, maybe
    expect(changes).toBe(2);
    for (const name of ['3.json.tmp', 'x3.json', '.json', 'a.json', '12.jsonx']) send('rename', name);
    expect(changes).toBe(2);
    send('change', '12.json');
    expect(changes).toBe(3);
    stop();
    expect(made[0]!.watcher.closes).toBe(1);
    stop();
    expect(made[0]!.watcher.closes).toBe(1);
  });

  test('a watcher error closes the watcher; stopping afterwards closes nothing more', () => {
    const { watch, made } = fakeWatch();
    const s = new FileLockStore(join(dir, 'reg'), { watch });
    const f = join(dir, 'f');
    s.updateSync(f, grant('a'));
    const stop = s.watch(f, () => undefined);
    const w = made[0]!.watcher;
    expect(() => w.emit('error', new Error('watch limit'))).not.toThrow();
    expect(w.closes).toBe(1);
    // a second error of the same watcher finds it closed already
    expect(() => w.emit('error', new Error('again'))).not.toThrow();
    expect(w.closes).toBe(1);
    stop();
    expect(w.closes).toBe(1);
  });

  test('an fs.watch that throws (no inotify, no entry yet) gives a stop that does nothing', () => {
    const { watch } = fakeWatch(errno('ENOSPC'));
    const s = new FileLockStore(join(dir, 'reg'), { watch });
    const stop = s.watch(join(dir, 'f'), () => undefined);
    expect(() => stop()).not.toThrow();
  });
});

type Call = [name: keyof LedgerOps, ...args: unknown[]];

/** node:fs for the ledger with the calls in `over` replaced; every call is recorded. */
function ledgerOps(over: Partial<Record<keyof LedgerOps, (...a: never[]) => unknown>> = {}) {
  const calls: Call[] = [];
  const names = ['closeSync', 'existsSync', 'linkSync', 'mkdirSync', 'openSync', 'unlinkSync'] as const;
  const o: Record<string, unknown> = {};
  for (const n of names) {
    const impl = (over[n] ?? fs[n]) as (...a: unknown[]) => unknown;
    o[n] = (...args: unknown[]) => {
      calls.push([n, ...args]);
      return impl(...args);
    };
  }
  const named = (n: keyof LedgerOps) => calls.filter((c) => c[0] === n).map((c) => c.slice(1));
  return { ops: o as unknown as LedgerOps, calls, named };
}

const names = (key: string) =>
  readdirSync(join(dir, key))
    .filter((n) => n !== 'anchor')
    .map(Number)
    .sort((a, b) => a - b);

describe('TokenLedger when the file system says no', () => {
  test("a key's first token makes its directory (0700) and anchor (0600), then links the token", () => {
    const { ops, named } = ledgerOps();
    const l = new TokenLedger(dir, ops);
    expect(l.record('k', 0, 1)).toEqual([]);
    expect(named('linkSync')).toEqual([
      [join(dir, 'k', 'anchor'), join(dir, 'k', '1')],
      [join(dir, 'k', 'anchor'), join(dir, 'k', '1')],
    ]);
    expect(named('mkdirSync')).toEqual([[join(dir, 'k'), { recursive: true, mode: 0o700 }]]);
    expect(named('openSync')).toEqual([[join(dir, 'k', 'anchor'), 'wx', 0o600]]);
    expect(named('closeSync')).toHaveLength(1);
    expect(statSync(join(dir, 'k')).mode & 0o777).toBe(0o700);
    expect(names('k')).toEqual([1]);
  });

  test('a key directory that vanishes again right after it was made: the error, after one retry', () => {
    const { ops, named } = ledgerOps({
      linkSync: () => {
        throw errno('ENOENT');
      },
    });
    const l = new TokenLedger(dir, ops);
    expect(() => l.record('k', 0, 1)).toThrow('ENOENT');
    expect(named('linkSync')).toHaveLength(2);
    expect(named('mkdirSync')).toHaveLength(1);
  });

  test('an anchor another process made meanwhile is used; another error making it is thrown', () => {
    const made = ledgerOps({
      openSync: ((p: string, flags: string, mode: number) => {
        fs.closeSync(fs.openSync(p, flags, mode)); // the other process
        throw errno('EEXIST');
      }) as never,
    });
    expect(new TokenLedger(dir, made.ops).record('k', 0, 2)).toEqual([]);
    expect(names('k')).toEqual([1, 2]);
    const refused = ledgerOps({
      openSync: (() => {
        throw errno('EACCES');
      }) as never,
    });
    expect(() => new TokenLedger(dir, refused.ops).record('j', 0, 1)).toThrow('EACCES');
    expect(refused.named('linkSync')).toHaveLength(1);
  });

  test('a link that fails otherwise (not a missing key, not a name there already) is thrown at once', () => {
    new TokenLedger(dir).record('k', 0, 1);
    const { ops, named } = ledgerOps({
      linkSync: () => {
        throw errno('EMLINK');
      },
    });
    expect(() => new TokenLedger(dir, ops).record('k', 1, 2)).toThrow('EMLINK');
    expect(named('linkSync')).toHaveLength(1);
    expect(named('mkdirSync')).toEqual([]);
  });

  test('an old name another process removed first is no error, and the others still go', () => {
    const l = new TokenLedger(dir);
    l.record('k', 0, 39);
    const { ops, named } = ledgerOps({
      unlinkSync: ((p: string) => {
        if (p.endsWith('/3')) throw errno('ENOENT');
        fs.unlinkSync(p);
      }) as never,
    });
    expect(new TokenLedger(dir, ops).record('k', 39, 40)).toEqual([]);
    // at 40, the names of 8 and below go: all were tried, 3 was "already gone"
    expect(named('unlinkSync').map((c) => Number(String(c[0]).split('/').pop()))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(names('k')).toEqual([3, ...Array.from({ length: 32 }, (_, i) => 9 + i)]);
  });

  test('a commit from a name that is still there is kept whole, even a token a window below the newest that was not recorded yet', () => {
    const l = new TokenLedger(dir);
    expect(l.record('k', 0, 9)).toEqual([]);
    // token 10's commit is late to record it; 11 to 47 are recorded meanwhile (at 40 the names of 8 and below go)
    expect(l.record('k', 10, 47)).toEqual([]);
    expect(names('k')).toEqual([9, ...Array.from({ length: 37 }, (_, i) => 11 + i)]);
    const { ops, named } = ledgerOps();
    expect(new TokenLedger(dir, ops).record('k', 9, 10)).toEqual([]);
    expect(named('existsSync')).toEqual([[join(dir, 'k', '9')]]);
    expect(l.last('k')).toBe(47);
  });
});
