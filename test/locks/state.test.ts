import { describe, expect, test } from '@jest/globals';
import { acquireStep, emptyLockState, handOff, isTurn, prune, removeTicket, renew, type LockState, type Waiter } from '../../src/locks/state.js';
import { findCycle, newestInCycle } from '../../src/locks/deadlock.js';
import { waiter as req } from './waiters.js';

function apply(s: LockState, r: Waiter, now = 10) {
  return acquireStep(s, r, now, 1000);
}

describe('lock rules', () => {
  test('readers share, a writer is alone, tokens grow with every grant', () => {
    let s = emptyLockState('/f');
    const r1 = apply(s, req('read'));
    expect(r1.kind).toBe('granted');
    s = r1.state;
    const r2 = apply(s, req('read'));
    expect(r2.kind).toBe('granted');
    s = r2.state;
    expect(s.holders.map((h) => h.token)).toEqual([1, 2]);
    const w = req('write');
    const r3 = apply(s, w);
    expect(r3.kind).toBe('queued');
    s = r3.state;
    expect(s.waiters.map((x) => x.ticket)).toEqual([w.ticket]);
  });

  test('a reader arriving behind a queued writer waits: readers cannot starve the writer', () => {
    let s = apply(emptyLockState('/f'), req('read')).state;
    const w = req('write');
    s = apply(s, w).state;
    const late = req('read');
    const r = apply(s, late);
    expect(r.kind).toBe('queued');
    s = r.state;
    expect(isTurn(s, late.ticket)).toBe(false);
    // the first reader leaves: the release hands the lock to the writer, then the reader gets its turn
    s = handOff(removeTicket(s, s.holders[0]!.ticket).state, 20, 1000);
    expect(s.holders.map((h) => h.ticket)).toEqual([w.ticket]);
    expect(s.holders[0]!.token).toBe(2);
    expect(s.stats.contended).toBe(1);
    s = handOff(removeTicket(s, w.ticket).state, 30, 1000);
    expect(s.holders.map((h) => h.ticket)).toEqual([late.ticket]);
  });

  test('waiters are served in order; a hand-off grants the readers at the head together', () => {
    let s = apply(emptyLockState('/f'), req('write')).state;
    const a = req('read');
    const b = req('read');
    const c = req('write');
    const d = req('read');
    for (const x of [a, b, c, d]) s = apply(s, x).state;
    s = handOff(removeTicket(s, s.holders[0]!.ticket).state, 50, 1000);
    expect(s.holders.map((h) => h.ticket).sort()).toEqual([a.ticket, b.ticket].sort());
    expect(s.waiters.map((w) => w.ticket)).toEqual([c.ticket, d.ticket]);
    expect(s.stats.waitMsMax).toBe(50 - a.since);
  });

  test('a release removes only its own ticket; an unknown ticket changes nothing', () => {
    const s = apply(emptyLockState('/f'), req('write')).state;
    const r = removeTicket(s, 'someone-else');
    expect(r.was).toBeNull();
    expect(r.state).toBe(s);
    expect(renew(s, 'someone-else', 5, 1000)).toBeUndefined();
  });

  test('prune removes holders whose process is gone or whose lease ran out', () => {
    let s = apply(emptyLockState('/f'), req('read', 1)).state;
    s = apply(s, req('read', 2)).state;
    const { state, removed } = prune(s, 500, (p, now) => p.pid === 1001 || p.expires < now);
    expect(removed.map((p) => p.pid)).toEqual([1001]);
    expect(state.holders.map((h) => h.pid)).toEqual([1002]);
    expect(prune(state, 5000, (p, now) => p.expires < now).state.holders).toEqual([]);
  });
});

describe('deadlock detection', () => {
  test('two requests each holding what the other waits for form a cycle; the newest gives up', () => {
    const ha = { ...req('write', 100), token: 1, grantedAt: 100 };
    const hb = { ...req('write', 101), token: 1, grantedAt: 101 };
    const wa = req('write', 102, { chain: [ha.ticket], owner: 'a' });
    const wb = req('write', 103, { chain: [hb.ticket], owner: 'b' });
    const l1: LockState = { ...emptyLockState('/l1'), holders: [ha], waiters: [wb] };
    const l2: LockState = { ...emptyLockState('/l2'), holders: [hb], waiters: [wa] };
    const cycle = findCycle([l1, l2], wa.ticket);
    expect(cycle).not.toBeNull();
    expect(cycle!.map((c) => c.path).sort()).toEqual(['/l1', '/l2']);
    expect(newestInCycle(cycle!)).toBe(wb.ticket);
    expect(findCycle([l1, { ...l2, waiters: [] }], wb.ticket)).toBeNull();
  });
});
