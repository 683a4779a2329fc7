/**
 * Checks of convergence points that need the expanded plan: the quorum of `approve:` must be
 * reachable by the voters (a group id in `voters` stands for its members); `resolve:` needs a
 * point that merges all its streams at once (its type as the plan's defaults make it).
 */
import { parseQuorum, quorumNeeded } from '../consensus/tally.js';
import type { Diagnostic } from './diagnostics.js';
import type { Locator } from './locate.js';
import type { Plan } from './types.js';

export function approvalChecks(plan: Plan, loc: Locator): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [i, p] of plan.points.entries()) {
    if (p.resolve && p.type === 'progressive') {
      const at = loc.at(['agent_coordination', 'convergence_points', i, 'resolve']);
      out.push(
        loc.diag(
          at,
          `convergence_points[${i}].resolve: point "${p.name}" is progressive (it merges one stream at a time); resolve runs on the conflicts of a whole merge: make it a barrier or checkpoint point`,
        ),
      );
    }
    const onBranches = p.streams.length > 0 && p.streams.every((id) => plan.streams.find((s) => s.id === id)?.isolation === 'worktree');
    if (p.resolve && onBranches) {
      const at = loc.at(['agent_coordination', 'convergence_points', i, 'resolve']);
      out.push(
        loc.diag(
          at,
          `convergence_points[${i}].resolve: point "${p.name}" merges git worktree branches, whose conflicts git reports; resolve runs on a file merge's conflicts`,
        ),
      );
    }
    if (!p.approve) continue;
    const path = ['agent_coordination', 'convergence_points', i, 'approve'];
    const fail = (field: string, message: string) => out.push(loc.diag(loc.at([...path, field]), `convergence_points[${i}].approve.${field}: ${message}`));
    const q = parseQuorum(p.approve.quorum);
    if (!q.ok) {
      fail('quorum', q.error);
      continue;
    }
    if (p.approve.voters.length === 0) {
      fail('voters', `point "${p.name}" has no streams to vote; list voters`);
      continue;
    }
    const needed = quorumNeeded(q.value, p.approve.voters.length);
    if (!needed.ok) fail('quorum', `${needed.error} (${p.approve.voters.join(', ')})`);
  }
  return out;
}
