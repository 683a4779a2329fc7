/** mergeLines on inputs chosen for each rule of the merge, against what `git merge-file -p` gives for them (recorded; test/merge/threeway-git.test.ts compares live). */
import { describe, expect, it } from '@jest/globals';
import { diffIds, internLines, type Hunk } from '../../src/merge/linediff.js';
import { mergeLines, splitLines, type LineDiff } from '../../src/merge/threeway.js';
import { rng, versions } from './textgen.js';

const L = (...ls: string[]): string => ls.map((l) => `${l}\n`).join('');
const C = (...ls: string[]): string => ls.map((l) => `${l}\r\n`).join('');
const labels = { ours: 'ours', theirs: 'theirs' };

const cases: Array<[string, [string, string, string], string, number]> = [
  [
    'an identical change between two conflicts counts as agreed lines: three of them join the conflicts',
    [L('1', '2', '3', '4', '5'), L('A', '2', 'X', '4', 'C'), L('B', '2', 'X', '4', 'D')],
    '<<<<<<< ours\nA\n2\nX\n4\nC\n=======\nB\n2\nX\n4\nD\n>>>>>>> theirs\n',
    1,
  ],
  [
    'agreed lines (an identical change among them) more than three apart keep two conflicts',
    [L('1', '2', '3', '4', '5', '6', '7'), L('A', '2', '3', 'X', '5', '6', 'C'), L('B', '2', '3', 'X', '5', '6', 'D')],
    '<<<<<<< ours\nA\n=======\nB\n>>>>>>> theirs\n2\n3\nX\n5\n6\n<<<<<<< ours\nC\n=======\nD\n>>>>>>> theirs\n',
    2,
  ],
  [
    'four separating lines, some with a letter, keep two conflicts',
    [L('1', '}', '', 'x', '', '5'), L('A', '}', '', 'x', '', 'C'), L('B', '}', '', 'x', '', 'D')],
    '<<<<<<< ours\nA\n=======\nB\n>>>>>>> theirs\n}\n\nx\n\n<<<<<<< ours\nC\n=======\nD\n>>>>>>> theirs\n',
    2,
  ],
  [
    'separating lines without a letter or digit join the conflicts, however many',
    [L('1', '}', '', '{', '', '5'), L('A', '}', '', '{', '', 'C'), L('B', '}', '', '{', '', 'D')],
    '<<<<<<< ours\nA\n}\n\n{\n\nC\n=======\nB\n}\n\n{\n\nD\n>>>>>>> theirs\n',
    1,
  ],
  [
    'four separating lines with letters keep two conflicts',
    [L('1', 'p', 'q', 'r', 's', '5'), L('A', 'p', 'q', 'r', 's', 'C'), L('B', 'p', 'q', 'r', 's', 'D')],
    '<<<<<<< ours\nA\n=======\nB\n>>>>>>> theirs\np\nq\nr\ns\n<<<<<<< ours\nC\n=======\nD\n>>>>>>> theirs\n',
    2,
  ],
  [
    'ours in CRLF and theirs in LF where the conflict starts: LF markers',
    ['k\r\nm\n', 'k\r\nA\n', 'k\nB\n'],
    '<<<<<<< ours\nk\r\nA\n=======\nk\nB\n>>>>>>> theirs\n',
    1,
  ],
  [
    'CRLF everywhere: CRLF markers',
    [C('k', 'm', 'n'), C('k', 'A', 'n'), C('k', 'B', 'n')],
    'k\r\n<<<<<<< ours\r\nA\r\n=======\r\nB\r\n>>>>>>> theirs\r\nn\r\n',
    1,
  ],
  [
    "both sides CRLF but the base's first line LF: LF markers",
    ['k\nm\r\nn\r\n', 'k\r\nA\r\nn\r\n', 'k\r\nB\r\nn\r\n'],
    'k\r\n<<<<<<< ours\nA\r\n=======\nB\r\n>>>>>>> theirs\nn\r\n',
    1,
  ],
  [
    'a conflict on the first line looks at that line in each version',
    [C('m', 'n'), C('A', 'n'), C('B', 'n')],
    '<<<<<<< ours\r\nA\r\n=======\r\nB\r\n>>>>>>> theirs\r\nn\r\n',
    1,
  ],
  [
    'a conflict on the first line with ours in LF: LF markers',
    ['m\r\nn\r\n', 'A\nn\r\n', 'B\r\nn\r\n'],
    '<<<<<<< ours\nA\n=======\nB\r\n>>>>>>> theirs\nn\r\n',
    1,
  ],
  [
    'the lines before the conflict decide, not its own: CRLF markers around an LF line of theirs',
    ['k\r\nj\r\nm\r\n', 'k\r\nj\r\nA\r\n', 'k\r\nj\nB\r\n'],
    'k\r\n<<<<<<< ours\r\nj\r\nA\r\n=======\r\nj\nB\r\n>>>>>>> theirs\r\n',
    1,
  ],
  [
    'an unterminated conflicting last line counts as the line before it (CRLF)',
    ['k\r\nm', 'k\r\nA', 'k\r\nB'],
    'k\r\n<<<<<<< ours\r\nA\r\n=======\r\nB\r\n>>>>>>> theirs\r\n',
    1,
  ],
  [
    'each conflict looks at the line before it in ours and theirs',
    ['a\nb\nc\nd\ne\nf\ng\n', 'A\nb\nc\nd\ne\nf\r\nG\n', 'A2\nb\nc\nd\ne\nf\r\nG2\n'],
    '<<<<<<< ours\nA\n=======\nA2\n>>>>>>> theirs\nb\nc\nd\ne\nf\r\n<<<<<<< ours\nG\n=======\nG2\n>>>>>>> theirs\n',
    2,
  ],
  [
    'an agreed line inside a conflict of one-line changes stays in it (joined back)',
    [L('1', '2', '3', '4', '5'), L('1', 'A', 's', 'B', '5'), L('1', 'C', 's', 'D', '5')],
    '1\n<<<<<<< ours\nA\ns\nB\n=======\nC\ns\nD\n>>>>>>> theirs\n5\n',
    1,
  ],
  [
    'lines both sides added around a change are taken out of the conflict',
    [L('1', '2', '3'), L('1', 's', 'A', 't', '3'), L('1', 's', 'B', 't', '3')],
    '1\ns\n<<<<<<< ours\nA\n=======\nB\n>>>>>>> theirs\nt\n3\n',
    1,
  ],
  [
    'a deletion against an edit: an empty ours side',
    [L('1', '2', '3', '4'), L('1', '4'), L('1', '2', 'X', '4')],
    '1\n<<<<<<< ours\n=======\n2\nX\n>>>>>>> theirs\n4\n',
    1,
  ],
];

describe('mergeLines, case by case as git merge-file', () => {
  it.each(cases)('%s', (_why, [base, ours, theirs], text, conflicts) => {
    expect(mergeLines(base, ours, theirs, labels)).toEqual({ text, conflicts });
  });
});

/** Found by comparing many seeded random merges with git merge-file (-p, and --diff3), as it gave them. */
const found: Array<[string, 'merge' | 'diff3', [string, string, string], string, number]> = [
  [
    'an identical change inside a region both sides changed differently is no second conflict',
    'merge',
    ['a\n\na', 'b\na\n}\n\n}\n\n', 'b\na\n\n\na\na\n\n'],
    'b\n<<<<<<< ours\n=======\na\n\n\na\n>>>>>>> theirs\na\n}\n\n}\n\n',
    1,
  ],
  [
    "the sides' regions are compared line by line at their own offsets (CRLF lines among LF ones)",
    'merge',
    ['1\n2\n2\n2\r\n1\r\n1\r\n1\n1\n1\n1\n', '1\n2\n2\n2\r\n1\r\n1\n1\n1\n2', '1\n2\n2\n2\r\n1\r\n1\n1\n1\n2\n2'],
    '1\n2\n2\n2\r\n1\r\n1\n1\n1\n<<<<<<< ours\n=======\n2\n>>>>>>> theirs\n2',
    1,
  ],
  [
    'diff3: the same change made on both sides is taken once, not a conflict',
    'diff3',
    ['b\na\na\nb\na\nb\na\na\nb\nb\na\nb\nb', 'b\na\nb\nb\na\nb\na\na\nb\nb\na\nb\nb\n', 'b\nb\na\na\nb\na\nb\na\na\na\nb\nb\na\nb\nb\n'],
    'b\nb\na\nb\nb\na\nb\na\na\na\nb\nb\na\nb\nb\n',
    0,
  ],
  [
    'agreed lines between two narrowed conflicts of one region, punctuation and blank lines',
    'merge',
    ['\nP\nP\n\n\nP\n\n}\n', '\nP\nP\n\n}\n\nP\n}\n}\n}\n', '\n}\n\nP\n}\nP\n}\n'],
    '\n<<<<<<< ours\nP\nP\n\n=======\n>>>>>>> theirs\n}\n\nP\n}\n<<<<<<< ours\n}\n=======\nP\n>>>>>>> theirs\n}\n',
    2,
  ],
  [
    'a region compared at the offsets where it lies in ours and in theirs',
    'merge',
    ['a\na\nb\na\na\nb\na\nb\n', 'a\na\nb\na\na\na\nb\nb\nb\n', 'a\na\nb\na\na\nb\nb\nb\na\n'],
    'a\na\nb\na\na\n<<<<<<< ours\na\nb\nb\nb\n=======\nb\nb\nb\na\n>>>>>>> theirs\n',
    1,
  ],
  [
    'the markers of a narrowed conflict end as the lines before it in ours and theirs (CRLF)',
    'merge',
    ['2\r\n1\n1\n1\n2\r\n2\n1\r\n1\n2\r\n1\r\n1\n', '2\r\n1\n1\n1\n1\n1\n1\r\n2\r\n1\n2\n1\r\n1', '2\n2\r\n2\n1\r\n1\n1\n2\r\n2\n1\r\n1\n2\r\n1\r\n2\n1\n'],
    '2\n2\r\n2\n1\r\n1\n1\n1\n1\n1\r\n<<<<<<< ours\r\n2\r\n=======\r\n2\n>>>>>>> theirs\r\n1\n2\n1\r\n1',
    1,
  ],
  [
    'diff3: a conflict is not narrowed to the lines the sides disagree on',
    'diff3',
    [
      'b\na\na\na\na\nb\na\nb\nb\nb\na\nb\na\na\na\n',
      'b\na\na\na\na\nb\na\nb\na\na\na\nb\na\nb\na\na\n',
      'b\na\na\na\na\nb\nb\nb\nb\nb\na\nb\na\nb\na\na\na\n',
    ],
    'b\na\na\na\na\nb\nb\n<<<<<<< ours\na\na\n||||||| base\nb\nb\n=======\nb\nb\nb\na\nb\n>>>>>>> theirs\na\nb\na\nb\na\na\n',
    1,
  ],
  [
    "a narrowed conflict at the end looks at the lines before it in each side, not the region's",
    'merge',
    [
      'a\r\n \nA\r\nA\r\na\n\na\n1\r\n1\na\r\nA\r\n \n1\r\n}',
      'a\r\n \nA\r\nA\r\na\n\na\n1\r\n1\na\r\nA\r\n \n1\r\n}\r\n',
      'a\r\n \nA\r\na\n\n1\n1\na\r\nA\r\n \n1\r\n}\r\nA\nA\n',
    ],
    'a\r\n \nA\r\na\n\n1\n1\na\r\nA\r\n \n1\r\n}\r\n<<<<<<< ours\r\n=======\r\nA\nA\n>>>>>>> theirs\r\n',
    1,
  ],
  [
    'agreed lines left at the end of a narrowed region keep two conflicts apart',
    'merge',
    ['1\n2\n2\r\n1\n2\n1\r\n1\n2\r\n2\r\n2\r\n', '1\n2\n2\r\n1\r\n2\n1\n2\r\n2\r\n2\n', '1\n1\n2\n1\n2\r\n1\n1'],
    '1\n<<<<<<< ours\n2\n2\r\n1\r\n2\n1\n2\r\n2\r\n2\n=======\n1\n2\n1\n2\r\n1\n1\n>>>>>>> theirs\n',
    1,
  ],
  [
    'both sides CRLF where the conflict starts, but an empty base cannot tell: LF markers',
    'merge',
    ['', '1\r\n', '2\r\n1\n1'],
    '<<<<<<< ours\n1\r\n=======\n2\r\n1\n1\n>>>>>>> theirs\n',
    1,
  ],
  [
    "theirs, one unterminated line, cannot tell; the base's first line decides (CRLF markers)",
    'merge',
    ['2\r\n', '2\r\n1\r\n', '2'],
    '<<<<<<< ours\r\n2\r\n1\r\n=======\r\n2\r\n>>>>>>> theirs\r\n',
    1,
  ],
];

describe('mergeLines on inputs found against git merge-file', () => {
  it.each(found)('%s (%s)', (_why, style, [base, ours, theirs], text, conflicts) => {
    expect(mergeLines(base, ours, theirs, { ...labels, base: 'base' }, { style })).toEqual({ text, conflicts });
  });
});

describe('markers and their labels', () => {
  it('diff3 without a base label prints a bare |||||||, and labels are printed as given', () => {
    const out = mergeLines(L('1', '2', '3'), L('1', 'A', '3'), L('1', 'B', '3'), { ours: 'stream a', theirs: 'b+c' }, { style: 'diff3' });
    expect(out).toEqual({ text: L('1', '<<<<<<< stream a', 'A', '|||||||', '2', '=======', 'B', '>>>>>>> b+c', '3'), conflicts: 1 });
  });

  it('diff3 shows the base lines of a deletion against an edit, and an empty side as no line', () => {
    const out = mergeLines(L('1', '2', '3'), L('1', '3'), L('1', 'X', '3'), { ...labels, base: 'base' }, { style: 'diff3' });
    expect(out).toEqual({ text: L('1', '<<<<<<< ours', '||||||| base', '2', '=======', 'X', '>>>>>>> theirs', '3'), conflicts: 1 });
  });
});

describe('more against git merge-file (recorded)', () => {
  it('the line before the conflict decides its markers, not the first line of ours (changed apart to LF)', () => {
    const out = mergeLines('x\r\ny\r\nz\r\nm\r\n', 'X\ny\r\nz\r\nA\r\n', 'x\r\ny\r\nz\r\nB\r\n', labels);
    expect(out).toEqual({ text: 'X\ny\r\nz\r\n<<<<<<< ours\r\nA\r\n=======\r\nB\r\n>>>>>>> theirs\r\n', conflicts: 1 });
  });

  it('diff3 never joins conflicts, however close', () => {
    const out = mergeLines(L('1', '2', '3'), L('A', '2', 'C'), L('B', '2', 'D'), { ...labels, base: 'base' }, { style: 'diff3' });
    expect(out).toEqual({
      text: L(
        '<<<<<<< ours',
        'A',
        '||||||| base',
        '1',
        '=======',
        'B',
        '>>>>>>> theirs',
        '2',
        '<<<<<<< ours',
        'C',
        '||||||| base',
        '3',
        '=======',
        'D',
        '>>>>>>> theirs',
      ),
      conflicts: 2,
    });
  });
});

describe('splitLines', () => {
  it('splits after each \\n only: a leading empty line, a lone \\r, a last line without one', () => {
    expect(splitLines('\nA\n')).toEqual(['\n', 'A\n']);
    expect(splitLines('\n')).toEqual(['\n']);
    expect(splitLines('a\rb\r\nc')).toEqual(['a\rb\r\n', 'c']);
    expect(splitLines('a\n')).toEqual(['a\n']);
    expect(splitLines('abc')).toEqual(['abc']);
  });
});

describe('laws of the merge (seeded random versions)', () => {
  it('a side left as the base gives the other side; the same version on both sides gives it', () => {
    const r = rng(7);
    for (let t = 0; t < 300; t++) {
      const [base, ours, theirs] = versions(r, 'ab}_A1');
      expect(mergeLines(base, ours, base, labels)).toEqual({ text: ours, conflicts: 0 });
      expect(mergeLines(base, base, theirs, labels)).toEqual({ text: theirs, conflicts: 0 });
      expect(mergeLines(base, theirs, theirs, labels, { style: 'diff3' })).toEqual({ text: theirs, conflicts: 0 });
    }
  });

  it('edits of lines apart from each other merge cleanly and the result holds both', () => {
    const r = rng(13);
    for (let t = 0; t < 300; t++) {
      const base = Array.from({ length: 6 + r(20) }, (_, i) => `line ${i}\n`);
      // ours edits at even places, theirs at odd ones, each place a line with its own number
      // (so every edit stands apart from the other side's, with an unchanged line between)
      const ours = [...base];
      const theirs = [...base];
      const both = [...base];
      for (let i = base.length - 2; i >= 1; i -= 2) {
        const side = (i / 2) % 2 === 0 ? 'ours' : 'theirs';
        const k = r(3);
        const repl = k === 0 ? [] : k === 1 ? [`${side} ${i}\n`] : [`${side} ${i}\n`, `${side} ${i}b\n`];
        if (r(2) === 0) continue;
        (side === 'ours' ? ours : theirs).splice(i, 1, ...repl);
        both.splice(i, 1, ...repl);
      }
      expect(mergeLines(base.join(''), ours.join(''), theirs.join(''), labels)).toEqual({ text: both.join(''), conflicts: 0 });
      expect(mergeLines(base.join(''), ours.join(''), theirs.join(''), labels, { style: 'diff3' })).toEqual({ text: both.join(''), conflicts: 0 });
    }
  });
});

describe('the same change on both sides, aligned differently by the diff', () => {
  // base c1 s a a s2 c2; each side changes c1 and c2 its own way and deletes one of the two a's.
  // Which a a diff deletes is its choice; git's merge drops an identical change only when both
  // sides' hunks cover the same base lines, and otherwise keeps it as a change between the
  // conflicts around it, so those stay apart.
  const base = L('c1', 's', 'a', 'a', 's2', 'c2');
  const ours = L('O1', 's', 'a', 's2', 'O2');
  const theirs = L('T1', 's', 'a', 's2', 'T2');
  const [, , theirsIds] = internLines(splitLines(base), splitLines(ours), splitLines(theirs));
  const isTheirs = (b: Int32Array): boolean => b.length === theirsIds?.length && b.every((v, i) => v === theirsIds[i]);
  /** diffIds, but a one-line deletion in base→theirs put on the equal line before it (as valid a diff). */
  const deleteEarlierInTheirs: LineDiff = (a, b) =>
    diffIds(a, b).map(
      (h): Hunk =>
        isTheirs(b) && h.aEnd - h.aStart === 1 && h.bStart === h.bEnd && h.aStart > 0 && a[h.aStart - 1] === a[h.aStart]
          ? { aStart: h.aStart - 1, aEnd: h.aEnd - 1, bStart: h.bStart - 1, bEnd: h.bEnd - 1 }
          : h,
    );
  const two = L('<<<<<<< ours', 'O1', '=======', 'T1', '>>>>>>> theirs', 's', 'a', 's2', '<<<<<<< ours', 'O2', '=======', 'T2', '>>>>>>> theirs');
  const one = L('<<<<<<< ours', 'O1', 's', 'a', 's2', 'O2', '=======', 'T1', 's', 'a', 's2', 'T2', '>>>>>>> theirs');

  it('over the same base lines it counts as agreed lines: the conflicts two lines apart join', () => {
    expect(mergeLines(base, ours, theirs, labels)).toEqual({ text: one, conflicts: 1 });
  });

  /** diffIds, with base→theirs' one-line deletion `[i, i + 1)` given as `from` says instead. */
  const reworded =
    (from: (h: Hunk) => Hunk): LineDiff =>
    (a, b) =>
      diffIds(a, b).map((h) => (isTheirs(b) && h.aEnd - h.aStart === 1 && h.bStart === h.bEnd ? from(h) : h));
  const baseIds = internLines(splitLines(base))[0] ?? new Int32Array();

  it.each([
    [
      'the two equal lines replaced by one (an earlier start)',
      (h: Hunk): Hunk => ({ aStart: h.aStart - 1, aEnd: h.aEnd, bStart: h.bStart - 1, bEnd: h.bEnd }),
      [2, 4],
    ],
  ] as const)('over different base lines it is a change of both, the conflicts stay apart: %s', (_why, from, range) => {
    const diff = reworded(from);
    expect(diff(baseIds, theirsIds ?? new Int32Array()).map((h) => [h.aStart, h.aEnd])).toContainEqual(range);
    expect(mergeLines(base, ours, theirs, labels, { diff })).toEqual({ text: two, conflicts: 2 });
  });

  it('over different base lines it is a change of both: the conflicts stay apart', () => {
    const hunks = deleteEarlierInTheirs(baseIds, theirsIds ?? new Int32Array());
    expect(hunks.map((h) => [h.aStart, h.aEnd])).toContainEqual([2, 3]);
    expect(mergeLines(base, ours, theirs, labels, { diff: deleteEarlierInTheirs })).toEqual({ text: two, conflicts: 2 });
  });
});
