/**
 * Line-based three-way merge (diff3 semantics, modelled on `git merge-file`): both sides are
 * diffed against the common base (linediff.ts) and their changes combined.
 *
 * - A region changed on one side only takes that side's lines.
 * - Changes of the two sides that overlap, or touch (no unchanged base line between them,
 *   as in git), form one region: identical on both sides → taken once; else a conflict.
 * - A conflict is narrowed as git's default ("zealous") level does: lines the two sides
 *   agree on at its start, end or inside are taken as they are, leaving smaller conflicts;
 *   conflicts then separated by at most 3 lines, or only by lines without a letter or digit,
 *   are joined again into one.
 * - A line is everything up to and including its `\n`, so `\r\n` and `\n` endings differ and a
 *   last line without a newline differs from the same line with one. Inside a conflict a
 *   side's unterminated last line gets a newline, so markers start lines; markers end in
 *   `\r\n` where git's would: the lines before the conflict in ours and theirs and the base's
 *   first line all end so (an unterminated last line counts as the one before it).
 */
import { diffIds, internLines, type Hunk } from './linediff.js';

/** Names printed after the conflict markers. */
export interface MergeLabels {
  ours: string;
  theirs: string;
  /** Printed after `|||||||` in the `diff3` style only. */
  base?: string;
}

/** Options of {@link mergeLines}. */
export interface MergeLinesOptions {
  /** `merge` (default, git's default): ours and theirs; `diff3`: the base lines too, no narrowing. */
  style?: 'merge' | 'diff3';
  /** The line diff (default {@link diffIds}; injectable for tests). */
  diff?: LineDiff;
}

/** Hunks in order that turn `a` into `b`, each apart from the next by an unchanged line (see {@link diffIds}). */
export type LineDiff = (a: Int32Array, b: Int32Array) => readonly Hunk[];

/** What {@link mergeLines} produced. */
export interface MergedText {
  /** The merged text, with conflict markers where the sides could not be combined. */
  text: string;
  /** Number of conflict regions (0 = a clean merge). */
  conflicts: number;
}

/** Splits text into lines, each keeping its line ending; a last line without one is kept as it is. */
export function splitLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
    out.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

/** Output lines taken as they are: unchanged or agreed (`same`), or one side's change (`change`). */
interface Plain {
  kind: 'same' | 'change';
  lines: string[];
}
/** A conflict, and where it starts in each version (for the end-of-line style of its markers). */
interface Clash {
  kind: 'conflict';
  ours: string[];
  theirs: string[];
  base: string[];
  at: { ours: number; theirs: number };
}
type Segment = Plain | Clash;
// Stryker disable next-line StringLiteral: a segment's kind is only ever compared with 'same' and 'conflict', so any other name of a change reads the same
const CHANGE = 'change';

interface Version {
  lines: string[];
  ids: Int32Array;
}

const sameIds = (a: Int32Array, a0: number, a1: number, b: Int32Array, b0: number, b1: number): boolean => {
  if (a1 - a0 !== b1 - b0) return false;
  // Stryker disable next-line EqualityOperator: one line further is the base line after the region in both (or past both ends), equal either way
  for (let i = 0; i < a1 - a0; i++) {
    if (a[a0 + i] !== b[b0 + i]) return false;
  }
  return true;
};

/** A side's hunks in one region: the first and the last (those between lie inside them). */
interface Run {
  first: Hunk;
  last: Hunk;
}

/** Adds a hunk to a side's run of the region (a new run for the first one). */
const extend = (run: Run | undefined, h: Hunk): Run => {
  if (run === undefined) return { first: h, last: h };
  run.last = h;
  return run;
};

/**
 * Groups both sides' hunks (against the base) into regions and decides each one, in base
 * order. Hunks join a region when they start at or before its end in the base.
 *
 * Bounded: every pass of the outer loop takes at least one hunk (the one starting at
 * `start` always joins; a pass that takes none is an internal error, not a spin), so it runs
 * at most `h1.length + h2.length` times; the inner loop repeats only after taking a hunk.
 */
function combine(base: Version, ours: Version, theirs: Version, refine: boolean, diff: LineDiff): Segment[] {
  const h1 = diff(base.ids, ours.ids);
  const h2 = diff(base.ids, theirs.ids);
  const out: Segment[] = [];
  let x = 0;
  let y = 0;
  let pos = 0;
  for (;;) {
    // the unchanged base lines up to the next region, or to the end (maybe none)
    const start = Math.min(h1[x]?.aStart ?? Infinity, h2[y]?.aStart ?? Infinity);
    out.push({ kind: 'same', lines: base.lines.slice(pos, start) });
    if (start === Infinity) break;
    let end = start;
    let mine: Run | undefined;
    let yours: Run | undefined;
    // ours' hunks, then theirs'; again while theirs reached further (ours' loop took all it could)
    for (let grew = true; grew; ) {
      for (let h = h1[x]; h !== undefined && h.aStart <= end; h = h1[++x]) {
        mine = extend(mine, h);
        end = Math.max(end, h.aEnd);
      }
      grew = false;
      for (let h = h2[y]; h !== undefined && h.aStart <= end; h = h2[++y]) {
        yours = extend(yours, h);
        end = Math.max(end, h.aEnd);
        grew = true;
      }
    }
    // the lines of the base region [start, end) in a side that changed it: its hunks plus the
    // unchanged base lines of the region before the first and after the last
    const span = (run: Run): [number, number] => [run.first.bStart - (run.first.aStart - start), run.last.bEnd + (end - run.last.aEnd)];
    pos = end;
    if (mine === undefined) {
      if (yours === undefined) throw new Error(`internal error in threeway.ts: no hunk starts at base line ${start} (hunks out of order or not numbers)`);
      out.push({ kind: CHANGE, lines: theirs.lines.slice(...span(yours)) });
    } else {
      const [o0, o1] = span(mine);
      if (yours === undefined) out.push({ kind: CHANGE, lines: ours.lines.slice(o0, o1) });
      else {
        const [t0, t1] = span(yours);
        if (sameIds(ours.ids, o0, o1, theirs.ids, t0, t1)) {
          // one hunk each over the same base lines: the same change made twice, which leaves
          // the lines around it agreed as they were (git drops it from the changes)
          // (a side's hunks never touch, so the same first hunk is the only one on both sides)
          const twin = mine.first.aStart === yours.first.aStart && mine.first.aEnd === yours.first.aEnd;
          out.push({ kind: twin ? 'same' : CHANGE, lines: ours.lines.slice(o0, o1) });
        } else {
          const clash: Clash = {
            kind: 'conflict',
            ours: ours.lines.slice(o0, o1),
            theirs: theirs.lines.slice(t0, t1),
            base: base.lines.slice(start, end),
            at: { ours: o0, theirs: t0 },
          };
          if (refine) for (const seg of narrow(clash, ours.ids.subarray(o0, o1), theirs.ids.subarray(t0, t1), diff)) out.push(seg);
          else out.push(clash);
        }
      }
    }
  }
  return out;
}

/** Splits a conflict where ours and theirs agree (git's zealous refinement). */
function narrow(c: Clash, oursIds: Int32Array, theirsIds: Int32Array, diff: LineDiff): Segment[] {
  // (an empty side gives one hunk: the conflict as it was.) The agreed lines before a hunk
  // and after the last may be none: an empty segment adds no line and joins nothing.
  const out: Segment[] = [];
  let i = 0;
  for (const h of diff(oursIds, theirsIds)) {
    out.push({ kind: 'same', lines: c.ours.slice(i, h.aStart) });
    out.push({
      kind: 'conflict',
      ours: c.ours.slice(h.aStart, h.aEnd),
      theirs: c.theirs.slice(h.bStart, h.bEnd),
      base: c.base,
      at: { ours: c.at.ours + h.aStart, theirs: c.at.theirs + h.bStart },
    });
    i = h.aEnd;
  }
  out.push({ kind: 'same', lines: c.ours.slice(i) });
  return out;
}

const ALNUM = /[A-Za-z0-9]/;

/** Appends in place (no spread: the lists can be longer than an argument list may be). */
function append(to: string[], ...lists: ReadonlyArray<readonly string[]>): void {
  for (const list of lists) for (const item of list) to.push(item);
}

/** Joins conflicts separated only by agreed lines that are few (≤ 3) or have no letter or digit. */
function simplify(segments: readonly Segment[]): Segment[] {
  const flat: Segment[] = [];
  for (const seg of segments) {
    const last = flat[flat.length - 1];
    if (seg.kind === 'same' && last?.kind === 'same') append(last.lines, seg.lines);
    else flat.push(seg);
  }
  const out: Segment[] = [];
  // Stryker disable next-line EqualityOperator: a step past the end reads undefined, skipped below
  for (let i = 0; i < flat.length; i++) {
    const seg = flat[i];
    const last = out[out.length - 1];
    const next = flat[i + 1];
    // Stryker disable next-line ConditionalExpression: seg is undefined only past the end of flat, which the loop stops before
    if (seg === undefined) continue;
    // What lies between two conflicts is always agreed lines: a region is fenced by unchanged
    // base lines, and conflicts narrowed out of one region by the lines the sides agree on.
    if (
      last?.kind === 'conflict' &&
      next?.kind === 'conflict' &&
      // Stryker disable next-line ConditionalExpression: (so this test only narrows the type)
      seg.kind === 'same'
    ) {
      if (seg.lines.length <= 3 || !seg.lines.some((l) => ALNUM.test(l))) {
        append(last.ours, seg.lines, next.ours);
        append(last.theirs, seg.lines, next.theirs);
        i++;
        continue;
      }
    }
    out.push(seg);
  }
  return out;
}

/** git's `is_eol_crlf`: 1 CRLF, 0 LF, -1 cannot tell (no lines, or only an unterminated one). */
function eolCrlf(lines: readonly string[], i: number): number {
  const line = lines[i];
  if (line === undefined) return -1;
  if (line.endsWith('\n')) return line.endsWith('\r\n') ? 1 : 0;
  // Reached only for a version that is one unterminated line (i = 0): an unterminated line is
  // its version's last, and no conflict starts right after it (that line would be in it).
  // Stryker disable next-line all: kept as git's is_eol_crlf, which mergeLines never reaches with a line before
  const before = lines[i - 1];
  // Stryker disable next-line all: (as above)
  return before === undefined ? -1 : before.endsWith('\r\n') ? 1 : 0;
}

/** Merges `ours` and `theirs`, both edited from `base` (see the module comment); labels name the sides in markers. */
export function mergeLines(base: string, ours: string, theirs: string, labels: MergeLabels, opts: MergeLinesOptions = {}): MergedText {
  // Shortcuts: the merge of these gives the same (every region is one side's change, or the
  // same change on both sides)
  // Stryker disable next-line ConditionalExpression,LogicalOperator: the merge below gives ours for these too
  if (ours === theirs || theirs === base) return { text: ours, conflicts: 0 };
  // Stryker disable next-line ConditionalExpression: the merge below gives theirs for this too
  if (ours === base) return { text: theirs, conflicts: 0 };
  const lines = [splitLines(base), splitLines(ours), splitLines(theirs)] as const;
  const [bIds, oIds, tIds] = internLines(...lines);
  const v = (i: 0 | 1 | 2, ids: Int32Array | undefined): Version => ({ lines: lines[i], ids: ids ?? new Int32Array(0) });
  const diff3 = opts.style === 'diff3';
  let segments = combine(v(0, bIds), v(1, oIds), v(2, tIds), !diff3, opts.diff ?? diffIds);
  if (!diff3) segments = simplify(segments);

  const mark = (sign: string, label: string | undefined, nl: string): string => `${sign.repeat(7)}${label === undefined ? '' : ` ${label}`}${nl}`;
  const body = (part: readonly string[], nl: string): string => {
    const text = part.join('');
    return text === '' || text.endsWith('\n') ? text : text + nl;
  };
  let text = '';
  let conflicts = 0;
  for (const seg of segments) {
    if (seg.kind !== 'conflict') {
      text += seg.lines.join('');
      continue;
    }
    conflicts++;
    let cr = eolCrlf(lines[1], seg.at.ours > 0 ? seg.at.ours - 1 : 0);
    if (cr !== 0) cr = eolCrlf(lines[2], seg.at.theirs > 0 ? seg.at.theirs - 1 : 0);
    if (cr !== 0) cr = eolCrlf(lines[0], 0);
    const nl = cr === 1 ? '\r\n' : '\n';
    text += mark('<', labels.ours, nl) + body(seg.ours, nl);
    if (diff3) text += mark('|', labels.base, nl) + body(seg.base, nl);
    text += mark('=', undefined, nl) + body(seg.theirs, nl) + mark('>', labels.theirs, nl);
  }
  return { text, conflicts };
}
