/**
 * `gather: vote`: the replicas of a stream each produce a result (the digest of their
 * outputs, src/merge/digest.ts) and the result a majority of them agree on wins. The
 * tally follows the consensus rules (src/consensus/tally.ts, quorum `majority` of all N
 * replicas): the group is decided as soon as one result has floor(N/2)+1 replicas behind it
 * (won; the replicas still running are stopped) or as soon as no result can reach that any
 * more (lost). A failed replica counts against every result. The decision is recorded as the
 * proposal `<group id>` (kind `gather`): each replica that finished votes yes when its result
 * is the winning one, no otherwise.
 *
 * Won: the group's points merge the first replica (in completion order) with the winning
 * result, dependents start and find it at `$COORD_INPUTS/<group id>/`, and replicas that failed
 * or disagreed do not fail the run. Lost: the group's points fail (reason `no-majority`) and
 * its dependents are skipped.
 */
import type { StreamGroup } from '../plan/types.js';
import type { ConsensusBoard } from '../consensus/board.js';
import type { MergeSource } from '../merge/merge.js';
import { resultDigest } from '../merge/digest.js';

/** Undecided; a result won a majority; no result can. */
export type VoteGroupState = 'pending' | 'won' | 'lost';

/** One `gather: vote` group at run time. */
export interface VoteGroup {
  id: string;
  members: string[];
  state: VoteGroupState;
  /** The replica whose result won. */
  winner?: string;
  /** Each finished replica's result digest (null: it did not succeed), in completion order. */
  results: Map<string, string | null>;
  /** Replicas that succeeded and whose outputs are being digested. */
  digesting: number;
}

/** What vote groups need of the coordinator. */
export interface VoteGroupHost {
  board: ConsensusBoard;
  sourceOf(id: string): MergeSource;
  /** The group is decided: stop its running replicas, tell its points, move dependents along. */
  decided(group: VoteGroup): void;
  /** A replica's outputs could not be read. */
  warn(stream: string, message: string): void;
}

/** The run's `gather: vote` groups, by member. */
export class VoteGroups {
  private readonly byMember = new Map<string, VoteGroup>();
  private readonly groups: VoteGroup[] = [];
  private readonly host: VoteGroupHost;

  constructor(groups: Iterable<StreamGroup>, host: VoteGroupHost) {
    this.host = host;
    for (const g of groups) {
      if (g.gather !== 'vote') continue;
      const group: VoteGroup = { id: g.id, members: [...g.members], state: 'pending', results: new Map(), digesting: 0 };
      this.groups.push(group);
      for (const m of g.members) this.byMember.set(m, group);
    }
  }

  /** The vote group `id` belongs to, if any. */
  of(id: string): VoteGroup | undefined {
    return this.byMember.get(id);
  }

  get size(): number {
    return this.groups.length;
  }

  /** Every group's proposal, prepared when the run starts (so `coord decision <group>` answers `pending`). */
  prepare(): void {
    for (const g of this.groups) this.host.board.prepare(g.id, 'gather', g.members, 'majority');
  }

  /** Streams that count as succeeded for the run's verdict: every replica of a group that won. */
  settledOk(id: string): boolean {
    return this.byMember.get(id)?.state === 'won';
  }

  /** Groups that did not (or not yet) agree on a result. */
  unsettled(): VoteGroup[] {
    return this.groups.filter((g) => g.state !== 'won');
  }

  /** A replica reached a terminal state. */
  memberEnded(id: string, succeeded: boolean): void {
    const g = this.byMember.get(id);
    if (g?.state !== 'pending' || g.results.has(id)) return;
    if (!succeeded) {
      g.results.set(id, null);
      this.evaluate(g);
      return;
    }
    g.digesting += 1;
    resultDigest(this.host.sourceOf(id))
      .catch((e: unknown) => {
        this.host.warn(id, `its outputs could not be read for the vote: ${e instanceof Error ? e.message : String(e)}`);
        return null;
      })
      .then((digest) => {
        g.digesting -= 1;
        if (g.state !== 'pending') return;
        g.results.set(id, digest);
        this.evaluate(g);
      })
      .catch(() => undefined);
  }

  private evaluate(g: VoteGroup): void {
    const needed = Math.floor(g.members.length / 2) + 1;
    const counts = new Map<string, { n: number; first: string }>();
    for (const [member, digest] of g.results) {
      if (digest === null) continue;
      const c = counts.get(digest);
      if (c) c.n += 1;
      else counts.set(digest, { n: 1, first: member });
    }
    // The leading result (ties: the one that finished first — Map order is completion order).
    let best: { digest: string; n: number; first: string } | undefined;
    for (const [digest, c] of counts) if (!best || c.n > best.n) best = { digest, ...c };
    const outstanding = g.members.length - g.results.size;
    if (best && best.n >= needed) {
      g.state = 'won';
      g.winner = best.first;
    } else if ((best?.n ?? 0) + outstanding < needed) {
      g.state = 'lost';
    } else return;
    this.record(g, best?.digest);
    this.host.decided(g);
  }

  private record(g: VoteGroup, digest: string | undefined): void {
    for (const [member, d] of g.results) {
      const reason = d === null ? 'did not succeed' : d === digest ? `result ${d.slice(0, 12)}` : `different result ${d.slice(0, 12)}`;
      this.host.board.vote(g.id, member, d !== null && d === digest ? 'yes' : 'no', reason);
    }
    void this.host.board.openPrepared(g.id, { group: g.id, result: digest ?? null, winner: g.winner ?? null, replicas: g.members });
  }
}
