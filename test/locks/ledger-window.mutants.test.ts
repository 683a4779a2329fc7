/** The token ledger (src/locks/ledger.ts): the bounds of the take-back window, and errors that are not a missing key. */
import { describe, expect, test } from '@jest/globals';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenLedger } from '../../src/locks/ledger.js';
import { ledgerDir } from './ledger-fixture.js';

const { dir, names } = ledgerDir('coord-ledger-win-');
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('TokenLedger take-back window', () => {
  test('a commit that is itself the newest keeps every token, even from a name no longer there', () => {
    const l = new TokenLedger(dir());
    l.record('k', 0, 2);
    unlinkSync(join(dir(), 'k', '2'));
    // 38 tokens at once (read grants), from 2 whose name is gone: nothing newer exists, nothing is taken back
    expect(l.record('k', 2, 40)).toEqual([]);
    expect(l.last('k')).toBe(40);
    expect(names('k')).toEqual(range(9, 40));
  });

  test('a token far below the newest is taken back once, beside those recorded already', () => {
    const l = new TokenLedger(dir());
    for (let t = 1; t <= 49; t++) l.record('k', t - 1, t);
    // names 17..49 are there (collected at 48); 49 - 32 = 17 is the edge of the window
    expect(names('k')[0]).toBe(17);
    // from 2 (gone) to 20: 17..20 recorded already, 3..16 far below the newest; 17 counted once
    expect(l.record('k', 2, 20)).toEqual([...range(17, 20), ...range(3, 16)]);
  });

  test('a first grant (from 0) recorded only after the ledger went far past it is taken back too', () => {
    const l = new TokenLedger(dir());
    for (let t = 1; t <= 49; t++) l.record('k', t - 1, t);
    // a committer that read the lock before any grant and recorded after 49 of them: its token 1 (name collected) is far below
    expect(l.record('k', 0, 1)).toEqual([1]);
    // near the newest, a first grant's tokens are kept
    const m = new TokenLedger(join(dir(), 'other'));
    m.record('k', 0, 3);
    unlinkSync(join(dir(), 'other', 'k', '1'));
    expect(m.record('k', 0, 1)).toEqual([]);
  });

  test('a key that is not a directory fails with its own error, not a retry', () => {
    const l = new TokenLedger(dir());
    writeFileSync(join(dir(), 'k'), '');
    let err: NodeJS.ErrnoException | undefined;
    try {
      l.record('k', 0, 1);
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err?.code).toBe('ENOTDIR');
    expect(err?.syscall).toBe('link');
  });
});
