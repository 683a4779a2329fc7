/**
 * Dotted paths into a JSON document (`a.b.0.c`), changed copy-on-write: every function
 * returns a new document sharing the untouched parts and never mutates its input.
 *
 * Keys come from users, so `__proto__`, `constructor` and `prototype` are ordinary keys here:
 * properties are read with Object.hasOwn and written with Object.defineProperty, which never
 * runs the `__proto__` setter. No path or merge reaches Object.prototype.
 *
 * Recursion: the functions that recurse are bounded by what the state's limits bound
 * (src/util/limits.ts) — updateAt by the key's segments (parseKey allows MAX_DEPTH), deepMerge
 * by the patch, deepEqual by the shallower of its two values, cloneJson (JSON.stringify) by
 * its value, which callers check first. getAt and deepFreeze walk without recursing: they
 * also run on documents an older coord stored deeper than the limit.
 */
import { MAX_DEPTH } from '../util/limits.js';
import { CoordError, type ErrorCode } from '../core/errors.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A key or a path that does not fit the document (code `refused`; a bad key is `invalid`). */
export class PathError extends CoordError {
  constructor(message: string, code: ErrorCode = 'refused') {
    super(code, message);
    this.name = 'PathError';
  }
}

/**
 * A document, value or key over the state's limits (src/util/limits.ts): nothing was changed.
 * Code `invalid` when what was given is over them; `stored-invalid` when the stored state
 * already was (an older coord stored it), and the change would not bring it back within them.
 */
export class StateLimitError extends PathError {
  constructor(message: string, code: 'invalid' | 'stored-invalid' = 'invalid') {
    super(message, code);
    this.name = 'StateLimitError';
  }
}

const INDEX = /^(0|[1-9]\d*)$/;

/** The segments of a dotted key; an error names the key when a segment is empty. */
export function parseKey(key: string): string[] {
  if (key === '') throw new PathError('a key cannot be empty (leave KEY out for the whole document)');
  const parts = key.split('.');
  if (parts.some((p) => p === '')) throw new PathError(`bad key "${key}": empty segment (keys are dotted paths like a.b.c)`);
  // a longer key names a place deeper than any document may nest, and updateAt recurses per segment
  if (parts.length > MAX_DEPTH) {
    const shown = key.length > 40 ? `${key.slice(0, 40)}…` : key;
    throw new StateLimitError(`bad key "${shown}": ${parts.length} segments (a key has at most ${MAX_DEPTH}, the levels the state may nest)`);
  }
  return parts;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function own(obj: object, key: string): unknown {
  return Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
}

function put(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A shallow copy keeping own enumerable keys, `__proto__` included. */
function copyObject(obj: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const k of Object.keys(obj)) put(out, k, obj[k]);
  return out;
}

/** The value at `path`, or undefined when any segment is missing. */
export function getAt(doc: unknown, path: readonly string[]): Json | undefined {
  let cur: unknown = doc;
  for (const seg of path) {
    if (Array.isArray(cur)) {
      if (!INDEX.test(seg)) return undefined;
      cur = cur[Number(seg)];
    } else if (isObject(cur)) {
      cur = own(cur, seg);
    } else {
      return undefined;
    }
    if (cur === undefined) return undefined;
  }
  return cur as Json;
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * A copy of `doc` where the value at `path` is `fn(old)`; `fn` returning undefined removes it.
 * Missing objects on the way are created; a scalar on the way is an error naming it.
 */
export function updateAt(doc: Json, path: readonly string[], fn: (old: Json | undefined) => Json | undefined, at = 0): Json | undefined {
  if (at === path.length) return fn(doc);
  const seg = path[at]!;
  const where = path.slice(0, at).join('.') || 'the document';
  if (Array.isArray(doc)) {
    if (!INDEX.test(seg)) throw new PathError(`${where} is an array: "${seg}" is not an index`);
    const i = Number(seg);
    if (i > doc.length) throw new PathError(`${where} has ${doc.length} items: index ${i} would leave a hole`);
    const child = i < doc.length ? doc[i] : undefined;
    const next = descend(child, path, fn, at);
    if (next === child) return doc;
    const out = doc.slice();
    if (next === undefined) out.splice(i, 1);
    else out[i] = next;
    return out;
  }
  if (!isObject(doc)) throw new PathError(`${where} is ${describe(doc)}, not an object: cannot reach ${path.join('.')}`);
  const child = own(doc, seg) as Json | undefined;
  const next = descend(child, path, fn, at);
  if (next === child) return doc;
  const out = copyObject(doc);
  if (next === undefined) delete out[seg];
  else put(out, seg, next);
  return out;
}

/** The new value of the child at `path[at]`; a missing child on the way starts as an empty object. */
function descend(child: Json | undefined, path: readonly string[], fn: (old: Json | undefined) => Json | undefined, at: number): Json | undefined {
  if (child !== undefined || at + 1 === path.length) return updateAt(child as Json, path, fn, at + 1);
  const fresh: JsonObject = {};
  const next = updateAt(fresh, path, fn, at + 1);
  return next === fresh ? undefined : next;
}

/** `target` with `patch` merged in: objects merge key by key, everything else replaces. */
export function deepMerge(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch) || !isObject(target)) return patch;
  const out = copyObject(target);
  for (const k of Object.keys(patch)) put(out, k, deepMerge(own(target, k) as Json | undefined, patch[k]!));
  return out;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * Dotted paths where `a` and `b` differ, down to `depth` levels: objects are compared key by
 * key, anything else (arrays included) as a whole.
 */
function diff(a: unknown, b: unknown, prefix: string, depth: number, out: string[]): void {
  if (a === b) return;
  if (depth > 0 && isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) diff(own(a, k), own(b, k), prefix ? `${prefix}.${k}` : k, depth - 1, out);
    return;
  }
  if (!deepEqual(a, b)) out.push(prefix);
}

const MAX_KEYS = 64;

/** The keys a change touched, as dotted paths; coarser (shallower) when there are many. */
export function changedKeys(a: unknown, b: unknown): string[] {
  for (let depth = 8; depth >= 1; depth--) {
    const out: string[] = [];
    diff(a, b, '', depth, out);
    if (out.length <= MAX_KEYS || depth === 1) return out.slice(0, MAX_KEYS).sort();
  }
  return [];
}

/** True when a change of `changed` touches what `key` names (one is a prefix path of the other). */
export function touches(changed: readonly string[], key: string | undefined): boolean {
  if (key === undefined) return changed.length > 0;
  return changed.some((k) => k === key || k.startsWith(`${key}.`) || key.startsWith(`${k}.`) || k === '');
}

/** Freezes a JSON value and everything in it; its own stack, not recursion, so any depth freezes. */
export function deepFreeze<T>(v: T): T {
  const todo: unknown[] = [v];
  while (todo.length > 0) {
    const x = todo.pop();
    if (typeof x !== 'object' || x === null || Object.isFrozen(x)) continue;
    Object.freeze(x);
    for (const k of Object.keys(x)) todo.push((x as Record<string, unknown>)[k]);
  }
  return v;
}

/** A deep copy through JSON (what the store keeps is exactly what JSON can say); only for values within the depth limit. */
export function cloneJson<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Parses user JSON; the error says where it broke and how a plain string is written. */
export function parseJson(text: string, what: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    const hint = /^[A-Za-z]/.test(text.trim()) ? ` (a string needs JSON quotes: '"${text.trim()}"')` : '';
    throw new PathError(`${what} is not valid JSON: ${(e as Error).message}${hint}`);
  }
}
