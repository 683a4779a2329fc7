/**
 * Conflict policies per path: a merge takes one {@link ConflictPolicy} for everything, or
 * {@link ConflictRules} whose first matching glob decides each conflicting path.
 */
import picomatch from 'picomatch';
import { CONFLICT_POLICIES, type ConflictPolicy } from '../plan/types.js';

/**
 * Per-path conflict policies: for a conflicting path (relative, `/`-separated, as written
 * into the target) the first entry of `paths` whose picomatch glob matches it decides;
 * paths no glob matches take `default`. Globs match with `dot: true`, and `*` does not
 * cross `/`: `*.md` matches top-level files only, `docs/**` everything under docs/.
 */
export interface ConflictRules {
  default: ConflictPolicy;
  paths: Array<{ glob: string; policy: ConflictPolicy }>;
}

/** A compiled policy choice: relative path → the policy its conflicts follow. */
export interface PolicyOf {
  (rel: string): ConflictPolicy;
  /** Every policy the rules can give (to skip work no path can need). */
  readonly policies: ReadonlySet<ConflictPolicy>;
}

function checked(policy: unknown, where: string): ConflictPolicy {
  if (typeof policy === 'string' && (CONFLICT_POLICIES as readonly string[]).includes(policy)) return policy as ConflictPolicy;
  throw new Error(`unknown conflict policy ${JSON.stringify(policy)} ${where}; use one of ${CONFLICT_POLICIES.join(', ')}`);
}

/** Compiles a policy or rules into a {@link PolicyOf}; throws on an unknown policy or an empty glob. */
export function compilePolicy(policy: ConflictPolicy | ConflictRules): PolicyOf {
  if (typeof policy === 'string') {
    const only = checked(policy, 'for the merge');
    return Object.assign(() => only, { policies: new Set([only]) });
  }
  const fallback = checked(policy.default, 'as the default');
  const rules = policy.paths.map((r, i) => {
    if (typeof r.glob !== 'string' || r.glob.trim() === '') throw new Error(`conflict rule ${i + 1} has an empty glob`);
    return { match: picomatch(r.glob, { dot: true }), policy: checked(r.policy, `for "${r.glob}"`) };
  });
  const choose = (rel: string): ConflictPolicy => rules.find((r) => r.match(rel))?.policy ?? fallback;
  return Object.assign(choose, { policies: new Set([fallback, ...rules.map((r) => r.policy)]) });
}
