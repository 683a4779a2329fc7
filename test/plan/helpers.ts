/** Shared helpers of the plan tests. */
import { expect } from '@jest/globals';
import type { Diagnostic } from '../../src/plan/diagnostics.js';
import { parsePlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/types.js';

/** Parses `text` (as /work/p/plan.yaml) and expects it to be valid. */
export function valid(text: string): Plan {
  const r = parsePlan(text, 'plan.yaml', { cwd: '/work/p' });
  if (!r.ok) throw new Error(`expected a valid plan, got:\n${r.error.map((d) => `${d.line}:${d.col}: ${d.message}`).join('\n')}`);
  return r.value;
}

/** Parses `text` and expects it to be invalid; returns the diagnostics. */
export function invalid(text: string): Diagnostic[] {
  const r = parsePlan(text, 'plan.yaml', { cwd: '/work/p' });
  expect(r.ok).toBe(false);
  return r.ok ? [] : r.error;
}

/** The diagnostics of an invalid plan as `LINE:COL: message` strings. */
export function errorsOf(text: string): string[] {
  return invalid(text).map((d) => `${d.line}:${d.col}: ${d.message}`);
}

/** Joins lines into a YAML text (keeps the tests' indentation readable). */
export const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
