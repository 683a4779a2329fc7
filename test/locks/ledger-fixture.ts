/** The temporary directory a token-ledger test works in, and what the ledger keeps there. */
import { afterEach, beforeEach } from '@jest/globals';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory for each test (removed after it): `dir()` is the current one, `names(key)` the tokens a key's directory holds, in order. */
export function ledgerDir(prefix: string): { dir: () => string; names: (key: string) => number[] } {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir: () => dir,
    names: (key) =>
      readdirSync(join(dir, key))
        .filter((n) => n !== 'anchor')
        .map(Number)
        .sort((a, b) => a - b),
  };
}
