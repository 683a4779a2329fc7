/** Seeded random text versions for the three-way merge tests. */

/**
 * A seeded generator of integers in [0, n) (mulberry32: every bit of its state mixes into each
 * draw). A linear congruential step in doubles, `(s * 1103515245 + 12345) & 0x7fffffff`, loses
 * its low bits to rounding and draws far from evenly: with it every random merge had two equal
 * versions, so none got past mergeLines' shortcuts.
 */
export function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

/** Random versions of fewer than `maxLines` base lines drawn from `alphabet` (`_` is an empty line), some CRLF, some last lines unterminated. */
export function versions(r: (n: number) => number, alphabet: string, maxLines = 16): [string, string, string] {
  const line = (): string => {
    const c = alphabet[r(alphabet.length)] ?? '';
    return (c === '_' ? '' : c) + (r(4) === 0 ? '\r\n' : '\n');
  };
  const edit = (from: string[]): string[] => {
    const out = [...from];
    for (let e = r(8); e > 0; e--) {
      const at = r(out.length + 1);
      const op = r(3);
      if (op === 0) out.splice(at, 0, line());
      else if (op === 1) out.splice(at, 1 + r(2));
      else out.splice(at, 1, ...Array.from({ length: r(3) }, line));
    }
    return out;
  };
  const cut = (s: string): string => (r(4) === 0 ? s.replace(/\r?\n$/, '') : s);
  const b = Array.from({ length: r(maxLines) }, line);
  return [cut(b.join('')), cut(edit(b).join('')), cut(edit(b).join(''))];
}
