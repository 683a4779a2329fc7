/** What quorums are read, how they are written back and the errors that name a bad one (src/consensus/tally.ts). */
import { describe, expect, it } from '@jest/globals';
import { formatQuorum, parseQuorum, quorumNeeded, QUORUM_PATTERN } from '../../src/consensus/tally.js';

describe('reading a quorum', () => {
  it('ignores the spaces around it', () => {
    expect(parseQuorum(' majority ')).toEqual({ ok: true, value: { kind: 'majority' } });
    expect(parseQuorum(' 3\n')).toEqual({ ok: true, value: { kind: 'count', n: 3 } });
  });

  it('reads whole and decimal percentages, and nothing around them', () => {
    expect(parseQuorum('62.5%')).toEqual({ ok: true, value: { kind: 'percent', p: 62.5 } });
    expect(parseQuorum('12.25%')).toEqual({ ok: true, value: { kind: 'percent', p: 12.25 } });
    for (const bad of ['x50%', '50%x', '1.a%', '.5%', '5.%']) expect(parseQuorum(bad).ok).toBe(false);
  });

  it('says why a quorum is refused', () => {
    expect(parseQuorum('150%')).toEqual({ ok: false, error: 'bad quorum "150%": a percentage must be more than 0% and at most 100%' });
    expect(parseQuorum('most')).toEqual({ ok: false, error: 'bad quorum "most": use majority, all, a number of yes-votes (2) or a percentage (60%)' });
  });

  it('the written pattern agrees with what is read', () => {
    for (const good of ['majority', 'all', '3', '60%', '62.5%']) expect(QUORUM_PATTERN.test(good)).toBe(true);
    for (const bad of ['0', 'most', '%', '5.%']) expect(QUORUM_PATTERN.test(bad)).toBe(false);
  });
});

describe('writing a quorum back', () => {
  it('gives the form it was read from', () => {
    for (const text of ['majority', 'all', '3', '60%', '62.5%']) {
      const q = parseQuorum(text);
      if (!q.ok) throw new Error(q.error);
      expect(formatQuorum(q.value)).toBe(text);
    }
  });
});

describe('yes-votes needed', () => {
  it('a count equal to the voters needs them all; one more is refused, naming one voter or many', () => {
    expect(quorumNeeded({ kind: 'count', n: 3 }, 3)).toEqual({ ok: true, value: 3 });
    expect(quorumNeeded({ kind: 'count', n: 2 }, 1)).toEqual({ ok: false, error: 'quorum 2 is more than the 1 voter' });
    expect(quorumNeeded({ kind: 'count', n: 4 }, 3)).toEqual({ ok: false, error: 'quorum 4 is more than the 3 voters' });
  });

  it('no voters is refused for any quorum', () => {
    expect(quorumNeeded({ kind: 'all' }, 0)).toEqual({ ok: false, error: 'a proposal needs at least one voter' });
  });

  it('a percentage of few voters still needs one yes-vote, and an exact share needs no more', () => {
    expect(quorumNeeded({ kind: 'percent', p: 10 }, 3)).toEqual({ ok: true, value: 1 });
    expect(quorumNeeded({ kind: 'percent', p: 60 }, 10)).toEqual({ ok: true, value: 6 });
    expect(quorumNeeded({ kind: 'percent', p: 70 }, 10)).toEqual({ ok: true, value: 7 });
  });
});
