/**
 * The line diff under the three-way merge (threeway.ts), following git's xdiff step by step
 * so that merges come out as `git merge-file` makes them:
 *
 *   common ends trimmed ─► lines without an equal on the other side set aside (changed)
 *     ─► Myers search on the rest (myers.ts) ─► changed runs slid into place (compaction)
 *
 * Lines are compared as integers ({@link internLines}): equal lines are equal numbers.
 */
import { bogosqrt, searchChanges } from './myers.js';

/** One changed region: `a[aStart, aEnd)` was replaced by `b[bStart, bEnd)` (either may be empty). */
export interface Hunk {
  aStart: number;
  aEnd: number;
  bStart: number;
  bEnd: number;
}

/** Numbers the distinct lines of all `texts` together: equal lines get equal ids, across lists. */
export function internLines(...texts: ReadonlyArray<readonly string[]>): Int32Array[] {
  const ids = new Map<string, number>();
  return texts.map((lines) => {
    const out = new Int32Array(lines.length);
    lines.forEach((line, i) => {
      let id = ids.get(line);
      if (id === undefined) ids.set(line, (id = ids.size));
      out[i] = id;
    });
    return out;
  });
}

/** A run of changed lines `[start, end)` of one side (possibly empty), as xdiff's `xdlgroup`. */
interface Group {
  start: number;
  end: number;
}

/** One side of a diff while compacting: its lines and which of them are changed. */
interface Side {
  ids: Int32Array;
  changed: Uint8Array;
}

/** An index past either end of `changed` reads as unchanged: the loops below that walk a group's ends stop there. */
const isChanged = (s: Side, i: number): boolean => s.changed[i] === 1;

function firstGroup(s: Side): Group {
  const g = { start: 0, end: 0 };
  while (isChanged(s, g.end)) g.end++;
  return g;
}
function nextGroup(s: Side, g: Group): boolean {
  if (g.end >= s.ids.length) return false;
  g.start = g.end + 1;
  for (g.end = g.start; isChanged(s, g.end); g.end++);
  return true;
}
function previousGroup(s: Side, g: Group): boolean {
  if (g.start === 0) return false;
  g.end = g.start - 1;
  for (g.start = g.end; isChanged(s, g.start - 1); g.start--);
  return true;
}
function slideDown(s: Side, g: Group): boolean {
  if (g.end >= s.ids.length || s.ids[g.start] !== s.ids[g.end]) return false;
  s.changed[g.start++] = 0;
  s.changed[g.end++] = 1;
  while (isChanged(s, g.end)) g.end++;
  return true;
}
function slideUp(s: Side, g: Group): boolean {
  if (g.start === 0 || s.ids[g.start - 1] !== s.ids[g.end - 1]) return false;
  s.changed[--g.start] = 1;
  s.changed[--g.end] = 0;
  while (isChanged(s, g.start - 1)) g.start--;
  return true;
}

/**
 * xdiff's `xdl_change_compact` (without the indent heuristic): each run of changed lines
 * that can slide (its first line equals the line after it, or its last the line before) is
 * moved as far down as it goes, merging with runs it meets, then back up to line up with a
 * change of the other side where it can. Equal diffs of equal inputs thus look alike.
 *
 * Bounded, with n the side's line count (a step that breaks a bound throws, naming this
 * file, instead of spinning):
 * - a slide moves the group's start up or its end down by at least one line and fails at
 *   line 0 or n, so at most n slides follow one another;
 * - the slides of one group are repeated only while the group grew (it never shrinks), so
 *   at most n + 1 rounds;
 * - moving on, the next group starts past the end of the last one; a group with changes
 *   starts past every earlier group with changes (a group slid back up leaves only unchanged
 *   lines below it, stepped over one by one as empty groups), so at most n + 1 groups with
 *   changes are visited, each followed by at most n + 1 empty ones.
 */
function compact(side: Side, other: Side): void {
  const n = side.ids.length;
  const g = firstGroup(side);
  const go = firstGroup(other);
  const broken = (what: string): Error => new Error(`internal error in linediff.ts: compaction ${what} (group at lines ${g.start}-${g.end} of ${n})`);
  const up = (stop: () => boolean = () => false): void => {
    for (let k = 0; !stop() && slideUp(side, g); k++) {
      if (k >= n) throw broken('slid up more than n times');
      previousGroup(other, go);
    }
  };
  let lastChanged = -1;
  for (;;) {
    if (g.end !== g.start) {
      if (g.start <= lastChanged) throw broken('came back to a group it had passed');
      lastChanged = g.start;
      let earliestEnd: number;
      let endMatchingOther: number;
      let size = g.end - g.start;
      for (let round = 0; ; round++) {
        if (round > n) throw broken('did not settle in n + 1 rounds');
        endMatchingOther = -1;
        up();
        earliestEnd = g.end;
        if (go.end > go.start) endMatchingOther = g.end;
        for (let k = 0; slideDown(side, g); k++) {
          if (k >= n) throw broken('slid down more than n times');
          nextGroup(other, go);
          if (go.end > go.start) endMatchingOther = g.end;
        }
        const grown = g.end - g.start;
        if (grown === size) break;
        if (grown < size) throw broken('shrank');
        size = grown;
      }
      if (g.end !== earliestEnd && endMatchingOther !== -1) up(() => go.end !== go.start);
    }
    const passed = g.end;
    if (!nextGroup(side, g) || !nextGroup(other, go)) break;
    if (g.start <= passed) throw broken('did not move on');
  }
}

/** xdiff's `xdl_clean_mmatch`: is a line with many matches inside a run of lines without one? */
function lonelyRun(dis: Uint8Array, i: number, s: number, e: number): boolean {
  s = Math.max(s, i - 100);
  e = Math.min(e, i + 100);
  let none = 0;
  let many = 1;
  for (let r = 1; i - r >= s; r++) {
    const d = dis[i - r];
    if (d === 0) none++;
    else if (d === 2) many++;
    else break;
  }
  if (none === 0) return false;
  let noneAfter = 0;
  for (let r = 1; i + r <= e; r++) {
    const d = dis[i + r];
    if (d === 0) noneAfter++;
    else if (d === 2) many++;
    else break;
  }
  if (noneAfter === 0) return false;
  // xdiff counts the line itself once on each side.
  many += 1;
  return many * 4 < many + none + noneAfter;
}

/**
 * xdiff's `xdl_cleanup_records`: lines of `[start, end]` without any equal line on the other
 * side are changed for certain and left out of the search, and so are lines with very many
 * equals lying amid such lines; returns the indexes of the lines that take part.
 */
function keptLines(ids: Int32Array, otherCount: Map<number, number>, start: number, end: number, changed: Uint8Array): number[] {
  const limit = Math.min(bogosqrt(ids.length), 1024);
  const dis = new Uint8Array(ids.length);
  for (let i = start; i <= end; i++) {
    const nm = otherCount.get(ids[i] ?? -1) ?? 0;
    dis[i] = nm === 0 ? 0 : nm >= limit ? 2 : 1;
  }
  const kept: number[] = [];
  for (let i = start; i <= end; i++) {
    if (dis[i] === 1 || (dis[i] === 2 && !lonelyRun(dis, i, start, end))) kept.push(i);
    else changed[i] = 1;
  }
  return kept;
}

/** How often each id occurs. */
function counts(ids: Int32Array): Map<number, number> {
  const out = new Map<number, number>();
  for (const id of ids) out.set(id, (out.get(id) ?? 0) + 1);
  return out;
}

/**
 * The differences between `a` and `b` (ids from {@link internLines}) as hunks in order;
 * the lines between hunks are equal and correspond one to one. Follows xdiff's steps:
 * common ends trimmed, lines that cannot match set aside, the search, then compaction.
 */
export function diffIds(a: Int32Array, b: Int32Array): Hunk[] {
  const n = a.length;
  const m = b.length;
  const changedA = new Uint8Array(n);
  const changedB = new Uint8Array(m);
  let head = 0;
  while (head < n && head < m && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < n - head && tail < m - head && a[n - 1 - tail] === b[m - 1 - tail]) tail++;
  const keptA = keptLines(a, counts(b), head, n - tail - 1, changedA);
  const keptB = keptLines(b, counts(a), head, m - tail - 1, changedB);
  const ra = Int32Array.from(keptA, (i) => a[i] ?? -1);
  const rb = Int32Array.from(keptB, (j) => b[j] ?? -1);
  searchChanges(
    ra,
    rb,
    (i) => (changedA[keptA[i] ?? -1] = 1),
    (j) => (changedB[keptB[j] ?? -1] = 1),
  );
  compact({ ids: a, changed: changedA }, { ids: b, changed: changedB });
  compact({ ids: b, changed: changedB }, { ids: a, changed: changedA });
  const hunks: Hunk[] = [];
  // each pass moves i or j (or both) on: at most n + m passes
  for (let i = 0, j = 0; i < n || j < m; ) {
    if (changedA[i] === 1 || changedB[j] === 1) {
      const aStart = i;
      const bStart = j;
      while (changedA[i] === 1) i++;
      while (changedB[j] === 1) j++;
      hunks.push({ aStart, aEnd: i, bStart, bEnd: j });
    } else {
      i++;
      j++;
    }
  }
  return hunks;
}
