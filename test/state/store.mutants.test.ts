/** StateStore details: settings, events, limits, rollback and snapshot edges, watch (src/state/store.ts). */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../src/backend/file/file-backend.js';
import { StateStore, VersionConflictError, stateMessage, type ChangeEntry } from '../../src/state/store.js';
import { StateLimitError } from '../../src/state/paths.js';
import { VersionedDir } from '../../src/primitives/versioned-dir.js';
import type { JsonObject } from '../../src/state/paths.js';
import type { EventInput } from '../../src/events/types.js';
import { runRecord } from '../backend/contract.js';
import { exitCodeOf } from '../../src/cli/errors.js';

let dir: string;
let backend: FileBackend;
let events: EventInput[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coord-state-m-'));
  backend = new FileBackend(join(dir, '.coord'));
  await backend.createRun({ ...runRecord('r', new Date().toISOString()), sharedState: { type: 'immutable', keepVersions: 7, durable: false } }, '');
  events = [];
});
afterEach(async () => {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

const store = (opts: ConstructorParameters<typeof StateStore>[2] = {}) => new StateStore(backend, 'r', { onEvent: (e) => events.push(e), ...opts });
/** `n` arrays nested in each other, built without recursion. */
function nested(n: number): unknown[] {
  let v: unknown[] = [];
  for (let i = 1; i < n; i++) v = [v];
  return v;
}
/** Commits a document as an older coord could have stored it, past today's limits. */
function storeRaw(version: number, data: JsonObject): void {
  const versions = new VersionedDir<JsonObject>(join(backend.runDir('r'), 'state', 'versions'), { initial: () => ({}), keep: 100 });
  const entry: ChangeEntry = { version: version + 1, time: new Date().toISOString(), stream: 'old', op: 'set', keys: Object.keys(data) };
  expect(versions.commit(version, data, entry, { changes: entry })).not.toBeNull();
}

describe('settings and events', () => {
  it('open takes the run settings, which options override; an unknown run is refused', async () => {
    const s = await StateStore.open(backend, 'r');
    expect(s.settings).toEqual({ type: 'immutable', keepVersions: 7, durable: false });
    expect((await StateStore.open(backend, 'r', { keepVersions: 1, durable: true })).settings).toEqual({ type: 'immutable', keepVersions: 2, durable: true });
    await expect(StateStore.open(backend, 'nope')).rejects.toThrow('no run "nope"');
    expect(new StateStore(backend, 'r').settings).toEqual({ type: 'centralized', keepVersions: 100, durable: false });
  });

  it('without onEvent, versions are written to the run event log', async () => {
    const s = new StateStore(backend, 'r', { stream: 'w' });
    await s.set('a', 1);
    await new Promise((r) => setTimeout(r, 50));
    const { events: logged } = await backend.readEvents('r');
    expect(logged).toEqual([expect.objectContaining({ type: 'state-version', version: 1, op: 'set', keys: ['a'], stream: 'w', run: 'r' })]);
    expect(Number.isNaN(Date.parse((logged[0] as { time: string }).time))).toBe(false);
  });

  it('a version event names its stream only when there is one; centralized state publishes no queue message', async () => {
    const s = store();
    await s.set('a', 1);
    await s.set('b', 1, 'w2');
    expect(events).toEqual([
      { type: 'state-version', version: 1, op: 'set', keys: ['a'] },
      { type: 'state-version', version: 2, op: 'set', keys: ['b'], stream: 'w2' },
    ]);
    expect(await backend.logRange('r', 'topic/state')).toEqual([]);
  });

  it('an update records op update and no from; a rollback records where from', async () => {
    const s = store();
    await s.update(() => ({ x: 1 }));
    await s.set('x', 2);
    await s.rollback(1);
    const log = await s.changeLog();
    expect(log[0]!.op).toBe('update');
    expect(log[0]).not.toHaveProperty('from');
    expect(log[1]).not.toHaveProperty('from');
    expect(log[2]).toMatchObject({ op: 'rollback', from: 1 });
    expect((await s.changeLog(2)).map((e) => e.version)).toEqual([2, 3]);
  });

  it('a compare-and-set that failed says where the state is', async () => {
    const s = store();
    await s.set('a', 1);
    const e = (await s.set('a', 2, null, { expectVersion: 0 }).catch((x: unknown) => x)) as VersionConflictError;
    expect(e).toBeInstanceOf(VersionConflictError);
    expect(e.message).toBe('the state moved: expected version 0, it is at version 1; nothing was changed');
    expect([e.expected, e.current, exitCodeOf(e)]).toEqual([0, 1, 75]);
  });

  it('the state message carries version, stream, op, keys and data', () => {
    const entry: ChangeEntry = { version: 3, time: 't', stream: 's', op: 'set', keys: ['a'] };
    expect(stateMessage(entry, { a: 1 })).toEqual({
      body: JSON.stringify({ version: 3, stream: 's', op: 'set', keys: ['a'], data: { a: 1 } }),
      sender: 's',
      time: 't',
    });
  });
});

describe('writes refused', () => {
  it('incr needs a finite number, merge an object; set and merge refuse values too deep, naming where', async () => {
    const s = store();
    await expect(s.incr('n', Infinity)).rejects.toThrow('incr needs a finite number, got Infinity');
    await expect(s.merge('k', [1] as never)).rejects.toThrow('merge takes a JSON object');
    await expect(s.set('k', nested(64) as never)).rejects.toThrow(/^too deep: the state would nest more than 64 levels of objects and arrays at k\.0\.0/);
    await expect(s.merge(undefined, { k: nested(64) } as never)).rejects.toThrow(/^too deep/);
    await expect(s.update(() => ({ k: nested(70) }) as never)).rejects.toThrow(/^too deep: the state would nest more than 64 levels .*; nothing was changed$/);
    expect(await s.version()).toBe(0);
  });

  it('merge without a key merges into the whole document', async () => {
    const s = store();
    await s.set('a.b', 1);
    await s.merge(undefined, { a: { c: 2 }, d: 3 });
    expect(await s.get()).toEqual({ a: { b: 1, c: 2 }, d: 3 });
  });

  it('a document of exactly the size limit is taken; one byte more is refused, naming the sizes', async () => {
    const s = store();
    const limit = 4 * 1024 * 1024;
    const r = await s.set('a', 'x'.repeat(limit - '{"a":""}'.length));
    expect(r.changed).toBe(true);
    const e = (await s.set('a', 'x'.repeat(limit - '{"a":""}'.length + 1)).catch((x: unknown) => x)) as StateLimitError;
    expect(e).toBeInstanceOf(StateLimitError);
    expect(e.message).toBe(`too large: the state would take ${limit + 1} bytes as JSON (at most 4 MiB, ${limit} bytes); nothing was changed`);
    expect(await s.version()).toBe(1);
  });

  it('a stored document over the size limit takes only a change that brings it within, naming its biggest key', async () => {
    const s = store();
    const limit = 4 * 1024 * 1024;
    storeRaw(0, { small: 'y', big: 'x'.repeat(limit), mid: 'z'.repeat(100) });
    const e = (await s.set('other', 1).catch((x: unknown) => x)) as StateLimitError;
    expect(e.message).toMatch(
      /^the state at version 1 takes more than 4 MiB as JSON \(stored before coord limited the size\); the change would leave it at \d+ bytes \(at most 4 MiB, 4194304 bytes\): only a change that brings it within the limits is taken, such as coord state delete big$/,
    );
    expect(exitCodeOf(e)).toBe(1);
    expect((await s.delete('big')).version).toBe(2);
  });

  it('a stored document deeper than the limit takes only a change that brings it within', async () => {
    const s = store();
    storeRaw(0, { deep: nested(70) as never, ok: 1 });
    const e = (await s.set('ok', 2).catch((x: unknown) => x)) as StateLimitError;
    expect(e.message).toMatch(
      /^the state at version 1 nests more than 64 levels of objects and arrays at deep\.0\.0.* \(stored before coord limited the depth\): only a change that brings it within the limits is taken, such as coord state delete deep$/,
    );
    expect(exitCodeOf(e)).toBe(1);
    await expect(s.snapshot()).rejects.toThrow(
      /^version 1 is not snapshotted: it nests more than 64 levels .*; coord state delete deep brings it within the limits$/,
    );
    expect((await s.delete('deep')).version).toBe(2);
    expect(await s.snapshot()).toBe(2);
  });
});

describe('rollback edges', () => {
  it('refuses what is not a version, and takes the newest version (no change)', async () => {
    const s = store();
    await s.set('a', 1);
    await expect(s.rollback(-1)).rejects.toThrow('a version is a whole number, got -1');
    await expect(s.rollback(1.5)).rejects.toThrow('a version is a whole number, got 1.5');
    await expect(s.rollback(2)).rejects.toThrow('version 2 does not exist yet (the state is at version 1)');
    expect(await s.rollback(1)).toMatchObject({ version: 1, changed: false });
  });

  it('names the snapshots it keeps when a version is gone, and reads a version kept only as a snapshot', async () => {
    const s = store({ keepVersions: 2 });
    await s.set('a', 1);
    expect(await s.snapshot()).toBe(1);
    await s.set('a', 2);
    expect(await s.snapshot()).toBe(2);
    for (let i = 3; i <= 14; i++) await s.set('a', i);
    await s.set('b', 0);
    expect(await s.readVersion(2)).toEqual({ version: 2, data: { a: 2 } });
    expect(await s.readVersion(3)).toBeUndefined();
    await expect(s.rollback(3)).rejects.toThrow(
      /^version 3 is no longer kept \(kept: \d+–15; snapshots: 1, 2\); raise state_management.keep_versions to keep more$/,
    );
    expect((await s.rollback(2)).data).toEqual({ a: 2 });
  });
});

describe('snapshots', () => {
  it('nothing to snapshot or restore before the first change; a state at the snapshot is not restored', async () => {
    const s = store();
    expect(await s.snapshot()).toBeNull();
    expect(await s.lastSnapshot()).toBe(0);
    expect(await s.restoreFromSnapshot()).toBeNull();
    await s.set('a', 1);
    await s.snapshot();
    expect(await s.restoreFromSnapshot()).toBeNull();
    expect(await s.version()).toBe(1);
  });

  it('a restored version carries an entry of op restore from the snapshot, naming its keys', async () => {
    const s = store();
    await s.set('a', 1);
    await s.set('b.c', 2);
    await s.snapshot();
    const versions = join(backend.runDir('r'), 'state', 'versions');
    for (const f of readdirSync(versions)) rmSync(join(versions, f));
    expect(await s.restoreFromSnapshot()).toBe(2);
    const last = (await backend.docRead('r', 'state'))!.meta as ChangeEntry;
    expect(last).toMatchObject({ version: 2, stream: null, op: 'restore', from: 2 });
    expect([...last.keys].sort()).toEqual(['a', 'b']);
  });
});

describe('watch', () => {
  it('without a key yields every new version, from the next one or from `from`', async () => {
    const s = store();
    await s.set('x', 0);
    const ac = new AbortController();
    const seen: number[] = [];
    const done = (async () => {
      for await (const e of s.watch(undefined, { signal: ac.signal, pollMs: 20 })) {
        seen.push(e.version);
        if (seen.length === 2) ac.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 30));
    await s.set('a', 1);
    await s.set('b', 1);
    await done;
    expect(seen).toEqual([2, 3]);
    const all: Array<[number, unknown]> = [];
    const ac2 = new AbortController();
    for await (const e of s.watch('a', { signal: ac2.signal, from: 1 })) {
      all.push([e.version, e.value]);
      ac2.abort();
    }
    expect(all).toEqual([[2, 1]]);
  });

  it('an abort ends a watch that is waiting, at once', async () => {
    const s = store();
    const ac = new AbortController();
    const t0 = Date.now();
    const done = (async () => {
      for await (const _ of s.watch('k', { signal: ac.signal, pollMs: 60_000 })) void _;
    })();
    await new Promise((r) => setTimeout(r, 30));
    ac.abort();
    await done;
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('a change made while it looks wakes it without waiting for the poll', async () => {
    const s = store();
    const ac = new AbortController();
    const seen: number[] = [];
    const done = (async () => {
      for await (const e of s.watch('k', { signal: ac.signal, pollMs: 60_000 })) {
        seen.push(e.version);
        if (seen.length === 2) ac.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 30));
    await s.set('k', 1);
    await new Promise((r) => setTimeout(r, 30));
    await s.set('k', 2);
    await done;
    expect(seen).toEqual([1, 2]);
  });
});

describe('unchanged writes and watches without options', () => {
  it('a write that changes nothing names no key', async () => {
    const s = store();
    await s.set('a', 1);
    expect(await s.update(() => undefined)).toEqual({ version: 1, changed: false, keys: [], data: { a: 1 } });
    expect(await s.set('a', 1)).toEqual({ version: 1, changed: false, keys: [], data: { a: 1 } });
  });

  it('a value nested far past the limit is refused as too deep, never overflowing the stack', async () => {
    const s = store();
    const e = await s.set('k', nested(100_000) as never).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StateLimitError);
  });

  it('a watch without a signal or key yields whole documents until the caller stops', async () => {
    const s = store();
    await s.set('a', 1);
    const seen: Array<[number, unknown]> = [];
    for await (const e of s.watch(undefined, { from: 1 })) {
      seen.push([e.version, e.value]);
      break;
    }
    expect(seen).toEqual([[1, { a: 1 }]]);
  });
});
