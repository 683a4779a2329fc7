import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../src/backend/file/file-backend.js';
import { StateStore, VersionConflictError, type ChangeEntry } from '../../src/state/store.js';
import { VersionedDir } from '../../src/primitives/versioned-dir.js';
import type { JsonObject } from '../../src/state/paths.js';
import type { EventInput } from '../../src/events/types.js';
import { runRecord } from '../backend/contract.js';
import { exitCodeOf } from '../../src/cli/errors.js';

let dir: string;
let backend: FileBackend;
let events: EventInput[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coord-state-'));
  backend = new FileBackend(join(dir, '.coord'));
  await backend.createRun(runRecord('r', new Date().toISOString()), '');
  events = [];
});
afterEach(async () => {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

const store = (opts: ConstructorParameters<typeof StateStore>[2] = {}) => new StateStore(backend, 'r', { onEvent: (e) => events.push(e), ...opts });

describe('StateStore', () => {
  it('starts empty at version 0; every change is a new version with a change-log entry', async () => {
    const s = store({ stream: 'a' });
    expect(await s.read()).toEqual({ version: 0, data: {} });
    expect((await s.set('cfg.model', 'x')).version).toBe(1);
    expect((await s.incr('n', 2, 'b')).version).toBe(2);
    expect((await s.merge('cfg', { t: 1 })).keys).toEqual(['cfg.t']);
    expect((await s.delete('n')).version).toBe(4);
    expect(await s.get()).toEqual({ cfg: { model: 'x', t: 1 } });
    const log = await s.changeLog();
    expect(log.map((e) => [e.version, e.stream, e.op, e.keys])).toEqual([
      [1, 'a', 'set', ['cfg']],
      [2, 'b', 'incr', ['n']],
      [3, 'a', 'merge', ['cfg.t']],
      [4, 'a', 'delete', ['n']],
    ]);
    expect(log.every((e) => !Number.isNaN(Date.parse(e.time)))).toBe(true);
    expect(events.filter((e) => e.type === 'state-version').map((e) => (e.type === 'state-version' ? e.version : 0))).toEqual([1, 2, 3, 4]);
  });

  it('makes no version when nothing changes', async () => {
    const s = store();
    await s.set('a', 1);
    const again = await s.set('a', 1);
    expect(again).toMatchObject({ version: 1, changed: false });
    expect((await s.update(() => undefined)).changed).toBe(false);
    expect(await s.changeLog()).toHaveLength(1);
  });

  it('hands update() a frozen copy and keeps what it returns', async () => {
    const s = store();
    await s.set('list', [1]);
    let frozen = false;
    await s.update((cur) => {
      frozen = Object.isFrozen(cur) && Object.isFrozen(cur.list);
      expect(() => (cur.list as number[]).push(2)).toThrow();
      return { ...cur, list: [...(cur.list as number[]), 2] };
    });
    expect(frozen).toBe(true);
    expect(await s.getAt('list')).toEqual([1, 2]);
    await expect(s.update(() => [] as never)).rejects.toThrow(/must return an object/);
  });

  it('immutable hands out frozen documents; centralized a private copy', async () => {
    await store().set('a.b', 1);
    const imm = await store({ type: 'immutable' }).get();
    expect(Object.isFrozen(imm) && Object.isFrozen(imm.a)).toBe(true);
    const mine = await store().get();
    (mine.a as Record<string, number>).b = 99;
    expect(await store().getAt('a.b')).toBe(1);
  });

  it('compare-and-set: --expect-version fails with the current version and changes nothing', async () => {
    const s = store();
    await s.set('a', 1);
    await s.set('a', 2);
    await expect(s.set('a', 3, null, { expectVersion: 1 })).rejects.toThrow(VersionConflictError);
    try {
      await s.incr('a', 1, null, { expectVersion: 0 });
    } catch (e) {
      expect({ ...(e as VersionConflictError), exitCode: exitCodeOf(e) }).toMatchObject({ expected: 0, current: 2, exitCode: 75 });
    }
    expect(await s.read()).toEqual({ version: 2, data: { a: 2 } });
    expect((await s.set('a', 3, null, { expectVersion: 2 })).version).toBe(3);
  });

  it('concurrent update(fn) from many stores never loses a write', async () => {
    const stores = Array.from({ length: 4 }, () => new StateStore(new FileBackend(join(dir, '.coord')), 'r', { onEvent: () => undefined }));
    await Promise.all(
      stores.map((s, w) =>
        (async () => {
          for (let i = 0; i < 50; i++) await s.update((cur) => ({ ...cur, seen: [...((cur.seen as string[]) ?? []), `${w}:${i}`] }));
        })(),
      ),
    );
    const final = await store().read();
    expect(final.version).toBe(200);
    expect(new Set(final.data.seen as string[]).size).toBe(200);
    expect((await store().changeLog()).map((e) => e.version)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('rolls back to an old version as a new version; refuses versions not kept, naming what is', async () => {
    const s = store({ keepVersions: 3 });
    for (let i = 1; i <= 20; i++) await s.set('n', i);
    const r = await s.rollback(18);
    expect(r).toMatchObject({ version: 21, changed: true, keys: ['n'] });
    expect(await s.getAt('n')).toBe(18);
    expect((await s.changeLog()).at(-1)).toMatchObject({ version: 21, op: 'rollback', from: 18 });
    await expect(s.rollback(2)).rejects.toThrow(/version 2 is no longer kept \(kept: \d+–21; snapshots: none\)/);
    await expect(s.rollback(99)).rejects.toThrow(/does not exist yet/);
    // old versions are collected, the change log stays whole
    expect((await backend.docVersions('r', 'state')).length).toBeLessThan(3 + 9);
    expect(await s.changeLog()).toHaveLength(21);
    expect((await s.rollback(0)).data).toEqual({});
  });

  it('fills a hole a killed writer left in the change log from the version itself', async () => {
    const s = store({ stream: 'a' });
    await s.set('a', 1);
    // a writer that committed version 2 and died before writing its log entry
    const entry: ChangeEntry = { version: 2, time: new Date().toISOString(), stream: 'dead', op: 'set', keys: ['b'] };
    const versions = new VersionedDir<JsonObject>(join(backend.runDir('r'), 'state', 'versions'), { initial: () => ({}), keep: 100 });
    expect(versions.commit(1, { a: 1, b: 2 }, entry, { changes: entry })).not.toBeNull();
    expect((await s.changeLog()).map((e) => e.version)).toEqual([1]);
    await s.set('c', 3);
    expect((await s.changeLog()).map((e) => [e.version, e.stream])).toEqual([
      [1, 'a'],
      [2, 'dead'],
      [3, 'a'],
    ]);
  });

  it('message_queue publishes every version on topic "state", message id = version', async () => {
    const s = store({ type: 'message_queue', stream: 'a' });
    await s.set('a', 1);
    await s.incr('n');
    const msgs = await backend.logRange<{ body: string; sender: string }>('r', 'topic/state');
    expect(msgs.map((m) => m.seq)).toEqual([1, 2]);
    expect(JSON.parse(msgs[1]!.body.body)).toMatchObject({ version: 2, op: 'incr', keys: ['n'], data: { a: 1, n: 1 }, stream: 'a' });
    expect(events.some((e) => e.type === 'queue-sent' && e.topic === 'state' && e.id === 2)).toBe(true);
  });

  it('snapshots durably and restores a lost state at the snapshot version, never going back', async () => {
    const s = store();
    await s.set('a', 1);
    await s.set('a', 2);
    expect(await s.snapshot()).toBe(2);
    expect(await s.snapshot()).toBeNull(); // nothing new
    expect(await s.restoreFromSnapshot()).toBeNull(); // nothing lost
    await s.set('a', 3);
    // every version lost
    const versions = join(backend.runDir('r'), 'state', 'versions');
    for (const f of readdirSync(versions)) rmSync(join(versions, f));
    expect(await s.version()).toBe(0);
    expect(await s.restoreFromSnapshot()).toBe(2);
    expect(await s.read()).toEqual({ version: 2, data: { a: 2 } });
    expect(events.some((e) => e.type === 'state-restored' && e.version === 2 && e.from === 0)).toBe(true);
    expect((await s.set('a', 4)).version).toBe(3);
    // a version only in a snapshot can still be rolled back to
    expect((await s.readVersion(2))?.data).toEqual({ a: 2 });
  });

  it('watch yields each new version touching a key, with its value', async () => {
    const s = store();
    await s.set('x', 0);
    const ac = new AbortController();
    const seen: Array<[number, unknown]> = [];
    const done = (async () => {
      // from the version after x's, however late the watch gets going
      for await (const e of s.watch('cfg', { signal: ac.signal, from: 2 })) {
        seen.push([e.version, e.value]);
        if (seen.length === 2) ac.abort();
      }
    })();
    await s.set('cfg.a', 1);
    await s.set('other', 1);
    await s.merge('cfg', { b: 2 });
    await done;
    expect(seen).toEqual([
      [2, { a: 1 }],
      [4, { a: 1, b: 2 }],
    ]);
  });

  it('refuses a non-number incr and a merge into a scalar, changing nothing', async () => {
    const s = store();
    await s.set('name', 'x');
    await expect(s.incr('name')).rejects.toThrow('name holds a string, not a number');
    await expect(s.merge('name', { a: 1 })).rejects.toThrow(/not an object/);
    expect(await s.version()).toBe(1);
  });
});
