/** The token ledger (src/locks/ledger.ts): tokens recorded once, never going back, old names collected. */
import { describe, expect, test } from '@jest/globals';
import { statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TokenLedger } from '../../src/locks/ledger.js';
import { ledgerDir } from './ledger-fixture.js';

const { dir, names } = ledgerDir('coord-ledger-');

describe('TokenLedger', () => {
  test('a new key has no token; recorded tokens are its names, the highest is the last', () => {
    const l = new TokenLedger(dir());
    expect(l.last('k')).toBe(0);
    expect(l.record('k', 0, 3)).toEqual([]);
    expect(l.last('k')).toBe(3);
    expect(names('k')).toEqual([1, 2, 3]);
    // the names are links to one private anchor: no inode each
    const anchor = statSync(join(dir(), 'k', 'anchor'));
    expect(anchor.nlink).toBe(4);
    expect(anchor.mode & 0o777).toBe(0o600);
    expect(statSync(join(dir(), 'k')).mode & 0o777).toBe(0o700);
    expect(l.record('k', 3, 4)).toEqual([]);
    expect(l.last('k')).toBe(4);
    expect(l.last('other')).toBe(0);
  });

  test('a token recorded already is taken back (a commit on a state set back under it)', () => {
    const l = new TokenLedger(dir());
    l.record('k', 0, 2);
    expect(l.record('k', 1, 3)).toEqual([2]);
    expect(l.last('k')).toBe(3);
  });

  test('a lost anchor is made again', () => {
    const l = new TokenLedger(dir());
    l.record('k', 0, 1);
    unlinkSync(join(dir(), 'k', 'anchor'));
    expect(l.record('k', 1, 2)).toEqual([]);
    expect(names('k')).toEqual([1, 2]);
  });

  test('every 8th token removes the names a window (32) or more below it', () => {
    const l = new TokenLedger(dir());
    for (let t = 1; t <= 39; t++) expect(l.record('k', t - 1, t)).toEqual([]);
    expect(names('k')).toEqual(Array.from({ length: 39 }, (_, i) => i + 1));
    expect(l.record('k', 39, 40)).toEqual([]);
    expect(names('k')[0]).toBe(9);
    expect(names('k').at(-1)).toBe(40);
    expect(l.last('k')).toBe(40);
  });

  test('a commit from a token whose name was collected is taken back only when far below the newest', () => {
    const l = new TokenLedger(dir());
    for (let t = 1; t <= 48; t++) l.record('k', t - 1, t);
    // names 1..16 were collected (the window below 48)
    expect(names('k')[0]).toBe(17);
    // a commit from 2 to 4: far below 48 (more than 32), its name gone: taken back
    expect(l.record('k', 2, 4)).toEqual([3, 4]);
    // a commit from 20 (name kept) to 21: recorded already
    expect(l.record('k', 20, 21)).toEqual([21]);
  });

  test('a commit from a name not recorded yet, near the newest, is kept', () => {
    const l = new TokenLedger(dir());
    l.record('k', 0, 10);
    unlinkSync(join(dir(), 'k', '5'));
    // 5's commit has not recorded it: 6 is there already, taken back; 5 is not far below 10
    expect(l.record('k', 5, 6)).toEqual([6]);
    unlinkSync(join(dir(), 'k', '8'));
    unlinkSync(join(dir(), 'k', '9'));
    expect(l.record('k', 8, 9)).toEqual([]);
    expect(l.last('k')).toBe(10);
  });

  test('a commit newer than every name records all of its tokens', () => {
    const l = new TokenLedger(dir());
    l.record('k', 0, 2);
    unlinkSync(join(dir(), 'k', '2'));
    expect(l.record('k', 2, 5)).toEqual([]);
    expect(names('k')).toEqual([1, 3, 4, 5]);
  });
});
