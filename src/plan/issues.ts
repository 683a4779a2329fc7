/**
 * zod issues of the plan schema → diagnostics at the offending YAML node, with messages that
 * start with the dotted path and say what was expected and what was found.
 */
import type { z } from 'zod';
import { typeName } from '../util/duration.js';
import type { Diagnostic } from './diagnostics.js';
import { formatPath, type Locator } from './locate.js';
import { EXTENSION_KEY } from './schema.js';
import { closest } from './suggest.js';

const EXPECTED: Record<string, string> = {
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  null: 'null',
};

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

function got(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (typeof input === 'number' || typeof input === 'boolean') return String(input);
  if (typeof input === 'string') return `the string ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`;
  return typeName(input);
}

/** The per-parse zod error map: plain-English messages for every issue a schema leaves generic. */
export function planErrorMap(iss: z.core.$ZodRawIssue): string | undefined {
  const input: unknown = iss.input;
  switch (iss.code) {
    case 'invalid_type': {
      const format = (iss.inst as { _zod?: { def?: { format?: unknown } } } | undefined)?._zod?.def?.format;
      const expected = typeof format === 'string' && /int/.test(format) ? 'int' : iss.expected;
      return `expected ${EXPECTED[expected] ?? expected}, got ${got(input)}`;
    }
    case 'invalid_value':
      if (iss.values.length === 1) return `must be ${show(iss.values[0])} (got ${show(input)})`;
      return `must be one of ${iss.values.map(String).join(', ')} (got ${typeof input === 'string' ? show(input) : got(input)})`;
    case 'too_small':
      if (iss.origin === 'array') return `must have at least ${String(iss.minimum)} item${iss.minimum === 1 ? '' : 's'}`;
      if (iss.origin === 'string') return 'must not be empty';
      return `must be ${iss.inclusive ? '>=' : '>'} ${String(iss.minimum)} (got ${show(input)})`;
    case 'too_big':
      return `must be ${iss.inclusive ? '<=' : '<'} ${String(iss.maximum)} (got ${show(input)})`;
    case 'invalid_format':
      return `${show(input)} is not valid here`;
    case 'invalid_union':
      return `unexpected ${typeName(input)}`;
    default:
      return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The raw value at `path`, and whether its last key is absent from its parent mapping. */
function lookup(data: unknown, path: readonly PropertyKey[]): { missing: boolean } {
  let cur: unknown = data;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (Array.isArray(cur) && typeof seg === 'number') cur = cur[seg];
    else if (isRecord(cur) && typeof seg === 'string') {
      if (!Object.hasOwn(cur, seg)) return { missing: i === path.length - 1 };
      cur = cur[seg];
    } else return { missing: false };
  }
  return { missing: false };
}

/**
 * Replaces a union issue by the issues of its one branch whose type matched the input (e.g. a
 * command list with a bad item), so the message names the real problem at its real place.
 */
function flatten(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((issue) => {
    if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [issue];
    const matched = issue.errors.filter((branch) => !branch.every((i) => i.path.length === 0 && i.code === 'invalid_type'));
    const only = matched[0];
    if (matched.length !== 1 || !only || only.length === 0) return [issue];
    return flatten(only.map((i) => ({ ...i, path: [...issue.path, ...i.path] }) as z.core.$ZodIssue));
  });
}

/** Field names a strict object at `path` accepts, for "did you mean" hints. */
export type KnownKeys = (path: readonly PropertyKey[]) => readonly string[];

/**
 * Converts zod issues into diagnostics. Unknown `x-…` keys and keys already reported as
 * forbidden (`skipKeys`) are dropped; a missing required field is reported at its mapping.
 */
export function issuesToDiagnostics(
  issues: readonly z.core.$ZodIssue[],
  data: unknown,
  loc: Locator,
  knownKeys: KnownKeys,
  skipKeys: ReadonlySet<string>,
): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const issue of flatten(issues)) {
    const path = issue.path;
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        if (EXTENSION_KEY.test(key) || skipKeys.has(key)) continue;
        const hint = closest(key, knownKeys(path));
        const msg = `${formatPath(path)}: unknown field ${JSON.stringify(key)}${hint ? ` (did you mean "${hint}"?)` : ''}`;
        out.push(loc.diag(loc.keyAt(path, key), msg));
      }
      continue;
    }
    if (issue.code === 'invalid_key') {
      const key = path[path.length - 1];
      const parent = path.slice(0, -1);
      const why = issue.issues[0]?.message ?? issue.message;
      out.push(loc.diag(loc.keyAt(parent, String(key)), `${formatPath(path)}: ${why}`));
      continue;
    }
    if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && lookup(data, path).missing) {
      const parent = path.slice(0, -1);
      const field = String(path[path.length - 1]);
      out.push(loc.diag(loc.at(parent), `${formatPath(parent)}: missing required field ${JSON.stringify(field)}`));
      continue;
    }
    out.push(loc.diag(loc.at(path), `${formatPath(path)}: ${issue.message}`));
  }
  return out;
}
