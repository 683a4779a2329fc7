/**
 * Reading a plan: YAML → checks → the normalized {@link Plan}, or every problem found as
 * positioned diagnostics (YAML syntax, duplicate and forbidden keys, alias bombs, schema,
 * semantic and graph errors together). Never throws.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isAlias, isMap, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { typeName } from '../util/duration.js';
import { err, ok, type Result } from '../util/result.js';
import { sortDiagnostics, type Diagnostic } from './diagnostics.js';
import { issuesToDiagnostics, planErrorMap } from './issues.js';
import { keyString, Locator } from './locate.js';
import { normalizePlan } from './normalize.js';
import { expandGroups } from './expand.js';
import { approvalChecks } from './approvals.js';
import { fieldsAt, planSchema, type PlanDocument } from './schema.js';
import { semanticChecks } from './semantic.js';
import type { Plan } from './types.js';

/** Mapping keys refused anywhere in a plan (prototype pollution). */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
/** Plans larger than this are refused unread. */
export const MAX_PLAN_BYTES = 4 * 1024 * 1024;
/** Alias expansion budget handed to `yaml` (defeats "billion laughs"). */
const MAX_ALIAS_COUNT = 100;

/**
 * Parses and checks the plan `text` read from `file` (relative paths resolve against
 * `opts.cwd`, default the process's directory). Returns the normalized plan, or every
 * diagnostic found, sorted by position.
 */
export function parsePlan(text: string, file: string, opts?: { cwd?: string }): Result<Plan, Diagnostic[]> {
  const shown = typeof file === 'string' ? file : String(file);
  try {
    return parseUnchecked(text, shown, opts?.cwd ?? process.cwd());
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return err([{ file: shown, line: 1, col: 1, message: `internal error while checking the plan: ${why}` }]);
  }
}

/** Reads `file` and {@link parsePlan}s it; an unreadable file is one diagnostic at 1:1. */
export async function loadPlanFile(file: string): Promise<Result<Plan, Diagnostic[]>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : e instanceof Error
              ? e.message
              : String(e);
    return err([{ file: String(file), line: 1, col: 1, message: `cannot read the plan file: ${why}` }]);
  }
  return parsePlan(text, file);
}

function parseUnchecked(text: string, file: string, cwd: string): Result<Plan, Diagnostic[]> {
  const at1 = (message: string): Result<Plan, Diagnostic[]> => err([{ file, line: 1, col: 1, message }]);
  if (typeof text !== 'string') return at1(`the plan must be text, got ${typeName(text)}`);
  if (text.length > MAX_PLAN_BYTES) return at1(`the plan is too large (${text.length} characters; at most ${MAX_PLAN_BYTES})`);
  const absFile = file === '' ? '' : resolve(cwd, file);
  const dir = absFile === '' ? resolve(cwd) : dirname(absFile);

  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, uniqueKeys: true, prettyErrors: false, logLevel: 'error' });
  const loc = new Locator(doc, counter, text, file);
  const diags: Diagnostic[] = [];

  let fatal = false;
  for (const e of doc.errors) {
    const pos = loc.posOf(e.pos[0]);
    if (e.code === 'DUPLICATE_KEY') diags.push(loc.diag(pos, duplicateKeyMessage(doc, loc, e.pos[0])));
    else {
      fatal = true;
      diags.push(loc.diag(pos, `YAML syntax error: ${e.message.split('\n')[0] ?? e.message}`));
    }
  }
  if (fatal) return err(finish(diags));

  // Refuse prototype-polluting keys before anything builds objects from the document.
  const forbidden = new Set<string>();
  visit(doc, {
    Pair(_, pair) {
      const k = keyString(pair.key, doc);
      if (k === undefined || !FORBIDDEN_KEYS.has(k)) return undefined;
      forbidden.add(k);
      diags.push(loc.diag(loc.nodePos(pair.key), `key ${JSON.stringify(k)} is not allowed`));
      return visit.REMOVE;
    },
  });

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    diags.push(aliasDiagnostic(doc, loc, e));
    return err(finish(diags));
  }

  if (data === null || data === undefined) {
    const pos = loc.nodePos(doc.contents);
    diags.push(loc.diag(pos, 'plan: the plan is empty; it needs at least a "streams" list'));
    return err(finish(diags));
  }
  const parsed = planSchema.safeParse(data, { error: planErrorMap });
  if (!parsed.success) {
    diags.push(...issuesToDiagnostics(parsed.error.issues, data, loc, fieldsAt, forbidden));
  }
  diags.push(...semanticChecks(data, loc, dir));
  if (diags.length > 0) return err(finish(diags));
  // Valid but for ignored `x-` keys: the raw document is exactly what the schema describes.
  const plan = normalizePlan(data as PlanDocument, { file: absFile, dir, text }, loc);
  const expansion = expandGroups(plan, data as PlanDocument, loc);
  if (expansion.length > 0) return err(finish(expansion));
  const approvals = approvalChecks(plan, loc);
  if (approvals.length > 0) return err(finish(approvals));
  return ok(plan);
}

/** Sorted, without repeats. */
function finish(diags: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return sortDiagnostics(diags).filter((d) => {
    const k = `${d.line}:${d.col}:${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function duplicateKeyMessage(doc: Document, loc: Locator, offset: number): string {
  let message = 'duplicate key';
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return undefined;
      const first = new Map<string, unknown>();
      for (const pair of map.items) {
        const k = keyString(pair.key, doc);
        if (k === undefined) continue;
        const range = (pair.key as { range?: number[] } | null)?.range;
        const earlier = first.get(k);
        if (earlier !== undefined && range?.[0] === offset) {
          const p = loc.nodePos(earlier);
          message = `duplicate key ${JSON.stringify(k)} (first defined at ${p.line}:${p.col})`;
          return visit.BREAK;
        }
        if (earlier === undefined) first.set(k, pair.key);
      }
      return undefined;
    },
  });
  return message;
}

function aliasDiagnostic(doc: Document, loc: Locator, e: unknown): Diagnostic {
  const why = e instanceof Error ? e.message : String(e);
  let first: unknown;
  let unresolved: { node: unknown; source: string } | undefined;
  visit(doc, {
    Alias(_, node) {
      first ??= node;
      if (!unresolved && isAlias(node) && node.resolve(doc) === undefined) unresolved = { node, source: node.source };
      return undefined;
    },
  });
  if (/excessive alias count/i.test(why)) {
    return loc.diag(loc.nodePos(first), `too many aliases: expanding them exceeds the limit of ${MAX_ALIAS_COUNT} (possible alias bomb)`);
  }
  if (unresolved) {
    return loc.diag(loc.nodePos(unresolved.node), `unknown alias "*${unresolved.source}": its anchor must be defined before it`);
  }
  return loc.diag(loc.nodePos(first), `cannot read the plan: ${why}`);
}
