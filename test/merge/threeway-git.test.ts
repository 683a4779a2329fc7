/**
 * mergeLines against git merge-file run live on seeded random versions, both styles. (Outside
 * `npm run mutate`: a git process per merge costs every mutant seconds; the merges it found are
 * recorded in threeway.mutants.test.ts.)
 */
import { expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requires } from '../requires.js';
import { mergeLines } from '../../src/merge/threeway.js';
import { rng, versions } from './textgen.js';

const labels = { ours: 'ours', theirs: 'theirs' };

const needs = requires({
  what: 'git',
  missing: () => (spawnSync('git', ['--version']).status === 0 ? null : 'apt-get install git'),
});

needs.describe('mergeLines against git merge-file, live (seeded random versions)', () => {
  // alphabets for the rules: blank and punctuation-only lines (which join conflicts), upper case
  // and digits (which count as letters), few distinct lines (long ambiguous runs)
  const shapes = ['ab}_', 'AB_', '12{', 'aA1}_ ', 'ab'];
  it.each([['merge'], ['diff3']] as const)('%s style: byte-identical text and the same conflict count', (style) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coord-3way-'));
    try {
      const r = rng(style === 'merge' ? 101 : 202);
      for (let t = 0; t < 200; t++) {
        const [base, ours, theirs] = versions(r, shapes[t % shapes.length] ?? 'ab');
        fs.writeFileSync(path.join(dir, 'base'), base);
        fs.writeFileSync(path.join(dir, 'ours'), ours);
        fs.writeFileSync(path.join(dir, 'theirs'), theirs);
        const args = ['merge-file', '-p', ...(style === 'diff3' ? ['--diff3'] : []), '-L', 'ours', '-L', 'base', '-L', 'theirs', 'ours', 'base', 'theirs'];
        const git = spawnSync('git', args, { cwd: dir, encoding: 'utf8' });
        const mine = mergeLines(base, ours, theirs, { ...labels, base: 'base' }, { style });
        expect({ case: t, text: mine.text, conflicts: Math.min(mine.conflicts, 127) }).toEqual({ case: t, text: git.stdout, conflicts: git.status });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
