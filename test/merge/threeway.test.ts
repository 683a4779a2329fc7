import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { diffIds, internLines } from '../../src/merge/linediff.js';
import { mergeLines, splitLines, type LineDiff } from '../../src/merge/threeway.js';
import { rng, versions } from './textgen.js';

const L = { ours: 'ours', theirs: 'theirs' };
/** Lines joined with `\n`, each terminated. */
const lines = (...ls: string[]): string => ls.map((l) => `${l}\n`).join('');
const merge = (base: string, ours: string, theirs: string): { text: string; conflicts: number } => mergeLines(base, ours, theirs, L);

describe('splitLines', () => {
  it('keeps line endings and an unterminated last line', () => {
    expect(splitLines('')).toEqual([]);
    expect(splitLines('a\nb\r\nc')).toEqual(['a\n', 'b\r\n', 'c']);
    expect(splitLines('\n\n')).toEqual(['\n', '\n']);
  });
});

describe('mergeLines', () => {
  const base = lines('1', '2', '3', '4', '5');

  it('takes a change made on one side only', () => {
    const ours = lines('1', 'two', '3', '4', '5');
    expect(merge(base, ours, base)).toEqual({ text: ours, conflicts: 0 });
    expect(merge(base, base, ours)).toEqual({ text: ours, conflicts: 0 });
  });

  it('combines changes to different lines of both sides', () => {
    const ours = lines('one', '2', '3', '4', '5');
    const theirs = lines('1', '2', '3', '4', 'five');
    expect(merge(base, ours, theirs)).toEqual({ text: lines('one', '2', '3', '4', 'five'), conflicts: 0 });
  });

  it('takes an identical change of both sides once', () => {
    const both = lines('1', '2', 'three', '4', '5', '6');
    expect(merge(base, both, both)).toEqual({ text: both, conflicts: 0 });
    const ours = lines('1', '2', 'three', '4', 'five');
    const theirs = lines('one', '2', 'three', '4', '5');
    expect(merge(base, ours, theirs)).toEqual({ text: lines('one', '2', 'three', '4', 'five'), conflicts: 0 });
  });

  it('inserts at the start and the end', () => {
    const ours = lines('0', '1', '2', '3', '4', '5');
    const theirs = lines('1', '2', '3', '4', '5', '6');
    expect(merge(base, ours, theirs)).toEqual({ text: lines('0', '1', '2', '3', '4', '5', '6'), conflicts: 0 });
  });

  it('takes a deletion against an edit elsewhere', () => {
    const ours = lines('1', '3', '4', '5');
    const theirs = lines('1', '2', '3', '4', 'V');
    expect(merge(base, ours, theirs)).toEqual({ text: lines('1', '3', '4', 'V'), conflicts: 0 });
  });

  it('writes overlapping different changes as a conflict in git style', () => {
    const ours = lines('1', 'A', '3', '4', '5');
    const theirs = lines('1', 'B', '3', '4', '5');
    const out = mergeLines(base, ours, theirs, { ours: 'stream-a', theirs: 'stream-b' });
    expect(out.conflicts).toBe(1);
    expect(out.text).toBe('1\n<<<<<<< stream-a\nA\n=======\nB\n>>>>>>> stream-b\n3\n4\n5\n');
  });

  it('treats adjacent changes (no unchanged line between) as a conflict, as git does', () => {
    const ours = lines('1', 'two', '3', '4', '5');
    const theirs = lines('1', '2', 'three', '4', '5');
    expect(merge(base, ours, theirs)).toEqual({
      text: lines('1', '<<<<<<< ours', 'two', '3', '=======', '2', 'three', '>>>>>>> theirs', '4', '5'),
      conflicts: 1,
    });
  });

  it('conflicts on a deletion against an edit of the same line (empty side)', () => {
    const ours = lines('1', '2', '4', '5');
    const theirs = lines('1', '2', 'THREE', '4', '5');
    expect(merge(base, ours, theirs).text).toBe(lines('1', '2', '<<<<<<< ours', '=======', 'THREE', '>>>>>>> theirs', '4', '5'));
  });

  it('conflicts on different insertions at the same place, and counts each conflict', () => {
    const ours = lines('x', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'y');
    const theirs = lines('X', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'Y');
    const out = merge(lines('1', '2', '3', '4', '5', '6', '7', '8', '9'), ours, theirs);
    expect(out.conflicts).toBe(2);
    expect(out.text).toBe(
      lines('<<<<<<< ours', 'x', '=======', 'X', '>>>>>>> theirs', '1', '2', '3', '4', '5', '6', '7', '8', '9') +
        lines('<<<<<<< ours', 'y', '=======', 'Y', '>>>>>>> theirs'),
    );
  });

  it('keeps the lines both sides agree on out of a conflict', () => {
    const ours = lines('1', 'same', 'A', 'also same', '5');
    const theirs = lines('1', 'same', 'B', 'also same', '5');
    expect(merge(base, ours, theirs).text).toBe(lines('1', 'same', '<<<<<<< ours', 'A', '=======', 'B', '>>>>>>> theirs', 'also same', '5'));
  });

  it('joins conflicts separated by three lines or fewer into one', () => {
    const b = lines('a', 'b', 'c', 'd', 'e');
    const out = merge(b, lines('A1', 'b', 'c', 'd', 'E1'), lines('A2', 'b', 'c', 'd', 'E2'));
    expect(out).toEqual({ text: lines('<<<<<<< ours', 'A1', 'b', 'c', 'd', 'E1', '=======', 'A2', 'b', 'c', 'd', 'E2', '>>>>>>> theirs'), conflicts: 1 });
  });

  it('handles a missing trailing newline', () => {
    expect(merge('a\nm\nb', 'A\nm\nb', 'a\nm\nb\n')).toEqual({ text: 'A\nm\nb\n', conflicts: 0 });
    expect(merge('a\nm\nb', 'A\nm\nb', 'a\nm\nB')).toEqual({ text: 'A\nm\nB', conflicts: 0 });
    // Adding the missing newline changes the last line: next to an edit of the line before, a conflict.
    expect(merge('a\nb', 'A\nb', 'a\nb\n').conflicts).toBe(1);
    // Inside a conflict an unterminated line is ended, so the markers start lines.
    expect(merge('x', 'y', 'z')).toEqual({ text: '<<<<<<< ours\ny\n=======\nz\n>>>>>>> theirs\n', conflicts: 1 });
  });

  it('merges against an empty base: shared lines once, differences as conflicts', () => {
    expect(merge('', lines('a', 'b', 'c'), lines('a', 'B', 'c'))).toEqual({
      text: lines('a', '<<<<<<< ours', 'b', '=======', 'B', '>>>>>>> theirs', 'c'),
      conflicts: 1,
    });
    expect(merge('', lines('same'), lines('same'))).toEqual({ text: lines('same'), conflicts: 0 });
    expect(merge('', '', lines('new'))).toEqual({ text: lines('new'), conflicts: 0 });
  });

  it('handles empty sides: a file emptied on one side, untouched on the other', () => {
    expect(merge(base, '', base)).toEqual({ text: '', conflicts: 0 });
    expect(merge('', '', '')).toEqual({ text: '', conflicts: 0 });
    expect(merge(base, '', lines('1', '2', 'x', '4', '5')).conflicts).toBe(1);
  });

  it('treats the line ending as part of the line, and ends markers in CRLF in CRLF files', () => {
    expect(merge('a\nb\n', 'a\r\nb\n', 'a\nb\nc\n')).toEqual({ text: 'a\r\nb\nc\n', conflicts: 0 });
    expect(merge('a\r\nb\r\n', 'a\r\nB\r\n', 'a\r\nC\r\n').text).toBe('a\r\n<<<<<<< ours\r\nB\r\n=======\r\nC\r\n>>>>>>> theirs\r\n');
    // A line whose ending alone changed on both sides, differently: a conflict.
    expect(merge('a\n', 'a\r\n', 'a').conflicts).toBe(1);
  });

  it('prints the base too in the diff3 style', () => {
    const out = mergeLines(lines('1', '2', '3'), lines('1', 'A', '3'), lines('1', 'B', '3'), { ...L, base: 'base' }, { style: 'diff3' });
    expect(out.text).toBe(lines('1', '<<<<<<< ours', 'A', '||||||| base', '2', '=======', 'B', '>>>>>>> theirs', '3'));
  });
});

describe('diffIds', () => {
  it('finds a shortest edit script whose hunks turn a into b', () => {
    const r = rng(3);
    for (let t = 0; t < 500; t++) {
      const a = Array.from({ length: r(14) }, () => String(r(4)));
      const b = Array.from({ length: r(14) }, () => String(r(4)));
      const [ia, ib] = internLines(a, b);
      const hunks = diffIds(ia ?? new Int32Array(), ib ?? new Int32Array());
      const out: string[] = [];
      let i = 0;
      let kept = 0;
      for (const h of hunks) {
        out.push(...a.slice(i, h.aStart), ...b.slice(h.bStart, h.bEnd));
        kept += h.aStart - i;
        i = h.aEnd;
      }
      out.push(...a.slice(i));
      kept += a.length - i;
      expect(out).toEqual(b);
      // Minimal: the unchanged lines are a longest common subsequence.
      const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
      for (let x = a.length - 1; x >= 0; x--) {
        for (let y = b.length - 1; y >= 0; y--) {
          const row = lcs[x] ?? [];
          row[y] = a[x] === b[y] ? (lcs[x + 1]?.[y + 1] ?? 0) + 1 : Math.max(lcs[x + 1]?.[y] ?? 0, row[y + 1] ?? 0);
        }
      }
      expect(kept).toBe(lcs[0]?.[0] ?? 0);
    }
  });
});

const hasGit = spawnSync('git', ['--version']).status === 0;

describe('mergeLines against git merge-file', () => {
  (hasGit ? it : it.skip)('gives byte-identical output on random edits (CRLF and unterminated lines included)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coord-3way-'));
    try {
      const r = rng(11);
      for (let t = 0; t < 200; t++) {
        const [base, ours, theirs] = versions(r, 'abcdef', 30);
        fs.writeFileSync(path.join(dir, 'base'), base);
        fs.writeFileSync(path.join(dir, 'ours'), ours);
        fs.writeFileSync(path.join(dir, 'theirs'), theirs);
        const args = ['merge-file', '-p', '-L', 'ours', '-L', 'base', '-L', 'theirs', 'ours', 'base', 'theirs'];
        const git = spawnSync('git', args, { cwd: dir, encoding: 'utf8' });
        const mine = merge(base, ours, theirs);
        expect({ text: mine.text, conflicts: Math.min(mine.conflicts, 127) }).toEqual({ text: git.stdout, conflicts: git.status });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the merge loops are bounded', () => {
  it('a diff giving a hunk no region can start at throws an internal error naming threeway.ts, not a loop', () => {
    // hunk lists that count their reads: a merge that stopped making progress would read on
    // for ever (and pile up segments until memory runs out); this one stops it with "spun"
    let reads = 0;
    const counted = (hunks: Array<{ aStart: number; aEnd: number; bStart: number; bEnd: number }>) =>
      new Proxy(hunks, {
        get(target, prop, receiver) {
          if (typeof prop === 'string' && /^\d+$/.test(prop) && ++reads > 100_000) throw new Error('spun');
          return Reflect.get(target, prop, receiver) as unknown;
        },
      });
    const bad: LineDiff = () => counted([{ aStart: Number.NaN, aEnd: Number.NaN, bStart: 0, bEnd: 1 }]);
    const [base, ours, theirs] = [lines('1', '2', '3', '4', '5'), lines('1', 'A', '3', '4', '5'), lines('1', '2', '3', '4', 'B')];
    expect(() => mergeLines(base, ours, theirs, L, { diff: bad })).toThrow(/^internal error in threeway\.ts: no hunk starts at base line NaN/);
    expect(reads).toBeLessThan(10);
    // the same merge with a working diff, through the same option
    expect(mergeLines(base, ours, theirs, L, { diff: (a, b) => counted(diffIds(a, b)) })).toEqual({ text: lines('1', 'A', '3', '4', 'B'), conflicts: 0 });
  });

  it('long runs of one repeated line (compaction slides far) merge as git merge-file does', () => {
    if (!hasGit) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coord-3way-'));
    try {
      const r = rng(5);
      for (const n of [2000, 50_000]) {
        const base = Array.from({ length: n }, () => 'a\n');
        const ours = [...base];
        const theirs = [...base];
        for (let i = 0; i < 40; i++) {
          ours.splice(r(ours.length), 1);
          ours.splice(r(ours.length), 0, 'b\n');
          theirs.splice(r(theirs.length), 0, 'a\n', 'c\n');
        }
        fs.writeFileSync(path.join(dir, 'base'), base.join(''));
        fs.writeFileSync(path.join(dir, 'ours'), ours.join(''));
        fs.writeFileSync(path.join(dir, 'theirs'), theirs.join(''));
        const args = ['merge-file', '-p', '-L', 'ours', '-L', 'base', '-L', 'theirs', 'ours', 'base', 'theirs'];
        const git = spawnSync('git', args, { cwd: dir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
        const mine = merge(base.join(''), ours.join(''), theirs.join(''));
        expect(mine.text === git.stdout).toBe(true);
        expect(mine.conflicts).toBe(git.status);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
