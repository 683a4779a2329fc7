/**
 * Unified diffs of text (the format of `diff -u` and `git diff`), from the same line diff the
 * three-way merge uses (linediff.ts). Lines are compared with their endings; a last line
 * without one is marked `\ No newline at end of file`, as git does.
 */
import { diffIds, internLines, type Hunk } from './linediff.js';
import { splitLines } from './threeway.js';

/** Lines of context around each change (git's default). */
const CONTEXT = 3;

/** A text diff: the hunks as printed, and the lines added and removed. */
export interface TextDiff {
  /** `@@ … @@` hunks with their lines; '' when the texts are equal. */
  hunks: string;
  insertions: number;
  deletions: number;
}

function line(prefix: string, text: string): string {
  return text.endsWith('\n') ? `${prefix}${text}` : `${prefix}${text}\n\\ No newline at end of file\n`;
}

/** `-l,s` of a hunk header: 1-based first line and count; an empty range names the line before it. */
const range = (start: number, count: number): string => (count === 1 ? `${start + 1}` : count === 0 ? `${start},0` : `${start + 1},${count}`);

/** The unified diff of `a` to `b`. */
export function diffText(a: string, b: string): TextDiff {
  const al = splitLines(a);
  const bl = splitLines(b);
  const [ai, bi] = internLines(al, bl) as [Int32Array, Int32Array];
  const hunks = diffIds(ai, bi);
  let insertions = 0;
  let deletions = 0;
  for (const h of hunks) {
    insertions += h.bEnd - h.bStart;
    deletions += h.aEnd - h.aStart;
  }
  // group hunks whose context would touch
  const groups: Hunk[][] = [];
  for (const h of hunks) {
    const last = groups[groups.length - 1];
    const prev = last?.[last.length - 1];
    if (prev !== undefined && h.aStart - prev.aEnd <= 2 * CONTEXT) last?.push(h);
    else groups.push([h]);
  }
  let out = '';
  for (const g of groups) {
    const first = g[0]!;
    const lastH = g[g.length - 1]!;
    const aFrom = Math.max(0, first.aStart - CONTEXT);
    const aTo = Math.min(al.length, lastH.aEnd + CONTEXT);
    const bFrom = first.bStart - (first.aStart - aFrom);
    const bTo = lastH.bEnd + (aTo - lastH.aEnd);
    let body = '';
    let ai2 = aFrom;
    for (const h of g) {
      for (; ai2 < h.aStart; ai2++) body += line(' ', al[ai2] ?? '');
      for (let i = h.aStart; i < h.aEnd; i++) body += line('-', al[i] ?? '');
      for (let j = h.bStart; j < h.bEnd; j++) body += line('+', bl[j] ?? '');
      ai2 = h.aEnd;
    }
    for (; ai2 < aTo; ai2++) body += line(' ', al[ai2] ?? '');
    out += `@@ -${range(aFrom, aTo - aFrom)} +${range(bFrom, bTo - bFrom)} @@\n${body}`;
  }
  return { hunks: out, insertions, deletions };
}
