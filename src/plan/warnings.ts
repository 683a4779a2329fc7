/**
 * Warnings about a valid plan: things that are allowed but likely to fail at run time. For
 * now: two streams of one convergence point whose declared `outputs` may overlap while a
 * conflict there fails the point (`on_conflict: fail`).
 */
import picomatch from 'picomatch';
import type { Diagnostic } from './diagnostics.js';
import type { Plan, PointSpec } from './types.js';

/** The warnings of `plan`, as diagnostics at the point they concern. */
export function planWarnings(plan: Plan): Diagnostic[] {
  const out: Diagnostic[] = [];
  const byId = new Map(plan.streams.map((s) => [s.id, s]));
  for (const p of plan.points) {
    if (!failsOnConflict(p)) continue;
    const streams = p.streams.map((id) => byId.get(id)).filter((s) => s !== undefined && s.outputs.length > 0);
    for (let i = 0; i < streams.length; i++) {
      for (let j = i + 1; j < streams.length; j++) {
        const a = streams[i];
        const b = streams[j];
        if (!a || !b || (a.group !== undefined && a.group === b.group)) continue;
        const pair = a.outputs.flatMap((ga) => b.outputs.filter((gb) => globsMayOverlap(ga, gb)).map((gb) => `${ga} ~ ${gb}`));
        if (pair.length === 0) continue;
        out.push({
          file: plan.file,
          line: p.pos?.line ?? 1,
          col: p.pos?.col ?? 1,
          message: `warning: convergence point "${p.name}": outputs of "${a.id}" and "${b.id}" may overlap (${pair.join(', ')}) and on_conflict is fail`,
        });
      }
    }
  }
  return out;
}

function failsOnConflict(p: PointSpec): boolean {
  if (p.conflictRules) return p.conflictRules.default === 'fail' || p.conflictRules.paths.some((r) => r.policy === 'fail');
  return p.onConflict === 'fail';
}

/**
 * Whether some path may match both globs. A pattern names a directory's whole subtree too
 * (`notes` is `notes/**`), so two patterns may overlap when the static part of one is the
 * other's or lies inside it: `notes/**` and `notes/a.md` may, `src/**` and `docs/**` cannot.
 */
export function globsMayOverlap(a: string, b: string): boolean {
  const ba = staticBase(a);
  const bb = staticBase(b);
  if (!within(ba, bb) && !within(bb, ba)) return false;
  const sa = picomatch.scan(a);
  const sb = picomatch.scan(b);
  // Two plain paths overlap only when one is the other or contains it.
  if (!sa.isGlob && !sb.isGlob) return true;
  // A plain path against a glob: does the glob match it (or something under it)?
  if (!sa.isGlob) return picomatch(b, { dot: true })(ba) || within(bb, ba);
  if (!sb.isGlob) return picomatch(a, { dot: true })(bb) || within(ba, bb);
  return true;
}

function staticBase(glob: string): string {
  const s = picomatch.scan(glob.replace(/^\.\//, ''));
  return (s.isGlob ? s.base : glob.replace(/^\.\//, '')).replace(/\/+$/, '');
}

/** True when `inner` is `outer` or a path below it ('' contains everything). */
function within(inner: string, outer: string): boolean {
  return outer === '' || inner === outer || inner.startsWith(outer + '/');
}
