/** Quorum arithmetic and the deterministic tally of src/consensus/tally.ts. */
import { describe, expect, it } from '@jest/globals';
import { parseQuorum, quorumNeeded, tally, type Quorum } from '../../src/consensus/tally.js';

const q = (text: string | number): Quorum => {
  const r = parseQuorum(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};
const needed = (text: string | number, voters: number) => quorumNeeded(q(text), voters);

describe('quorum', () => {
  it('majority is more than half, all is everyone, K is K, P% rounds up', () => {
    expect([1, 2, 3, 4, 5].map((n) => needed('majority', n))).toEqual([1, 2, 2, 3, 3].map((v) => ({ ok: true, value: v })));
    expect(needed('all', 4)).toEqual({ ok: true, value: 4 });
    expect(needed(2, 5)).toEqual({ ok: true, value: 2 });
    expect(needed('2', 5)).toEqual({ ok: true, value: 2 });
    expect(needed('60%', 5)).toEqual({ ok: true, value: 3 });
    expect(needed('50%', 4)).toEqual({ ok: true, value: 2 });
    expect(needed('1%', 3)).toEqual({ ok: true, value: 1 });
    expect(needed('100%', 3)).toEqual({ ok: true, value: 3 });
  });

  it('refuses what cannot be met or read', () => {
    expect(needed(4, 3)).toEqual({ ok: false, error: 'quorum 4 is more than the 3 voters' });
    expect(quorumNeeded(q('majority'), 0).ok).toBe(false);
    for (const bad of ['0', '0%', '150%', 'most', '-1', '']) expect(parseQuorum(bad).ok).toBe(false);
  });
});

describe('tally', () => {
  const voters = ['a', 'b', 'c'];
  it('accepts as soon as yes-votes reach the quorum', () => {
    expect(tally(voters, 2, [{ voter: 'a', vote: 'yes' }]).state).toBe('pending');
    expect(
      tally(voters, 2, [
        { voter: 'a', vote: 'yes' },
        { voter: 'c', vote: 'yes' },
      ]),
    ).toEqual({ yes: 2, no: 0, outstanding: 1, state: 'accepted' });
  });

  it('rejects as soon as the quorum is out of reach', () => {
    expect(tally(voters, 2, [{ voter: 'a', vote: 'no' }]).state).toBe('pending');
    expect(
      tally(voters, 2, [
        { voter: 'a', vote: 'no' },
        { voter: 'b', vote: 'no' },
      ]).state,
    ).toBe('rejected');
    expect(tally(voters, 3, [{ voter: 'b', vote: 'no' }]).state).toBe('rejected');
  });

  it('counts the first vote of each voter only, and only voters', () => {
    const t = tally(voters, 2, [
      { voter: 'a', vote: 'yes' },
      { voter: 'a', vote: 'yes' },
      { voter: 'zed', vote: 'yes' },
    ]);
    expect(t).toEqual({ yes: 1, no: 0, outstanding: 2, state: 'pending' });
  });
});
