/**
 * Checks of convergence points' `approve:` that need the expanded plan: the quorum must be
 * reachable by the voters (a group id in `voters` stands for its members).
 */
import { parseQuorum, quorumNeeded } from '../consensus/tally.js';
import type { Diagnostic } from './diagnostics.js';
import type { Locator } from './locate.js';
import type { Plan } from './types.js';

export function approvalChecks(plan: Plan, loc: Locator): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [i, p] of plan.points.entries()) {
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
