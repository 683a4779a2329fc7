/**
 * The shared line splitter (src/util/lines.ts): lines come out whole and in order however the
 * bytes were cut into chunks, a UTF-8 character split between two chunks included.
 */
import { describe, expect, it } from '@jest/globals';
import { LineSplitter } from '../../src/util/lines.js';

const bytes = (...xs: number[]): Buffer => Buffer.from(xs);
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Every line of `input` cut into chunks at `cuts` (byte offsets), then the end. */
function split(input: Buffer, cuts: number[], opts?: ConstructorParameters<typeof LineSplitter>[0]): Array<string | null> {
  const s = new LineSplitter(opts);
  const out: Array<string | null> = [];
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    out.push(...s.push(input.subarray(at, cut)));
    at = cut;
  }
  out.push(s.end());
  return out;
}

describe('LineSplitter', () => {
  it('keeps a two-byte character split between two chunks whole', () => {
    const s = new LineSplitter();
    expect(s.push(bytes(0x63, 0x61, 0x66, 0xc3))).toEqual([]); // "caf" and the first byte of "é"
    expect(s.push(bytes(0xa9, 0x0a))).toEqual(['café']);
    expect(s.end()).toBeNull();
  });

  it('keeps a four-byte character split over three chunks whole, and the line after it', () => {
    const input = utf8('ok 🚀 done\nnext\n');
    const rocket = input.indexOf(0xf0);
    expect(split(input, [rocket + 1, rocket + 3])).toEqual(['ok 🚀 done', 'next', null]);
  });

  it('gives the same lines at every cut of a text with characters of 1 to 4 bytes', () => {
    const input = utf8('a é\n€ 𝄞\n\nlast');
    const want = ['a é', '€ 𝄞', '', 'last'];
    for (let i = 0; i <= input.length; i++) for (let j = i; j <= input.length; j++) expect(split(input, [i, j])).toEqual(want);
  });

  it('gives many lines of one chunk in order, empty lines included, and the unterminated last at the end', () => {
    const s = new LineSplitter();
    expect(s.push(utf8('a\n\nb\nc'))).toEqual(['a', '', 'b']);
    expect(s.pending).toBe(1);
    expect(s.push(utf8('d'))).toEqual([]);
    expect(s.end()).toBe('cd');
    expect(s.end()).toBeNull();
  });

  it('with stripCR drops the \\r of CRLF, also when the \\r and the \\n come in different chunks', () => {
    expect(split(utf8('a\r\nb\r\nc\r'), [2, 3], { stripCR: true })).toEqual(['a', 'b', 'c\r']);
    expect(split(utf8('a\r\n'), [], {})).toEqual(['a\r', null]);
  });

  it('ends a character cut short by the end of the stream as U+FFFD', () => {
    const s = new LineSplitter();
    expect(s.push(bytes(0x78, 0xe2, 0x82))).toEqual([]); // "x" and two of the three bytes of "€"
    expect(s.end()).toBe('x\ufffd');
  });

  it('counts what waits for its newline, a long line arriving in many chunks', () => {
    const s = new LineSplitter();
    for (let i = 0; i < 1000; i++) expect(s.push(utf8('x'.repeat(100)))).toEqual([]);
    expect(s.pending).toBe(100_000);
    expect(s.push(utf8('\n'))).toEqual(['x'.repeat(100_000)]);
    expect(s.pending).toBe(0);
  });
});
