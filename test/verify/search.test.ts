/** The culprit search over a fake check: which sets fail is decided by the test. */
import { describe, expect, it } from '@jest/globals';
import { findCulprits, splitParts, type SearchOptions, type SearchRound } from '../../src/verify/search.js';

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `s${i + 1}`);
const log = (n: number, base: number): number => (n <= 1 ? 0 : Math.ceil(Math.log(n) / Math.log(base) - 1e-9));

/** A check that fails a set holding any of `bad`, recording every set it was given. */
function brokenBy(...bad: string[]): SearchOptions['check'] & { sets: string[][] } {
  const sets: string[][] = [];
  const check = async (set: string[]): Promise<boolean> => {
    sets.push(set);
    return !set.some((x) => bad.includes(x));
  };
  return Object.assign(check, { sets });
}

describe('splitParts', () => {
  it('cuts into contiguous parts, the longer first', () => {
    expect(splitParts(names(16), 5).map((p) => p.length)).toEqual([4, 3, 3, 3, 3]);
    expect(splitParts(['a', 'b'], 2)).toEqual([['a'], ['b']]);
    expect(splitParts(names(7), 3).flat()).toEqual(names(7));
  });
});

describe('one culprit', () => {
  for (const p of [1, 2, 4]) {
    it(`is found at every position of 1..16 items with ${p} check(s) at a time, within P·⌈log_(P+1) N⌉ + 1 runs`, async () => {
      for (let n = 1; n <= 16; n++) {
        const items = names(n);
        for (const bad of items) {
          const check = brokenBy(bad);
          const rounds: SearchRound[] = [];
          const r = await findCulprits(items, { parallel: p, maxRuns: 100, check, onRound: (x) => rounds.push(x) });
          const lastItem = bad === items[items.length - 1];
          expect(r).toMatchObject({ culprits: [bad], accepted: items.filter((x) => x !== bad), exhausted: false, unresolved: [] });
          expect(r.runs).toBeLessThanOrEqual(p * log(n, p + 1) + 1);
          expect(r.runs).toBe(check.sets.length);
          // named in round 1 + ⌈log_(P+1) N⌉ at most, then one more round for the rest when any is left
          const named = rounds.find((x) => x.culprit === bad)?.n;
          expect(named).toBeLessThanOrEqual(1 + log(n, p + 1));
          expect(r.rounds).toBe((named ?? 0) + (lastItem ? 0 : 1));
          // no more checks at a time than allowed, and the last part is never checked alone with the others' result known
          for (const x of rounds) expect(x.sets.length).toBeLessThanOrEqual(x.kind === 'initial' ? 1 : p);
          // every set checked is in merge order, with the culprit only where the set is to fail
          for (const set of check.sets) expect(set).toEqual(items.filter((x) => set.includes(x)));
        }
      }
    });
  }

  it('16 items, 4 at a time: named in round 3 = 1 + ⌈log₅ 16⌉ wherever it is', async () => {
    for (const bad of names(16)) {
      const rounds: SearchRound[] = [];
      const r = await findCulprits(names(16), { parallel: 4, maxRuns: 100, check: brokenBy(bad), onRound: (x) => rounds.push(x) });
      expect(rounds.find((x) => x.culprit === bad)?.n).toBe(3);
      expect(r.rounds).toBe(bad === 's16' ? 3 : 4);
      expect(rounds.map((x) => x.kind)).toEqual(bad === 's16' ? ['initial', 'split', 'split'] : ['initial', 'split', 'split', 'rest']);
    }
  });

  it('a single item is the culprit without a check', async () => {
    const check = brokenBy('only');
    const rounds: SearchRound[] = [];
    expect(await findCulprits(['only'], { parallel: 2, maxRuns: 10, check, onRound: (x) => rounds.push(x) })).toEqual({
      culprits: ['only'],
      accepted: [],
      unresolved: [],
      runs: 0,
      cancelled: 0,
      rounds: 1,
      exhausted: false,
    });
    expect(rounds).toEqual([{ n: 1, kind: 'initial', parts: [['only']], sets: [['only']], results: ['fail'], culprit: 'only' }]);
  });

  it('the last part is never checked alone: 6 items, 3 at a time, the culprit last', async () => {
    const check = brokenBy('s6');
    const r = await findCulprits(names(6), { parallel: 3, maxRuns: 10, check });
    expect(check.sets).toEqual([
      ['s1', 's2'],
      ['s1', 's2', 's3', 's4'],
      ['s1', 's2', 's3', 's4', 's5'],
    ]);
    expect(r).toMatchObject({ culprits: ['s6'], runs: 3, rounds: 2 });
  });
});

describe('more than one culprit', () => {
  it('two culprits are both found, wherever they are', async () => {
    for (const p of [1, 2, 4]) {
      const items = names(12);
      for (const a of items)
        for (const b of items) {
          if (a >= b) continue;
          const r = await findCulprits(items, { parallel: p, maxRuns: 200, check: brokenBy(a, b) });
          expect([...r.culprits].sort()).toEqual([a, b].sort());
          expect(r.accepted).toEqual(items.filter((x) => x !== a && x !== b));
          expect(r.exhausted).toBe(false);
        }
    }
  });

  it('a pair that only breaks together: the later one is excluded', async () => {
    const items = names(10);
    for (const p of [1, 2, 4]) {
      for (const [a, b] of [
        ['s2', 's7'],
        ['s1', 's10'],
        ['s4', 's5'],
      ] as const) {
        const check = async (set: string[]): Promise<boolean> => !(set.includes(a) && set.includes(b));
        const r = await findCulprits(items, { parallel: p, maxRuns: 100, check });
        expect(r.culprits).toEqual([b]);
        expect(r.accepted).toEqual(items.filter((x) => x !== b));
      }
    }
  });
});

describe('cancellation', () => {
  it('prefixes longer than a failing one are cancelled: 6 items, 3 at a time, s4 broke it', async () => {
    const aborted: string[][] = [];
    const check = (set: string[], signal: AbortSignal): Promise<boolean> => {
      if (!set.includes('s4')) return Promise.resolve(true);
      if (set.length === 4) return Promise.resolve(false);
      // a longer failing prefix runs until it is cancelled
      return new Promise((resolve) =>
        signal.addEventListener('abort', () => {
          aborted.push(set);
          resolve(false);
        }),
      );
    };
    const rounds: SearchRound[] = [];
    const r = await findCulprits(names(6), { parallel: 3, maxRuns: 10, check, onRound: (x) => rounds.push(x) });
    expect(aborted).toEqual([['s1', 's2', 's3', 's4', 's5']]);
    expect(rounds[1]).toMatchObject({ kind: 'split', parts: [['s1', 's2'], ['s3', 's4'], ['s5'], ['s6']], results: ['pass', 'fail', 'cancelled'] });
    expect(rounds[2]).toMatchObject({ kind: 'split', sets: [['s1', 's2', 's3']], results: ['pass'], culprit: 's4' });
    expect(rounds[3]).toMatchObject({ kind: 'rest', sets: [['s1', 's2', 's3', 's5', 's6']], results: ['pass'] });
    expect(r).toEqual({ culprits: ['s4'], accepted: ['s1', 's2', 's3', 's5', 's6'], unresolved: [], runs: 5, cancelled: 1, rounds: 4, exhausted: false });
  });

  it('waits for an earlier prefix still running before it decides', async () => {
    let releaseFirst: ((ok: boolean) => void) | undefined;
    const check = (set: string[]): Promise<boolean> => {
      if (set.length === 1) return new Promise((resolve) => (releaseFirst = resolve));
      return Promise.resolve(!set.includes('s2'));
    };
    const rounds: SearchRound[] = [];
    const search = findCulprits(names(3), { parallel: 2, maxRuns: 10, check, onRound: (x) => rounds.push(x) });
    // the first round's second prefix has failed; the first is still running
    await new Promise<void>((resolve) => {
      const wait = (): void => (releaseFirst !== undefined ? resolve() : void setImmediate(wait));
      wait();
    });
    expect(rounds.map((x) => x.kind)).toEqual(['initial']);
    releaseFirst?.(true);
    const r = await search;
    expect(r).toMatchObject({ culprits: ['s2'], accepted: ['s1', 's3'], runs: 3, rounds: 3 });
  });

  it('an aborted search cancels its checks and rejects once they settled', async () => {
    const outer = new AbortController();
    let running = 0;
    let settled = 0;
    const check = (_set: string[], signal: AbortSignal): Promise<boolean> => {
      running++;
      if (running === 2) queueMicrotask(() => outer.abort(new Error('point cancelled')));
      return new Promise((resolve) =>
        signal.addEventListener('abort', () => {
          settled++;
          resolve(false);
        }),
      );
    };
    await expect(findCulprits(names(8), { parallel: 3, maxRuns: 10, check, signal: outer.signal })).rejects.toThrow('point cancelled');
    expect(running).toBe(3);
    expect(settled).toBe(3);
  });

  it('a check that throws ends the search with its error', async () => {
    const check = async (set: string[]): Promise<boolean> => {
      if (set.length === 2) throw new Error('cannot build the tree');
      return true;
    };
    await expect(findCulprits(names(8), { parallel: 3, maxRuns: 10, check })).rejects.toThrow('cannot build the tree');
  });
});

describe('maxRuns', () => {
  it('stops the search when reached and says so', async () => {
    const check = brokenBy('s9');
    const r = await findCulprits(names(16), { parallel: 1, maxRuns: 2, check });
    expect(r).toMatchObject({ exhausted: true, runs: 2, culprits: [] });
    expect(check.sets).toHaveLength(2);
    expect(r.unresolved).toContain('s9');
    expect([...r.accepted, ...r.unresolved].sort()).toEqual(names(16).sort());
  });

  it('0 runs: nothing is checked', async () => {
    const check = brokenBy('s1');
    expect(await findCulprits(names(4), { parallel: 2, maxRuns: 0, check })).toMatchObject({ exhausted: true, runs: 0, rounds: 1, unresolved: names(4) });
    expect(check.sets).toEqual([]);
  });

  it('a round shrinks to the runs left', async () => {
    const check = brokenBy('s16');
    const r = await findCulprits(names(16), { parallel: 4, maxRuns: 5, check });
    expect(r).toMatchObject({ culprits: ['s16'], exhausted: false, runs: 5, rounds: 3 });
  });

  it('a culprit found with no run left for the rest: exhausted, the rest unresolved', async () => {
    const r = await findCulprits(names(4), { parallel: 3, maxRuns: 3, check: brokenBy('s1') });
    expect(r).toMatchObject({ culprits: ['s1'], exhausted: true, unresolved: ['s2', 's3', 's4'], accepted: [] });
  });

  it('refuses a parallel below 1 or a negative maxRuns', async () => {
    await expect(findCulprits(names(2), { parallel: 0, maxRuns: 1, check: brokenBy('s1') })).rejects.toThrow(/parallel/);
    await expect(findCulprits(names(2), { parallel: 1, maxRuns: -1, check: brokenBy('s1') })).rejects.toThrow(/maxRuns/);
  });
});
