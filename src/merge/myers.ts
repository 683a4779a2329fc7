/**
 * The search under the line diff (linediff.ts): Myers' O(ND) algorithm in linear space, as
 * git's xdiff runs it (`xdl_recs_cmp` / `xdl_split`). Each problem is split at a point of an
 * edit path found by searching from both ends at once (the "middle snake"), and both halves
 * are solved the same way.
 *
 * Two shortcuts of xdiff keep time bounded on large, very different inputs; a sub-problem
 * that must be minimal (the halves around a middle snake) takes neither:
 * - past 256 edits, a diagonal with a long snake (20+ equal lines) well ahead of the edit
 *   count is taken as the split point;
 * - past max(256, ~√(N+M)) edits, the search stops and splits where it got furthest.
 * The result is always a correct diff, just not always a minimal one.
 */

const FAR = 0x7fffffff;
const SNAKE = 20;
const HEURISTIC_MIN_COST = 256;
const K_HEURISTIC = 4;

/** xdiff's `xdl_bogosqrt`: a power of two near √n. */
export function bogosqrt(n: number): number {
  let i = 1;
  for (; n > 0; n >>= 2) i <<= 1;
  return i;
}

/** State shared by every sub-problem of one search: the sequences and the two diagonal arrays. */
interface Search {
  a: Int32Array;
  b: Int32Array;
  /** Furthest forward / backward x per diagonal `x - y`, stored at index `diagonal + off`. */
  kf: Int32Array;
  kb: Int32Array;
  off: number;
  maxCost: number;
}

/** Where to split, and whether each half must be solved minimally. */
interface Split {
  i1: number;
  i2: number;
  minLo: boolean;
  minHi: boolean;
}

/**
 * A point of an edit path from (off1, off2) to (lim1, lim2), strictly between them, for
 * sequences that differ at both ends (the caller trims common prefixes and suffixes).
 *
 * Bounded: the forward and backward searches meet by edit cost ⌈(N+M)/2⌉ (Myers), N and M
 * the lengths of the two ranges, and without `needMin` the search stops at `maxCost`; a
 * search still going past N+M edits is an internal error, not a spin. The loops inside one
 * edit cost run over the diagonals between fmin and fmax, and along a snake to the range's ends.
 */
function split(s: Search, off1: number, lim1: number, off2: number, lim2: number, needMin: boolean): Split {
  const { a, b, kf, kb, off } = s;
  const dmin = off1 - lim2;
  const dmax = lim1 - off2;
  const fmid = off1 - off2;
  const bmid = lim1 - lim2;
  const odd = ((fmid - bmid) & 1) !== 0;
  let fmin = fmid;
  let fmax = fmid;
  let bmin = bmid;
  let bmax = bmid;
  kf[fmid + off] = off1;
  kb[bmid + off] = lim1;
  const f = (d: number): number => kf[d + off] ?? -1;
  const r = (d: number): number => kb[d + off] ?? FAR;
  let gotSnake = false;
  const most = lim1 - off1 + (lim2 - off2);
  for (let ec = 1; ; ec++) {
    if (ec > most) throw new Error(`internal error in myers.ts: no split found after ${most} edits (lines ${off1}-${lim1} against ${off2}-${lim2})`);
    if (fmin > dmin) kf[--fmin - 1 + off] = -1;
    else ++fmin;
    if (fmax < dmax) kf[++fmax + 1 + off] = -1;
    else --fmax;
    for (let d = fmax; d >= fmin; d -= 2) {
      let i1 = f(d - 1) >= f(d + 1) ? f(d - 1) + 1 : f(d + 1);
      const prev = i1;
      let i2 = i1 - d;
      while (i1 < lim1 && i2 < lim2 && a[i1] === b[i2]) {
        i1++;
        i2++;
      }
      if (i1 - prev > SNAKE) gotSnake = true;
      kf[d + off] = i1;
      if (odd && bmin <= d && d <= bmax && r(d) <= i1) return { i1, i2, minLo: true, minHi: true };
    }
    if (bmin > dmin) kb[--bmin - 1 + off] = FAR;
    else ++bmin;
    if (bmax < dmax) kb[++bmax + 1 + off] = FAR;
    else --bmax;
    for (let d = bmax; d >= bmin; d -= 2) {
      let i1 = r(d - 1) < r(d + 1) ? r(d - 1) : r(d + 1) - 1;
      const prev = i1;
      let i2 = i1 - d;
      while (i1 > off1 && i2 > off2 && a[i1 - 1] === b[i2 - 1]) {
        i1--;
        i2--;
      }
      if (prev - i1 > SNAKE) gotSnake = true;
      kb[d + off] = i1;
      if (!odd && fmin <= d && d <= fmax && i1 <= f(d)) return { i1, i2, minLo: true, minHi: true };
    }
    if (needMin) continue;

    if (gotSnake && ec > HEURISTIC_MIN_COST) {
      // A diagonal far ahead of the cost so far, ending in a long snake: split there.
      let best = 0;
      let at: [number, number] = [0, 0];
      for (let d = fmax; d >= fmin; d -= 2) {
        const i1 = f(d);
        const i2 = i1 - d;
        const v = i1 - off1 + (i2 - off2) - Math.abs(d - fmid);
        if (v > K_HEURISTIC * ec && v > best && off1 + SNAKE <= i1 && i1 < lim1 && off2 + SNAKE <= i2 && i2 < lim2) {
          let k = 1;
          while (a[i1 - k] === b[i2 - k] && k < SNAKE) k++;
          if (k === SNAKE && a[i1 - k] === b[i2 - k]) {
            best = v;
            at = [i1, i2];
          }
        }
      }
      if (best > 0) return { i1: at[0], i2: at[1], minLo: true, minHi: false };
      for (let d = bmax; d >= bmin; d -= 2) {
        const i1 = r(d);
        const i2 = i1 - d;
        const v = lim1 - i1 + (lim2 - i2) - Math.abs(d - bmid);
        if (v > K_HEURISTIC * ec && v > best && off1 < i1 && i1 <= lim1 - SNAKE && off2 < i2 && i2 <= lim2 - SNAKE) {
          let k = 0;
          while (a[i1 + k] === b[i2 + k] && k < SNAKE - 1) k++;
          if (k === SNAKE - 1 && a[i1 + k] === b[i2 + k]) {
            best = v;
            at = [i1, i2];
          }
        }
      }
      if (best > 0) return { i1: at[0], i2: at[1], minLo: false, minHi: true };
    }

    if (ec < s.maxCost) continue;
    // Enough: split where the forward or the backward search got furthest.
    let fbest = -1;
    let fbest1 = -1;
    for (let d = fmax; d >= fmin; d -= 2) {
      let i1 = Math.min(f(d), lim1);
      let i2 = i1 - d;
      if (lim2 < i2) {
        i1 = lim2 + d;
        i2 = lim2;
      }
      if (fbest < i1 + i2) {
        fbest = i1 + i2;
        fbest1 = i1;
      }
    }
    let bbest = FAR;
    let bbest1 = FAR;
    for (let d = bmax; d >= bmin; d -= 2) {
      let i1 = Math.max(off1, r(d));
      let i2 = i1 - d;
      if (i2 < off2) {
        i1 = off2 + d;
        i2 = off2;
      }
      if (i1 + i2 < bbest) {
        bbest = i1 + i2;
        bbest1 = i1;
      }
    }
    if (lim1 + lim2 - bbest < fbest - (off1 + off2)) return { i1: fbest1, i2: fbest - fbest1, minLo: true, minHi: false };
    return { i1: bbest1, i2: bbest - bbest1, minLo: false, minHi: true };
  }
}

/**
 * Finds which elements of `a` and `b` are not part of the common subsequence and calls
 * `changedA` / `changedB` with each one's index (each at most once).
 *
 * Bounded: a problem is split only at a point strictly inside it, so both halves are smaller
 * and non-empty; with S = a.length + b.length there are at most 2S + 1 problems (more is an
 * internal error, not a spin).
 */
export function searchChanges(a: Int32Array, b: Int32Array, changedA: (i: number) => void, changedB: (j: number) => void): void {
  const size = a.length + b.length + 3;
  const s: Search = {
    a,
    b,
    kf: new Int32Array(size),
    kb: new Int32Array(size),
    off: b.length + 1,
    maxCost: Math.max(HEURISTIC_MIN_COST, bogosqrt(size)),
  };
  const todo: Array<[number, number, number, number, boolean]> = [[0, a.length, 0, b.length, false]];
  const most = 2 * (a.length + b.length) + 1;
  let jobs = 0;
  for (let job = todo.pop(); job !== undefined; job = todo.pop()) {
    if (++jobs > most) throw new Error(`internal error in myers.ts: more than ${most} sub-problems for ${a.length} against ${b.length} elements`);
    let [off1, lim1, off2, lim2] = job;
    while (off1 < lim1 && off2 < lim2 && a[off1] === b[off2]) {
      off1++;
      off2++;
    }
    while (off1 < lim1 && off2 < lim2 && a[lim1 - 1] === b[lim2 - 1]) {
      lim1--;
      lim2--;
    }
    const cut = off1 < lim1 && off2 < lim2 ? split(s, off1, lim1, off2, lim2, job[4]) : undefined;
    const { i1, i2 } = cut ?? { i1: off1, i2: off2 };
    const inside = i1 >= off1 && i1 <= lim1 && i2 >= off2 && i2 <= lim2;
    if (cut === undefined || !inside || (i1 === off1 && i2 === off2) || (i1 === lim1 && i2 === lim2)) {
      // One side is empty (or, never for trimmed inputs, no usable split): the rest all changed.
      for (let i = off1; i < lim1; i++) changedA(i);
      for (let j = off2; j < lim2; j++) changedB(j);
      continue;
    }
    todo.push([i1, lim1, i2, lim2, cut.minHi], [off1, i1, off2, i2, cut.minLo]);
  }
}
