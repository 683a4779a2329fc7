/** Lock rules, deadlock reports, the locks view and file-access modes (src/locks/{state,deadlock,view,access}.ts). */
import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  acquireStep,
  emptyLockState,
  handOff,
  isTurn,
  prune,
  removeTicket,
  renew,
  type Holder,
  type LockMode,
  type LockState,
  type Waiter,
} from '../../src/locks/state.js';
import { describeCycle, findCycle, newestInCycle, type CycleLink } from '../../src/locks/deadlock.js';
import { locksView, locksViewOf } from '../../src/locks/view.js';
import { FileLockStore } from '../../src/locks/store.js';
import { fileAccess, refuseSharedRead } from '../../src/locks/access.js';
import type { CoordEvent } from '../../src/events/types.js';
import { exitCodeOf } from '../../src/cli/errors.js';
import { waiter as req } from './waiters.js';

const holder = (w: Waiter, token = 1, grantedAt = w.since): Holder => {
  const { chain: _c, ...p } = w;
  return { ...p, token, grantedAt };
};
const lock = (path: string, holders: Holder[], waiters: Waiter[] = []): LockState => ({ ...emptyLockState(path), holders, waiters });

describe('lock rules', () => {
  test('a grant records the holder without its chain, with a fresh lease, the next token and no wait', () => {
    const r = req('write', 5, { chain: ['x'] });
    const step = acquireStep(emptyLockState('/f'), r, 40, 1000);
    if (step.kind !== 'granted') throw new Error(step.kind);
    expect(step.holder).toEqual({
      ticket: r.ticket,
      owner: r.owner,
      run: null,
      pid: r.pid,
      host: 'h',
      procStart: null,
      mode: 'write',
      since: 5,
      expires: 1040,
      token: 1,
      grantedAt: 40,
    });
    expect(step.state.token).toBe(1);
    expect(step.state.stats).toEqual({ acquisitions: 1, contended: 0, waitMsTotal: 0, waitMsMax: 0 });
  });

  test('asking again for a held ticket returns its grant unchanged; a queued ticket not at its turn keeps waiting', () => {
    const w = req('write');
    const s1 = acquireStep(emptyLockState('/f'), w, 10, 1000).state;
    const again = acquireStep(s1, w, 20, 1000);
    expect(again.kind).toBe('granted');
    expect(again.state).toBe(s1);
    const r = req('read');
    const queued = acquireStep(s1, r, 30, 1000);
    expect(queued.kind).toBe('queued');
    expect(queued.state.waiters).toEqual([{ ...r, expires: 1030 }]);
    const still = acquireStep(queued.state, r, 40, 1000);
    expect(still.kind).toBe('waiting');
    expect(still.state).toBe(queued.state);
  });

  test('a queued request whose turn came is granted as contended, with its wait counted', () => {
    const w = req('write', 100);
    let s = acquireStep(emptyLockState('/f'), w, 100, 1000).state;
    const r = req('read', 150);
    s = acquireStep(s, r, 150, 1000).state;
    s = removeTicket(s, w.ticket).state;
    expect(isTurn(s, r.ticket)).toBe(true);
    const g = acquireStep(s, r, 400, 1000);
    expect(g.kind).toBe('granted');
    expect(g.state.waiters).toEqual([]);
    expect(g.state.holders.map((h) => h.ticket)).toEqual([r.ticket]);
    expect(g.state.stats).toEqual({ acquisitions: 2, contended: 1, waitMsTotal: 250, waitMsMax: 250 });
    expect(g.state.token).toBe(2);
  });

  test('a writer waits while readers hold, and only the head writer gets the lock when it is free', () => {
    const rd = req('read');
    let s = acquireStep(emptyLockState('/f'), rd, 1, 1000).state;
    const w1 = req('write');
    const w2 = req('write');
    s = acquireStep(s, w1, 2, 1000).state;
    s = acquireStep(s, w2, 3, 1000).state;
    expect(isTurn(s, w1.ticket)).toBe(false);
    s = removeTicket(s, rd.ticket).state;
    expect(isTurn(s, w1.ticket)).toBe(true);
    expect(isTurn(s, w2.ticket)).toBe(false);
    expect(isTurn(s, 'not-queued')).toBe(false);
    s = handOff(s, 10, 1000);
    expect(s.holders.map((h) => h.ticket)).toEqual([w1.ticket]);
    expect(s.waiters.map((h) => h.ticket)).toEqual([w2.ticket]);
  });

  test('a reader behind another reader in the queue gets its turn when no writer holds', () => {
    const w = req('write');
    let s = acquireStep(emptyLockState('/f'), w, 1, 1000).state;
    const r1 = req('read');
    const r2 = req('read');
    s = acquireStep(s, r1, 2, 1000).state;
    s = acquireStep(s, r2, 3, 1000).state;
    expect(isTurn(s, r2.ticket)).toBe(false);
    s = removeTicket(s, w.ticket).state;
    expect(isTurn(s, r2.ticket)).toBe(true);
  });

  test('a hand-off with nobody whose turn it is changes nothing', () => {
    const s = acquireStep(emptyLockState('/f'), req('write'), 1, 1000).state;
    expect(handOff(s, 5, 1000)).toBe(s);
    const q = acquireStep(s, req('read'), 2, 1000).state;
    expect(handOff(q, 5, 1000)).toBe(q);
  });

  test('renew extends the lease of exactly the named holder or waiter', () => {
    const a = req('read');
    const b = req('write');
    let s = acquireStep(emptyLockState('/f'), a, 1, 1000).state;
    s = acquireStep(s, b, 2, 1000).state;
    const h = renew(s, a.ticket, 500, 1000)!;
    expect(h.holders[0]!.expires).toBe(1500);
    expect(h.waiters[0]!.expires).toBe(1002);
    const w = renew(s, b.ticket, 700, 100)!;
    expect(w.waiters[0]!.expires).toBe(800);
    expect(w.holders[0]!.expires).toBe(1001);
  });

  test('removing a waiter leaves the holders; prune with nobody gone returns the same state', () => {
    const a = req('write');
    const b = req('write');
    let s = acquireStep(emptyLockState('/f'), a, 1, 1000).state;
    s = acquireStep(s, b, 2, 1000).state;
    const r = removeTicket(s, b.ticket);
    expect(r.was).toBe('waiter');
    expect(r.state.waiters).toEqual([]);
    expect(r.state.holders).toEqual(s.holders);
    const h = removeTicket(s, a.ticket);
    expect(h.was).toBe('holder');
    expect(h.state.holders).toEqual([]);
    expect(h.state.waiters).toEqual(s.waiters);
    const same = prune(s, 3, () => false);
    expect(same.state).toBe(s);
    expect(same.removed).toEqual([]);
    const gone = prune(s, 3, (p) => p.ticket === b.ticket);
    expect(gone.state.waiters).toEqual([]);
    expect(gone.state.holders).toEqual(s.holders);
    expect(gone.removed.map((p) => p.ticket)).toEqual([b.ticket]);
  });
});

describe('deadlock reports', () => {
  test('describes each wait of the cycle, naming held, queued and enclosing blockers', () => {
    const a = { ...holder(req('write', 1, { owner: 'a' })), pid: 11 };
    const b = { ...holder(req('write', 2, { owner: 'b' })), pid: 22 };
    const links: CycleLink[] = [
      { waiter: a, path: '/x', blocker: b, kind: 'held' },
      { waiter: b, path: '/y', blocker: a, kind: 'queued' },
      { waiter: a, path: '/z', blocker: b, kind: 'enclosing' },
    ];
    expect(describeCycle(links)).toBe(
      'a (pid 11) waits for /x held by b (pid 22), b (pid 22) waits for /y where a (pid 11) is queued ahead of it, a (pid 11) waits for /z held by its own enclosing lock (b (pid 22))',
    );
  });

  test('the newest request gives up; on a tie, the greater ticket', () => {
    const old = req('write', 10);
    const young = req('write', 20);
    const link = (w: Waiter): CycleLink => ({ waiter: w, path: '/p', blocker: w, kind: 'held' });
    expect(newestInCycle([link(young), link(old)])).toBe(young.ticket);
    expect(newestInCycle([link(old), link(young)])).toBe(young.ticket);
    const t1 = { ...req('write', 30), ticket: 'ta' };
    const t2 = { ...req('write', 30), ticket: 'tb' };
    expect(newestInCycle([link(t1), link(t2)])).toBe('tb');
    expect(newestInCycle([link(t2), link(t1)])).toBe('tb');
  });

  test('no cycle without a way back; a holder whose command waits for a lock held by the waiter closes one', () => {
    const h = holder(req('write', 1, { owner: 'h' }));
    const q1 = req('read', 2, { owner: 'q1' });
    const wHeld = holder(req('write', 3, { owner: 'w' }));
    const w = req('write', 4, { owner: 'w', chain: [wHeld.ticket] });
    expect(findCycle([lock('/a', [h], [q1, w]), lock('/b', [wHeld])], w.ticket)).toBeNull();
    // h's command (a nested request holding h) waits for /b, held by w's enclosing grant
    const hWaits = req('read', 5, { owner: 'h', chain: [h.ticket] });
    const cycle = findCycle([lock('/a', [h], [w]), lock('/b', [wHeld], [hWaits])], w.ticket)!;
    expect(cycle.map((c) => [c.waiter.ticket, c.path, c.blocker.ticket, c.kind])).toEqual([
      [w.ticket, '/a', h.ticket, 'held'],
      [hWaits.ticket, '/b', wHeld.ticket, 'held'],
    ]);
    expect(newestInCycle(cycle)).toBe(hWaits.ticket);
  });

  test('a request waiting on a lock held by its own enclosing grant is an enclosing cycle', () => {
    const h = holder(req('write', 1, { owner: 'x' }));
    const w = req('write', 2, { owner: 'x', chain: [h.ticket] });
    const cycle = findCycle([lock('/a', [h], [w])], w.ticket)!;
    expect(cycle).toHaveLength(1);
    expect(cycle[0]).toMatchObject({ path: '/a', kind: 'enclosing' });
    expect(describeCycle(cycle)).toContain('held by its own enclosing lock');
  });

  test('a waiter queued behind a writer that its own holder blocks is a queued cycle', () => {
    const ahead = req('write', 2, { chain: [] });
    const hb = holder(req('write', 3));
    const me = req('read', 4, { chain: [hb.ticket] });
    // me queues behind the writer `ahead` on /a; `ahead` also waits for /b, held by me's enclosing grant
    const locks = [lock('/a', [], [ahead, me]), lock('/b', [hb], [{ ...req('write', 5), ticket: ahead.ticket }])];
    const cycle = findCycle(locks, me.ticket)!;
    expect(cycle).not.toBeNull();
    expect(cycle[0]).toMatchObject({ path: '/a', kind: 'queued' });
    // two readers never queue behind each other
    const r0 = req('read', 6);
    const r1 = req('read', 7, { chain: [hb.ticket] });
    expect(
      findCycle([lock('/a', [], [{ ...r0, ticket: ahead.ticket }, r1]), lock('/b', [hb], [{ ...req('write', 8), ticket: ahead.ticket }])], r1.ticket),
    ).toBeNull();
  });
});

describe('locks view', () => {
  const now = Date.now();
  const party = (run: string | null, mode: LockMode, expires: number, since = 1000): Waiter => ({ ...req(mode, since), run, expires });
  test('shows live locks with their mode, holders and waiters; a lock whose entries all expired is left out', () => {
    const hr = holder(party('r1', 'read', now + 10_000), 3, 2000);
    const ww = party(null, 'write', now + 10_000, 3000);
    const live: LockState = { ...lock('/a', [hr], [ww]), stats: { acquisitions: 5, contended: 2, waitMsTotal: 70, waitMsMax: 50 } };
    const stale = lock('/old', [holder(party('r1', 'write', now - 10_000))]);
    const free = lock('/free', [], [party(null, 'read', now + 10_000)]);
    const v = locksViewOf([live, stale, free]);
    expect(v.locks).toEqual([
      {
        path: '/a',
        mode: 'read',
        holders: [{ owner: hr.owner, pid: hr.pid, since: new Date(2000).toISOString(), token: 3, run: 'r1', host: 'h' }],
        waiters: [{ owner: ww.owner, pid: ww.pid, mode: 'write', since: new Date(3000).toISOString(), run: null, host: 'h' }],
      },
      { path: '/free', mode: null, holders: [], waiters: [expect.objectContaining({ mode: 'read' })] },
    ]);
    expect(v.contention).toEqual([
      { path: '/a', acquisitions: 5, contended: 2, waitMsTotal: 70, waitMsMax: 50 },
      { path: '/old', acquisitions: 0, contended: 0, waitMsTotal: 0, waitMsMax: 0 },
      { path: '/free', acquisitions: 0, contended: 0, waitMsTotal: 0, waitMsMax: 0 },
    ]);
  });

  test('a write holder makes the mode write; an entry expiring exactly now is still live', () => {
    const l = lock('/w', [holder(party(null, 'read', now + 60_000)), holder(party(null, 'write', now + 60_000))]);
    expect(locksViewOf([l]).locks[0]!.mode).toBe('write');
  });

  test('for a run: only locks its streams hold or wait for, and contention from its own grant events, by path', () => {
    const mine = lock('/m', [holder(party('r1', 'write', now + 10_000))]);
    const waitMine = lock('/n', [holder(party('r2', 'write', now + 10_000))], [party('r1', 'read', now + 10_000)]);
    const other = lock('/o', [holder(party('r2', 'write', now + 10_000))]);
    const ev = (path: string, waitMs: number, contended: boolean) => ({ type: 'lock-granted', path, waitMs, contended }) as unknown as CoordEvent;
    const events = [
      ev('/z', 0, false),
      ev('/m', 10, true),
      ev('/m', 30, true),
      ev('/m', 0, false),
      { type: 'lock-released', path: '/m' } as unknown as CoordEvent,
    ];
    const v = locksViewOf([mine, waitMine, other], { runId: 'r1', events });
    expect(v.locks.map((l) => l.path)).toEqual(['/m', '/n']);
    expect(v.contention).toEqual([
      { path: '/m', acquisitions: 3, contended: 2, waitMsTotal: 40, waitMsMax: 30 },
      { path: '/z', acquisitions: 1, contended: 0, waitMsTotal: 0, waitMsMax: 0 },
    ]);
    expect(locksViewOf([mine], { runId: 'r1' }).contention).toEqual([]);
  });
});

describe('file access', () => {
  test('reads the mode from COORD_FILE_ACCESS, exclusive_write by default or for anything else', () => {
    expect(fileAccess({})).toBe('exclusive_write');
    expect(fileAccess({ COORD_FILE_ACCESS: 'atomic' })).toBe('atomic');
    expect(fileAccess({ COORD_FILE_ACCESS: 'shared_read' })).toBe('shared_read');
    expect(fileAccess({ COORD_FILE_ACCESS: 'nonsense' })).toBe('exclusive_write');
  });

  test('shared_read refuses paths in the shared directory (exit 1) to a stream that is not its writer', () => {
    const root = mkdtempSync(join(tmpdir(), 'coord-access-'));
    try {
      const shared = join(root, 'shared');
      const ws = join(root, 'ws');
      mkdirSync(shared);
      mkdirSync(ws);
      const env = { COORD_FILE_ACCESS: 'shared_read', COORD_SHARED: shared, COORD_WORKSPACE: ws };
      let thrown: unknown;
      try {
        refuseSharedRead(join(shared, 'f.txt'), env);
      } catch (e) {
        thrown = e;
      }
      expect({ exitCode: exitCodeOf(thrown), message: (thrown as Error).message }).toMatchObject({
        exitCode: 1,
        message: `${join(shared, 'f.txt')} is in the shared directory, which is read-only to this stream (isolation.file_access: shared_read)`,
      });
      expect(() => refuseSharedRead(shared, env)).toThrow('read-only');
      // a sibling whose name starts like the shared directory is not in it
      expect(() => refuseSharedRead(`${shared}-other/f`, env)).not.toThrow();
      expect(() => refuseSharedRead(join(ws, 'f'), env)).not.toThrow();
      // no workspace: a reader, still refused
      expect(() => refuseSharedRead(join(shared, 'f'), { COORD_FILE_ACCESS: 'shared_read', COORD_SHARED: shared })).toThrow('read-only');
      expect(() => refuseSharedRead(join(shared, 'f'), { ...env, COORD_WORKSPACE: join(root, 'missing') })).toThrow('read-only');
      // the stream whose workspace is the shared directory writes it
      expect(() => refuseSharedRead(join(shared, 'f'), { ...env, COORD_WORKSPACE: shared })).not.toThrow();
      // other modes, no shared directory or a missing one: nothing refused
      expect(() => refuseSharedRead(join(shared, 'f'), { ...env, COORD_FILE_ACCESS: 'atomic' })).not.toThrow();
      expect(() => refuseSharedRead(join(shared, 'f'), { COORD_FILE_ACCESS: 'shared_read' })).not.toThrow();
      expect(() => refuseSharedRead(join(root, 'gone', 'f'), { ...env, COORD_SHARED: join(root, 'gone') })).not.toThrow();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('lock rules: more than one waiter', () => {
  test('a request granted from the queue leaves the others queued', () => {
    const w = req('write');
    let s = acquireStep(emptyLockState('/f'), w, 1, 1000).state;
    const r1 = req('read');
    const w2 = req('write');
    s = acquireStep(s, r1, 2, 1000).state;
    s = acquireStep(s, w2, 3, 1000).state;
    s = removeTicket(s, w.ticket).state;
    const g = acquireStep(s, r1, 4, 1000);
    expect(g.kind).toBe('granted');
    expect(g.state.waiters.map((x) => x.ticket)).toEqual([w2.ticket]);
  });

  test('removing one waiter keeps the others; an unknown ticket with waiters queued changes nothing', () => {
    const h = req('write');
    let s = acquireStep(emptyLockState('/f'), h, 1, 1000).state;
    const a = req('write');
    const b = req('read');
    s = acquireStep(s, a, 2, 1000).state;
    s = acquireStep(s, b, 3, 1000).state;
    const r = removeTicket(s, a.ticket);
    expect(r.was).toBe('waiter');
    expect(r.state.waiters.map((x) => x.ticket)).toEqual([b.ticket]);
    const none = removeTicket(s, 'unknown');
    expect(none.was).toBeNull();
    expect(none.state).toBe(s);
  });

  test('prune removing a gone holder keeps the live waiters', () => {
    const h = req('write');
    let s = acquireStep(emptyLockState('/f'), h, 1, 1000).state;
    const a = req('write');
    s = acquireStep(s, a, 2, 1000).state;
    const p = prune(s, 3, (x) => x.ticket === h.ticket);
    expect(p.state.holders).toEqual([]);
    expect(p.state.waiters.map((x) => x.ticket)).toEqual([a.ticket]);
  });
});

describe('deadlock detection: the shape of the graph', () => {
  test('a waiter on a lock of two readers is blocked by each: a cycle through the first is found', () => {
    const r1 = holder({ ...req('read', 1), mode: 'read' });
    const r2 = holder({ ...req('read', 2), mode: 'read' });
    const w = req('write', 3);
    // r1's command waits for /b, which w holds (w's own enclosing grant)
    const wHeld = holder(req('write', 4));
    const wNested = { ...w, chain: [wHeld.ticket] };
    const r1Waits = req('write', 5, { chain: [r1.ticket] });
    const cycle = findCycle([lock('/a', [r1, r2], [wNested]), lock('/b', [wHeld], [r1Waits])], wNested.ticket);
    expect(cycle?.map((c) => [c.path, c.blocker.ticket])).toEqual([
      ['/a', r1.ticket],
      ['/b', wHeld.ticket],
    ]);
  });

  test('a ticket listed as both holder and waiter (a state set back) does not wait for itself', () => {
    const w = req('write', 1);
    expect(findCycle([lock('/a', [holder(w)], [w])], w.ticket)).toBeNull();
  });

  test('a writer queued behind a reader waits for it', () => {
    const ahead = req('read', 1);
    const hb = holder(req('write', 2));
    const me = req('write', 3, { chain: [hb.ticket] });
    const aheadOnB = { ...req('write', 4), ticket: ahead.ticket };
    const cycle = findCycle([lock('/a', [], [ahead, me]), lock('/b', [hb], [aheadOnB])], me.ticket);
    expect(cycle?.[0]).toMatchObject({ path: '/a', kind: 'queued' });
  });

  test('a deadlock between two others that this request waits on is not its cycle', () => {
    const ha = holder(req('write', 1));
    const hb = holder(req('write', 2));
    const wa = req('write', 3, { chain: [ha.ticket] });
    const wb = req('write', 4, { chain: [hb.ticket] });
    const me = req('write', 5);
    const locks = [lock('/l1', [ha], [wb, me]), lock('/l2', [hb], [wa])];
    expect(findCycle(locks, me.ticket)).toBeNull();
    expect(findCycle(locks, wa.ticket)).not.toBeNull();
  });

  test('of two requests made at the same time the greater ticket gives up, never an older one', () => {
    const link = (w: Waiter): CycleLink => ({ waiter: w, path: '/p', blocker: w, kind: 'held' });
    const young = { ...req('write', 20), ticket: 'a-young' };
    const old = { ...req('write', 10), ticket: 'z-old' };
    expect(newestInCycle([link(young), link(old)])).toBe('a-young');
    expect(newestInCycle([link(old), link(young)])).toBe('a-young');
  });
});

describe('locks view: what is live, what belongs to a run', () => {
  afterEach(() => {
    jest.useRealTimers();
  });
  const at = 1_800_000_000_000;
  const p = (run: string | null, mode: LockMode, expires: number): Waiter => ({ ...req(mode), run, expires });

  test('an entry expiring this very millisecond is live; one holder live among expired ones keeps the lock', () => {
    jest.useFakeTimers({ now: at });
    expect(locksViewOf([lock('/h', [holder(p(null, 'write', at))])]).locks).toHaveLength(1);
    expect(locksViewOf([lock('/w', [holder(p(null, 'write', at - 1))], [p(null, 'read', at)])]).locks).toHaveLength(1);
    expect(locksViewOf([lock('/x', [holder(p(null, 'read', at - 1)), holder(p(null, 'read', at + 5))])]).locks).toHaveLength(1);
    expect(locksViewOf([lock('/gone', [holder(p(null, 'read', at - 1))], [p(null, 'write', at - 1)])]).locks).toEqual([]);
  });

  test("a lock held by streams of two runs is each run's; one only another run holds and waits for is not", () => {
    jest.useFakeTimers({ now: at });
    const shared = lock('/s', [holder(p('r2', 'read', at + 9)), holder(p('r1', 'read', at + 9))]);
    const foreign = lock('/f', [holder(p('r2', 'write', at + 9))], [p('r3', 'read', at + 9)]);
    expect(locksViewOf([shared, foreign], { runId: 'r1' }).locks.map((l) => l.path)).toEqual(['/s']);
  });

  test("a run's contention is sorted by path", () => {
    const ev = (path: string) => ({ type: 'lock-granted', path, waitMs: 1, contended: false }) as unknown as CoordEvent;
    const v = locksViewOf([], { runId: 'r1', events: ['/c', '/a', '/d', '/b', '/a'].map(ev) });
    expect(v.contention.map((c) => c.path)).toEqual(['/a', '/b', '/c', '/d']);
  });

  test("reads a registry's locks", () => {
    const root = mkdtempSync(join(tmpdir(), 'coord-view-'));
    try {
      const reg = join(root, 'reg');
      const store = new FileLockStore(reg);
      const w = { ...req('write'), since: Date.now(), expires: Date.now() + 60_000 };
      store.updateSync('/some/file', (s) => acquireStep(s, w, Date.now(), 60_000).state);
      const v = locksView(reg);
      expect(v.locks.map((l) => [l.path, l.mode])).toEqual([['/some/file', 'write']]);
      expect(v.contention).toEqual([{ path: '/some/file', acquisitions: 1, contended: 0, waitMsTotal: 0, waitMsMax: 0 }]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
