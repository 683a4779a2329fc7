import { describe, expect, it } from '@jest/globals';
import { changedKeys, deepMerge, getAt, parseJson, parseKey, PathError, touches, updateAt, type Json } from '../../src/state/paths.js';

const set = (doc: Json, key: string, v: Json | undefined) => updateAt(doc, parseKey(key), () => v);

describe('dotted paths', () => {
  it('reads objects and array indexes; missing is undefined', () => {
    const doc = { a: { b: [10, { c: 'x' }] } };
    expect(getAt(doc, parseKey('a.b.1.c'))).toBe('x');
    expect(getAt(doc, parseKey('a.b.0'))).toBe(10);
    expect(getAt(doc, parseKey('a.b.9'))).toBeUndefined();
    expect(getAt(doc, parseKey('a.b.x'))).toBeUndefined();
    expect(getAt(doc, parseKey('a.z.q'))).toBeUndefined();
    expect(getAt(doc, [])).toBe(doc);
  });

  it('rejects empty segments', () => {
    expect(() => parseKey('a..b')).toThrow(PathError);
    expect(() => parseKey('')).toThrow(/cannot be empty/);
  });

  it('sets copy-on-write: the input is untouched and untouched parts are shared', () => {
    const doc = { a: { b: 1 }, keep: { deep: true } };
    const next = set(doc, 'a.c.d', 2) as Record<string, unknown>;
    expect(next).toEqual({ a: { b: 1, c: { d: 2 } }, keep: { deep: true } });
    expect(doc).toEqual({ a: { b: 1 }, keep: { deep: true } });
    expect(next.keep).toBe(doc.keep);
  });

  it('sets and removes array items, refusing holes and non-index keys', () => {
    expect(set({ l: [1, 2] }, 'l.2', 3)).toEqual({ l: [1, 2, 3] });
    expect(set({ l: [1, 2] }, 'l.0', undefined)).toEqual({ l: [2] });
    expect(() => set({ l: [1] }, 'l.5', 1)).toThrow(/hole/);
    expect(() => set({ l: [1] }, 'l.x', 1)).toThrow(/not an index/);
  });

  it('names the scalar in the way', () => {
    expect(() => set({ a: 5 }, 'a.b', 1)).toThrow('a is a number, not an object: cannot reach a.b');
  });

  it('deleting a missing path changes nothing and creates nothing', () => {
    const doc = { a: 1 };
    expect(set(doc, 'x.y.z', undefined)).toBe(doc);
  });

  it('deep-merges objects, replacing arrays and scalars', () => {
    expect(deepMerge({ a: { b: 1, l: [1] }, s: 1 }, { a: { c: 2, l: [2] }, s: { o: 1 } })).toEqual({ a: { b: 1, c: 2, l: [2] }, s: { o: 1 } });
  });

  it('__proto__, constructor and prototype are plain keys: Object.prototype stays clean', () => {
    const hostile = parseJson('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted2":1}}}', 'x') as Json;
    const merged = deepMerge({}, hostile) as Record<string, unknown>;
    const viaSet = set({}, '__proto__.polluted', 1) as Record<string, unknown>;
    const viaPath = set({}, 'constructor.prototype.polluted3', 1) as Record<string, unknown>;
    const nested = deepMerge({ a: {} }, { a: hostile }) as Record<string, unknown>;
    for (const o of [merged, viaSet, viaPath, nested]) expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    const probe = {} as Record<string, unknown>;
    expect(probe.polluted).toBeUndefined();
    expect(probe.polluted2).toBeUndefined();
    expect(probe.polluted3).toBeUndefined();
    expect(Object.hasOwn(merged, '__proto__')).toBe(true);
    expect(JSON.parse(JSON.stringify(merged))).toEqual(hostile);
    expect(getAt(viaSet, ['__proto__', 'polluted'])).toBe(1);
    // reading through inherited properties finds nothing
    expect(getAt({}, ['constructor'])).toBeUndefined();
    expect(getAt({}, ['__proto__'])).toBeUndefined();
  });

  it('lists changed keys as dotted paths, coarser when there are many', () => {
    expect(changedKeys({ a: { b: 1, c: 2 }, d: 1 }, { a: { b: 1, c: 3 }, e: 1 })).toEqual(['a.c', 'd', 'e']);
    expect(changedKeys({}, { l: [1] })).toEqual(['l']);
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
    expect(changedKeys({ big: {} }, { big: many })).toEqual(['big']);
  });

  it('knows which keys a change touches', () => {
    expect(touches(['a.b'], 'a')).toBe(true);
    expect(touches(['a'], 'a.b')).toBe(true);
    expect(touches(['ab'], 'a')).toBe(false);
    expect(touches(['x'], undefined)).toBe(true);
  });

  it('explains bad JSON and hints at quotes', () => {
    expect(() => parseJson('hello', 'the value')).toThrow(/the value is not valid JSON: .*a string needs JSON quotes: '"hello"'/);
  });
});
