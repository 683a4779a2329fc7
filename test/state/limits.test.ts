/** The limit checks themselves: exact at the bound, never recursing, strings are not nesting. */
import { describe, expect, it } from '@jest/globals';
import { jsonTextTooDeep, showPath, tooDeepAt } from '../../src/util/limits.js';
import { deepFreeze } from '../../src/state/paths.js';

/** `n` arrays nested in each other, built without recursion. */
function nested(n: number): unknown[] {
  let v: unknown[] = [];
  for (let i = 1; i < n; i++) v = [v];
  return v;
}

describe('limits', () => {
  it('finds the first container past the limit, with its path, at any depth without recursing', () => {
    expect(tooDeepAt({ a: nested(63) })).toBeUndefined();
    expect(tooDeepAt({ a: nested(64) })).toEqual(['a', ...Array.from({ length: 63 }, () => '0')]);
    expect(tooDeepAt({ ok: [1, { b: 2 }], z: { y: nested(100_000) } })?.slice(0, 3)).toEqual(['z', 'y', '0']);
    expect(tooDeepAt(nested(10), 64, 54, ['k'])).toBeUndefined();
    expect(tooDeepAt(nested(10), 64, 55)).toHaveLength(9);
    expect(tooDeepAt('scalar', 0)).toBeUndefined();
    expect(showPath(['a', 'b'])).toBe('a.b');
    expect(showPath(Array.from({ length: 20 }, (_, i) => String(i)))).toBe('0.1.2.3.4.5.6.7.…');
    const frozen = deepFreeze({ d: nested(100_000) });
    expect(Object.isFrozen(frozen.d)).toBe(true);
  });

  it('measures JSON text by its brackets outside strings; text that is not JSON is not bounded', () => {
    const text = (n: number): string => '['.repeat(n) + ']'.repeat(n);
    expect(jsonTextTooDeep(text(64))).toBe(false);
    expect(jsonTextTooDeep(text(65))).toBe(true);
    expect(jsonTextTooDeep(text(100_000))).toBe(true);
    expect(jsonTextTooDeep(JSON.stringify({ s: '['.repeat(500) + '"\\' }))).toBe(false);
    expect(jsonTextTooDeep('['.repeat(100))).toBe(false);
    expect(jsonTextTooDeep(`{"a":${'{"a":'.repeat(64)}1${'}'.repeat(64)}}`)).toBe(true);
  });
});
