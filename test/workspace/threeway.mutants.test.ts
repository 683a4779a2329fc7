/** mergeLines on inputs chosen for each rule of the merge, against what `git merge-file -p` gives for them (recorded). */
import { describe, expect, it } from '@jest/globals';
import { mergeLines } from '../../src/workspace/threeway.js';

const L = (...ls: string[]): string => ls.map((l) => `${l}\n`).join('');
const C = (...ls: string[]): string => ls.map((l) => `${l}\r\n`).join('');
const labels = { ours: 'ours', theirs: 'theirs' };

const cases: Array<[string, [string, string, string], string, number]> = [
  ["an identical change between two conflicts counts as agreed lines: three of them join the conflicts", [L('1','2','3','4','5'), L('A','2','X','4','C'), L('B','2','X','4','D')], "<<<<<<< ours\nA\n2\nX\n4\nC\n=======\nB\n2\nX\n4\nD\n>>>>>>> theirs\n", 1],
  ["agreed lines (an identical change among them) more than three apart keep two conflicts", [L('1','2','3','4','5','6','7'), L('A','2','3','X','5','6','C'), L('B','2','3','X','5','6','D')], "<<<<<<< ours\nA\n=======\nB\n>>>>>>> theirs\n2\n3\nX\n5\n6\n<<<<<<< ours\nC\n=======\nD\n>>>>>>> theirs\n", 2],
  ["four separating lines, some with a letter, keep two conflicts", [L('1','}','','x','','5'), L('A','}','','x','','C'), L('B','}','','x','','D')], "<<<<<<< ours\nA\n=======\nB\n>>>>>>> theirs\n}\n\nx\n\n<<<<<<< ours\nC\n=======\nD\n>>>>>>> theirs\n", 2],
  ["separating lines without a letter or digit join the conflicts, however many", [L('1','}','','{','','5'), L('A','}','','{','','C'), L('B','}','','{','','D')], "<<<<<<< ours\nA\n}\n\n{\n\nC\n=======\nB\n}\n\n{\n\nD\n>>>>>>> theirs\n", 1],
  ["four separating lines with letters keep two conflicts", [L('1','p','q','r','s','5'), L('A','p','q','r','s','C'), L('B','p','q','r','s','D')], "<<<<<<< ours\nA\n=======\nB\n>>>>>>> theirs\np\nq\nr\ns\n<<<<<<< ours\nC\n=======\nD\n>>>>>>> theirs\n", 2],
  ["ours in CRLF and theirs in LF where the conflict starts: LF markers", ['k\r\nm\n', 'k\r\nA\n', 'k\nB\n'], "<<<<<<< ours\nk\r\nA\n=======\nk\nB\n>>>>>>> theirs\n", 1],
  ["CRLF everywhere: CRLF markers", [C('k','m','n'), C('k','A','n'), C('k','B','n')], "k\r\n<<<<<<< ours\r\nA\r\n=======\r\nB\r\n>>>>>>> theirs\r\nn\r\n", 1],
  ["both sides CRLF but the base's first line LF: LF markers", ['k\nm\r\nn\r\n', 'k\r\nA\r\nn\r\n', 'k\r\nB\r\nn\r\n'], "k\r\n<<<<<<< ours\nA\r\n=======\nB\r\n>>>>>>> theirs\nn\r\n", 1],
  ["a conflict on the first line looks at that line in each version", [C('m','n'), C('A','n'), C('B','n')], "<<<<<<< ours\r\nA\r\n=======\r\nB\r\n>>>>>>> theirs\r\nn\r\n", 1],
  ["a conflict on the first line with ours in LF: LF markers", ['m\r\nn\r\n', 'A\nn\r\n', 'B\r\nn\r\n'], "<<<<<<< ours\nA\n=======\nB\r\n>>>>>>> theirs\nn\r\n", 1],
  ["the lines before the conflict decide, not its own: CRLF markers around an LF line of theirs", ['k\r\nj\r\nm\r\n', 'k\r\nj\r\nA\r\n', 'k\r\nj\nB\r\n'], "k\r\n<<<<<<< ours\r\nj\r\nA\r\n=======\r\nj\nB\r\n>>>>>>> theirs\r\n", 1],
  ["an unterminated conflicting last line counts as the line before it (CRLF)", ['k\r\nm', 'k\r\nA', 'k\r\nB'], "k\r\n<<<<<<< ours\r\nA\r\n=======\r\nB\r\n>>>>>>> theirs\r\n", 1],
  ["each conflict looks at the line before it in ours and theirs", ['a\nb\nc\nd\ne\nf\ng\n', 'A\nb\nc\nd\ne\nf\r\nG\n', 'A2\nb\nc\nd\ne\nf\r\nG2\n'], "<<<<<<< ours\nA\n=======\nA2\n>>>>>>> theirs\nb\nc\nd\ne\nf\r\n<<<<<<< ours\nG\n=======\nG2\n>>>>>>> theirs\n", 2],
  ["an agreed line inside a conflict of one-line changes stays in it (joined back)", [L('1','2','3','4','5'), L('1','A','s','B','5'), L('1','C','s','D','5')], "1\n<<<<<<< ours\nA\ns\nB\n=======\nC\ns\nD\n>>>>>>> theirs\n5\n", 1],
  ["lines both sides added around a change are taken out of the conflict", [L('1','2','3'), L('1','s','A','t','3'), L('1','s','B','t','3')], "1\ns\n<<<<<<< ours\nA\n=======\nB\n>>>>>>> theirs\nt\n3\n", 1],
  ["a deletion against an edit: an empty ours side", [L('1','2','3','4'), L('1','4'), L('1','2','X','4')], "1\n<<<<<<< ours\n=======\n2\nX\n>>>>>>> theirs\n4\n", 1],
];

describe('mergeLines, case by case as git merge-file', () => {
  it.each(cases)('%s', (_why, [base, ours, theirs], text, conflicts) => {
    expect(mergeLines(base, ours, theirs, labels)).toEqual({ text, conflicts });
  });
});
