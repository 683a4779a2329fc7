/** The file lock store (src/locks/store.ts): tokens above the ledger, entries checked, listing and watching. */
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, realpathSync, renameSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLockStore } from '../../src/locks/store.js';
import { lockKey } from '../../src/locks/registry.js';
import { grantTo as grant, releaseOf as release } from './waiters.js';

let dir: string;
beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'coord-store-')));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('FileLockStore', () => {
  test('keeps the ledger beside an explicit registry, or where it is told', () => {
    const reg = join(dir, 'reg');
    expect(new FileLockStore(reg).ledger.dir).toBe(`${reg}.tokens`);
    expect(new FileLockStore(reg, { tokens: join(dir, 'tok') }).ledger.dir).toBe(join(dir, 'tok'));
    expect(new FileLockStore(reg).where).toBe(reg);
  });

  test('a grant records its token; a change that grants nothing records none', () => {
    const reg = join(dir, 'reg');
    const s = new FileLockStore(reg);
    const f = join(dir, 'f');
    expect(s.updateSync(f, grant('a'))).toMatchObject({ changed: true, state: { token: 1 } });
    expect(s.updateSync(f, () => undefined)).toMatchObject({ changed: false, state: { token: 1 } });
    expect(s.updateSync(f, release('a'))).toMatchObject({ changed: true, state: { token: 1, holders: [] } });
    expect(s.ledger.last(lockKey(f))).toBe(1);
    expect(readdirSync(join(`${reg}.tokens`, lockKey(f))).sort()).toEqual(['1', 'anchor']);
  });

  test('a registry removed under its locks goes on above every token granted before', async () => {
    const reg = join(dir, 'reg');
    const s = new FileLockStore(reg);
    const f = join(dir, 'f');
    s.updateSync(f, grant('a'));
    s.updateSync(f, release('a'));
    s.updateSync(f, grant('b'));
    rmSync(reg, { recursive: true, force: true });
    // a fresh store (the next process): reads and grants are lifted to the ledger
    const next = new FileLockStore(reg);
    expect(next.readSync(f).token).toBe(2);
    expect((await next.read(f)).holders).toEqual([]);
    const r = await next.update(f, grant('c'));
    expect(r.state.holders.map((h) => h.token)).toEqual([3]);
    expect(r.state.token).toBe(3);
  });

  test('an entry holding another lock (renamed by hand) is refused, naming it, its lock and the ledger', () => {
    const reg = join(dir, 'reg');
    const s = new FileLockStore(reg);
    const f = join(dir, 'f');
    const g = join(dir, 'g');
    s.updateSync(g, grant('a'));
    renameSync(join(reg, lockKey(g)), join(reg, lockKey(f)));
    const entry = join(reg, lockKey(f));
    expect(() => s.readSync(f)).toThrow(
      `lock registry entry ${entry} holds the lock of ${g}, not of ${f}: the registry was changed by hand; refusing to use it (remove ${entry}: the lock's tokens go on from the token ledger ${reg}.tokens)`,
    );
    expect(() => s.updateSync(f, grant('b'))).toThrow('the registry was changed by hand');
  });

  test('listing a registry that does not exist shows no lock and creates nothing', async () => {
    const reg = join(dir, 'none');
    const s = new FileLockStore(reg);
    expect(s.listSync()).toEqual([]);
    expect(await s.list()).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
    s.updateSync(join(dir, 'f'), grant('a'));
    expect(s.listSync().map((l) => l.path)).toEqual([join(dir, 'f')]);
  });

  test('watch reports a new version of the lock, and stops when told', async () => {
    const reg = join(dir, 'reg');
    const s = new FileLockStore(reg);
    const f = join(dir, 'f');
    s.updateSync(f, grant('a'));
    let changes = 0;
    let stop: () => void = () => undefined;
    const changed = new Promise<void>((resolve) => {
      stop = s.watch(f, () => {
        changes++;
        resolve();
      });
    });
    s.updateSync(f, release('a'));
    await changed;
    stop();
    const seen = changes;
    // a watcher of its own sees the next version; the stopped one has seen nothing more by then
    const entry = join(reg, lockKey(f));
    const marker = new Promise<void>((resolve) => {
      const w = watch(entry, { persistent: false }, (_e, name) => {
        if (/^\d+\.json$/.test(String(name))) {
          w.close();
          setImmediate(resolve);
        }
      });
    });
    s.updateSync(f, grant('b'));
    await marker;
    expect(changes).toBe(seen);
    // a lock never used has no directory to watch: nothing, and no throw
    expect(() => s.watch(join(dir, 'never'), () => changes++)()).not.toThrow();
  });
});
