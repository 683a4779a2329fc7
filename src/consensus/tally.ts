/**
 * Quorum arithmetic of proposals, pure and deterministic: how many yes-votes a quorum needs
 * among N voters, and what a set of votes decides.
 *
 *   majority  more than half: floor(N/2) + 1
 *   all       every voter: N
 *   K         K yes-votes (1 <= K <= N)
 *   P%        ceil(P% of N) yes-votes, at least 1 (0 < P <= 100)
 *
 * A proposal is accepted as soon as its yes-votes reach the quorum, and rejected as soon as
 * they no longer can (yes-votes plus the voters who have not voted are fewer than needed).
 */
import { err, ok, unreachable, type Result } from '../util/result.js';
import type { ProposalState, VoteValue } from '../backend/records.js';

/** A parsed quorum (see {@link parseQuorum}). */
export type Quorum = { kind: 'majority' } | { kind: 'all' } | { kind: 'count'; n: number } | { kind: 'percent'; p: number };

/** A vote, and where a proposal is (pending until decided; a decision is final): stored with proposals (src/backend/records.ts). */
export type { ProposalState, VoteValue } from '../backend/records.js';

/** What a quorum looks like when written: `majority`, `all`, `3`, `60%`. */
export const QUORUM_PATTERN = /^(?:majority|all|[1-9]\d*|\d+(?:\.\d+)?%)$/;

/** Reads a quorum as a flag or plan field writes it (`majority`, `all`, `K`, `P%`, or a number K). */
export function parseQuorum(value: string | number): Result<Quorum, string> {
  const text = String(value).trim();
  if (text === 'majority') return ok({ kind: 'majority' });
  if (text === 'all') return ok({ kind: 'all' });
  if (/^[1-9]\d*$/.test(text)) return ok({ kind: 'count', n: Number(text) });
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (pct) {
    const p = Number(pct[1]);
    if (p > 0 && p <= 100) return ok({ kind: 'percent', p });
    return err(`bad quorum "${text}": a percentage must be more than 0% and at most 100%`);
  }
  return err(`bad quorum "${text}": use majority, all, a number of yes-votes (2) or a percentage (60%)`);
}

/** The written form of a quorum (`majority`, `all`, `3`, `60%`). */
export function formatQuorum(q: Quorum): string {
  switch (q.kind) {
    case 'majority':
    case 'all':
      return q.kind;
    case 'count':
      return String(q.n);
    case 'percent':
      return `${q.p}%`;
    default:
      return unreachable(q);
  }
}

/** The yes-votes `q` needs among `voters` voters; an error when it asks for more than there are. */
export function quorumNeeded(q: Quorum, voters: number): Result<number, string> {
  if (voters < 1) return err('a proposal needs at least one voter');
  switch (q.kind) {
    case 'majority':
      return ok(Math.floor(voters / 2) + 1);
    case 'all':
      return ok(voters);
    case 'count':
      return q.n <= voters ? ok(q.n) : err(`quorum ${q.n} is more than the ${voters} voter${voters === 1 ? '' : 's'}`);
    case 'percent':
      return ok(Math.max(1, Math.ceil((q.p / 100) * voters - 1e-9)));
    default:
      return unreachable(q);
  }
}

/** What {@link tally} counted and decided. */
export interface TallyResult {
  yes: number;
  no: number;
  /** Voters who have not voted. */
  outstanding: number;
  state: ProposalState;
}

/** Counts the first vote of each voter in `voters`; others are ignored. */
export function tally(voters: readonly string[], needed: number, votes: ReadonlyArray<{ voter: string; vote: VoteValue }>): TallyResult {
  const eligible = new Set(voters);
  const seen = new Set<string>();
  let yes = 0;
  let no = 0;
  for (const v of votes) {
    if (!eligible.has(v.voter) || seen.has(v.voter)) continue;
    seen.add(v.voter);
    if (v.vote === 'yes') yes++;
    else no++;
  }
  const outstanding = eligible.size - seen.size;
  const state: ProposalState = yes >= needed ? 'accepted' : yes + outstanding < needed ? 'rejected' : 'pending';
  return { yes, no, outstanding, state };
}
