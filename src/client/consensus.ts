/**
 * The library face of `coord propose`, `coord vote` and `coord decision`: quorum votes among
 * a run's streams, kept by its coordinator (proposals live in `<run dir>/consensus/`).
 *
 *   const c = new Consensus();                      // the calling stream's run
 *   await c.propose('ship-it', { quorum: 'majority', voters: ['a', 'b', 'c'], timeoutMs: 60_000 });
 *   await c.vote('ship-it', 'yes', { reason: 'tests pass' });   // votes as COORD_STREAM_ID
 *   const { state } = await c.decision('ship-it', { waitMs: 60_000 }); // accepted | rejected | pending
 */
import type { ProposalRecord } from '../consensus/board.js';
import type { ProposalState } from '../consensus/tally.js';
import { callerStream, ControlClient, ControlError, findRun, type RunTarget } from './control-client.js';
import type { ControlRequest } from '../orchestrator/control.js';

export type { ProposalRecord } from '../consensus/board.js';

/** Options of {@link Consensus.propose}. */
export interface ProposeOptions {
  /** `majority` (default), `all`, a number of yes-votes, or a percentage such as `60%`. */
  quorum?: string | number;
  /** Default: the streams running when the proposal opens. */
  voters?: string[];
  /** Rejected when undecided this long after it opened. */
  timeoutMs?: number;
  /** Any JSON value: what is being decided on. */
  value?: unknown;
}

/** What `decision` returns: the state and the whole record (votes included). */
export interface Decision {
  state: ProposalState;
  proposal: ProposalRecord;
}

/** Proposals and votes of one run. */
export class Consensus {
  private readonly target: RunTarget;

  /** `target`: which run (default: the calling stream's, else the newest). */
  constructor(target: RunTarget = {}) {
    this.target = target;
  }

  /** Opens proposal `name`; a ControlError (`invalid`) when the name is taken or the quorum cannot be met. */
  async propose(name: string, opts: ProposeOptions = {}): Promise<ProposalRecord> {
    const reply = await this.ask((runId) => {
      const from = callerStream(this.target.env, runId);
      return {
        op: 'propose',
        name,
        quorum: String(opts.quorum ?? 'majority'),
        ...(opts.voters ? { voters: opts.voters } : {}),
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        ...(opts.value !== undefined ? { value: opts.value } : {}),
        ...(from ? { from } : {}),
      };
    });
    return reply.proposal;
  }

  /**
   * Votes on `name` as `opts.as`, else as the calling stream. One vote per voter: a second
   * vote, or a vote by someone who is not a voter, is a ControlError (`refused`). A vote
   * after the decision is recorded but not counted (`counted: false`).
   */
  async vote(name: string, vote: 'yes' | 'no', opts: { reason?: string; as?: string } = {}): Promise<{ proposal: ProposalRecord; counted: boolean }> {
    const reply = await this.ask((runId) => {
      const voter = opts.as ?? callerStream(this.target.env, runId);
      if (!voter) throw new ControlError('who votes? call it inside a stream of the run (COORD_STREAM_ID) or name the voter (--as NAME)', 'invalid');
      return { op: 'vote', name, voter, vote, ...(opts.reason !== undefined ? { reason: opts.reason } : {}) };
    });
    return { proposal: reply.proposal, counted: reply.counted ?? true };
  }

  /**
   * The decision on `name`: `accepted`, `rejected`, or `pending` when still undecided after
   * `waitMs` (default 0: at once). Read from the coordinator while the run runs, from
   * `consensus/<name>.json` after. A ControlError (`not-found`) when there is no such proposal.
   */
  async decision(name: string, opts: { waitMs?: number } = {}): Promise<Decision> {
    const { run } = await findRun(this.target);
    if (run.state === 'running' && run.controlSocket) {
      const client = await ControlClient.open({ ...this.target, run: run.id }).catch(() => undefined);
      if (client) {
        try {
          const reply = await client.request({ op: 'decision', name, waitMs: Math.max(0, opts.waitMs ?? 0) });
          if (reply.event === 'proposal') return { state: reply.proposal.state, proposal: reply.proposal };
        } catch (e) {
          // the coordinator went away mid-wait: what it wrote last is the answer
          if (!(e instanceof ControlError) || /closed the connection/.test(e.message) === false) throw e;
        } finally {
          client.close();
        }
      }
    }
    const { found: proposal } = await findRun({ ...this.target, run: run.id }, (backend) => backend.getProposal(run.id, name));
    if (!proposal) throw new ControlError(`no proposal "${name}" in run ${run.id}`, 'not-found');
    return { state: proposal.state, proposal };
  }

  /** Sends the request `make` builds for the run reached, and returns the proposal it answers with. */
  private async ask(make: (runId: string) => ControlRequest): Promise<{ event: 'proposal'; proposal: ProposalRecord; counted?: boolean }> {
    const client = await ControlClient.open(this.target);
    try {
      const reply = await client.request(make(client.run.id));
      if (reply.event !== 'proposal') throw new ControlError(`unexpected reply ${reply.event}`);
      return reply;
    } finally {
      client.close();
    }
  }
}
