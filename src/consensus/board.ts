/**
 * The run's proposals and their votes, kept by the coordinator (the single writer): each
 * proposal is stored through the backend on every change (the file backend: `<run dir>/
 * consensus/<name>.json`, replaced atomically), so `coord decision` can read it during the run
 * and after it; every opening, vote and decision is an event.
 *
 *   prepared ──open──> open ──yes-votes reach the quorum──────────────> accepted
 *      │                │  └──the quorum out of reach / timeout──────> rejected
 *      └────────────────┴──the run ends, its point fails (approvals)─> rejected
 *
 * `coord propose` opens a proposal at once. A convergence point's approval and a
 * `gather: vote` group are prepared when the run starts (their voters are known from the
 * plan, and votes may arrive early) and opened when there is something to decide on; votes
 * that came earlier count from then. A decision is final: a vote arriving after it is
 * recorded as late and changes nothing.
 */
import type { EventInput } from '../events/types.js';
import { err, ok, type Result } from '../util/result.js';
import { ID_PATTERN } from '../plan/types.js';
import { formatQuorum, parseQuorum, quorumNeeded, tally, type ProposalState, type VoteValue } from './tally.js';
import type { ErrorCode } from '../core/errors.js';
import type { DecisionReason, ProposalKind, ProposalRecord } from '../backend/records.js';

/** The stored shapes of proposals live with the other records a backend stores (src/backend/records.ts). */
export type { DecisionReason, ProposalKind, ProposalRecord, VoteRecord } from '../backend/records.js';

/** A refusal: `invalid` (a bad name or quorum, an unknown proposal) or `refused` (a non-voter, a second vote). */
export interface BoardError {
  error: string;
  code: ErrorCode;
}

/** What the board needs of the coordinator. */
export interface BoardHost {
  emit(e: EventInput): void;
  /** Stores a changed record (in the order of changes). */
  save(rec: ProposalRecord): void;
  /** Ids of the streams running now (the default voters). */
  running(): string[];
}

interface Live {
  rec: ProposalRecord;
  timer?: NodeJS.Timeout;
  /** Keeps the coordinator's event loop alive while the run waits on an open approval. */
  keepAlive?: NodeJS.Timeout;
  settle: Array<(p: ProposalRecord) => void>;
}

/** Every proposal of one run (see the module comment). */
export class ConsensusBoard {
  private readonly host: BoardHost;
  private readonly live = new Map<string, Live>();
  private readonly waiters = new Map<string, Array<{ cb: (p: ProposalRecord | undefined) => void; timer: NodeJS.Timeout }>>();

  constructor(host: BoardHost) {
    this.host = host;
  }

  /** Takes over the proposals of an earlier coordinator of the same run (`--resume`). */
  load(records: readonly ProposalRecord[]): void {
    for (const rec of records) {
      const l: Live = { rec, settle: [] };
      this.live.set(rec.name, l);
      if (rec.state === 'pending' && rec.openedAt && rec.timeoutMs !== null) {
        const left = Date.parse(rec.openedAt) + rec.timeoutMs - Date.now();
        l.timer = setTimeout(() => this.decide(l, 'rejected', 'timeout'), Math.max(0, left));
      }
    }
  }

  get(name: string): ProposalRecord | undefined {
    return this.live.get(name)?.rec;
  }

  /** `coord propose`: a new proposal, open at once. */
  propose(req: {
    name: string;
    quorum: string;
    voters?: string[] | undefined;
    timeoutMs?: number | undefined;
    value?: unknown;
    from?: string | undefined;
  }): Result<ProposalRecord, BoardError> {
    if (!ID_PATTERN.test(req.name))
      return err({ error: `bad proposal name "${req.name}": 1-64 letters, digits, "_", "." or "-", starting with a letter or digit`, code: 'invalid' });
    const existing = this.live.get(req.name);
    if (existing) {
      const what =
        existing.rec.kind === 'approval'
          ? `the approval of convergence point "${req.name}"`
          : existing.rec.kind === 'gather'
            ? `the vote of replica group "${req.name}"`
            : `a proposal (${existing.rec.state})`;
      return err({ error: `"${req.name}" is already ${what} in this run`, code: 'invalid' });
    }
    const voters = req.voters ?? this.host.running();
    // Stryker disable next-line LogicalOperator: open() below sets the value; make's is never seen
    const made = this.make(req.name, 'proposal', voters, req.quorum, req.timeoutMs, req.from ?? null, req.value ?? null);
    if (!made.ok) return made;
    this.open(made.value, req.value ?? null);
    return ok(made.value.rec);
  }

  /** A proposal whose voters are known now and which opens later (approvals, `gather: vote`). */
  prepare(name: string, kind: Exclude<ProposalKind, 'proposal'>, voters: string[], quorum: string, timeoutMs?: number): Result<ProposalRecord, BoardError> {
    if (this.live.has(name)) return ok(this.live.get(name)?.rec as ProposalRecord);
    const made = this.make(name, kind, voters, quorum, timeoutMs, null, null);
    if (!made.ok) return made;
    this.save(made.value.rec);
    return ok(made.value.rec);
  }

  /** Opens a prepared proposal with `value`; resolves with the decision (at once if already decided). */
  openPrepared(name: string, value: unknown): Promise<ProposalRecord> {
    const l = this.live.get(name);
    if (!l) return Promise.reject(new Error(`no proposal "${name}"`));
    if (l.rec.state !== 'pending') return Promise.resolve(l.rec);
    const decided = new Promise<ProposalRecord>((resolve) => l.settle.push(resolve));
    if (!l.rec.openedAt) this.open(l, value);
    if (l.rec.state === 'pending' && !l.timer) {
      l.keepAlive = setInterval(() => undefined, 1 << 30);
    }
    return decided;
  }

  /** `coord vote`: one vote per voter; `counted` is false for a vote after the decision. */
  vote(name: string, voter: string, vote: VoteValue, reason?: string): Result<{ proposal: ProposalRecord; counted: boolean }, BoardError> {
    const l = this.live.get(name);
    if (!l) return err({ error: `no proposal "${name}" in this run`, code: 'invalid' });
    const rec = l.rec;
    if (!rec.voters.includes(voter)) return err({ error: `"${voter}" is not a voter on "${name}" (voters: ${rec.voters.join(', ')})`, code: 'refused' });
    const earlier = rec.votes.find((v) => v.voter === voter);
    if (earlier) return err({ error: `"${voter}" already voted ${earlier.vote} on "${name}"; a vote cannot be changed`, code: 'refused' });
    const late = rec.state !== 'pending';
    rec.votes.push({ voter, vote, reason: reason ?? null, time: new Date().toISOString(), ...(late ? { late: true } : {}) });
    // Stryker disable next-line ConditionalExpression: count() skips late votes itself
    if (!late) this.count(rec);
    this.host.emit({
      type: 'vote-cast',
      proposal: name,
      voter,
      vote,
      ...(reason ? { reason } : {}),
      yes: rec.yes,
      no: rec.no,
      needed: rec.needed,
      ...(late ? { late: true } : {}),
    });
    if (!late && rec.openedAt) this.evaluate(l);
    this.save(rec);
    return ok({ proposal: rec, counted: !late });
  }

  /** Replies with `name`'s record once it is decided, or after `waitMs` as it stands (undefined: no such proposal). */
  waitDecision(name: string, waitMs: number, cb: (p: ProposalRecord | undefined) => void): void {
    const rec = this.live.get(name)?.rec;
    if ((rec && rec.state !== 'pending') || waitMs <= 0) return cb(rec);
    const entry = {
      cb,
      timer: setTimeout(() => {
        // Stryker disable next-line ArrayDeclaration: decide() and closeAll() clear these timers with the list, so it is always there
        const list = this.waiters.get(name) ?? [];
        this.waiters.set(
          name,
          list.filter((w) => w !== entry),
        );
        cb(this.live.get(name)?.rec);
      }, waitMs),
    };
    this.waiters.set(name, [...(this.waiters.get(name) ?? []), entry]);
  }

  /** Decides a pending proposal as rejected (`reason`): its point failed, the run ends. */
  close(name: string, reason: DecisionReason): void {
    const l = this.live.get(name);
    // Stryker disable next-line ConditionalExpression: decide() leaves a decided proposal alone
    if (l && l.rec.state === 'pending') this.decide(l, 'rejected', reason);
  }

  /** The run ends: every pending proposal is rejected, every waiter answered. */
  closeAll(): void {
    // Stryker disable next-line ConditionalExpression: decide() leaves a decided proposal alone
    for (const l of this.live.values()) if (l.rec.state === 'pending') this.decide(l, 'rejected', 'run-ended');
    for (const [name, list] of this.waiters) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.cb(this.live.get(name)?.rec);
      }
    }
    this.waiters.clear();
  }

  private make(
    name: string,
    kind: ProposalKind,
    voters: string[],
    quorum: string,
    timeoutMs: number | undefined,
    proposer: string | null,
    value: unknown,
  ): Result<Live, BoardError> {
    const q = parseQuorum(quorum);
    if (!q.ok) return err({ error: q.error, code: 'invalid' });
    const unique = [...new Set(voters)];
    const bad = unique.find((v) => !ID_PATTERN.test(v));
    if (bad !== undefined) return err({ error: `bad voter name "${bad}"`, code: 'invalid' });
    if (unique.length === 0) return err({ error: `no voters for "${name}": no stream is running; name them with --voters`, code: 'invalid' });
    const needed = quorumNeeded(q.value, unique.length);
    if (!needed.ok) return err({ error: `${needed.error} (${unique.join(', ')})`, code: 'invalid' });
    const rec: ProposalRecord = {
      name,
      kind,
      value,
      proposer,
      voters: unique,
      quorum: formatQuorum(q.value),
      needed: needed.value,
      timeoutMs: timeoutMs ?? null,
      createdAt: new Date().toISOString(),
      openedAt: null,
      deadline: null,
      votes: [],
      yes: 0,
      no: 0,
      state: 'pending',
      reason: null,
      decidedAt: null,
    };
    const l: Live = { rec, settle: [] };
    this.live.set(name, l);
    return ok(l);
  }

  private open(l: Live, value: unknown): void {
    const rec = l.rec;
    const now = Date.now();
    rec.value = value;
    rec.openedAt = new Date(now).toISOString();
    if (rec.timeoutMs !== null) {
      rec.deadline = new Date(now + rec.timeoutMs).toISOString();
      l.timer = setTimeout(() => this.decide(l, 'rejected', 'timeout'), rec.timeoutMs);
    }
    this.host.emit({
      type: 'proposal-opened',
      proposal: rec.name,
      kind: rec.kind,
      by: rec.proposer,
      voters: rec.voters,
      quorum: rec.quorum,
      needed: rec.needed,
      timeoutMs: rec.timeoutMs,
      ...(value !== null && value !== undefined ? { value } : {}),
    });
    this.evaluate(l);
    this.save(rec);
  }

  private count(rec: ProposalRecord): void {
    // Stryker disable next-line MethodExpression: late votes exist only once decided, and a decided proposal is not counted again
    const t = tally(
      rec.voters,
      rec.needed,
      rec.votes.filter((v) => !v.late),
    );
    rec.yes = t.yes;
    rec.no = t.no;
  }

  private evaluate(l: Live): void {
    // Stryker disable next-line MethodExpression: late votes exist only once decided, and a decided proposal is not evaluated
    const t = tally(
      l.rec.voters,
      l.rec.needed,
      l.rec.votes.filter((v) => !v.late),
    );
    if (t.state === 'accepted') this.decide(l, 'accepted', 'quorum');
    else if (t.state === 'rejected') this.decide(l, 'rejected', 'impossible');
  }

  private decide(l: Live, state: Exclude<ProposalState, 'pending'>, reason: DecisionReason): void {
    const rec = l.rec;
    // Stryker disable next-line ConditionalExpression: every caller decides a pending proposal only (a guard)
    if (rec.state !== 'pending') return;
    // Stryker disable next-line ConditionalExpression: clearTimeout(undefined) does nothing
    if (l.timer) clearTimeout(l.timer);
    // Stryker disable next-line ConditionalExpression: clearInterval(undefined) does nothing
    if (l.keepAlive) clearInterval(l.keepAlive);
    this.count(rec);
    rec.state = state;
    rec.reason = reason;
    rec.decidedAt = new Date().toISOString();
    this.save(rec);
    this.host.emit({
      type: 'proposal-decided',
      proposal: rec.name,
      kind: rec.kind,
      decision: state,
      reason,
      yes: rec.yes,
      no: rec.no,
      needed: rec.needed,
      votes: rec.votes.map((v) => ({ voter: v.voter, vote: v.vote, ...(v.reason ? { reason: v.reason } : {}) })),
    });
    for (const fn of l.settle.splice(0)) fn(rec);
    const waiting = this.waiters.get(rec.name);
    if (waiting) {
      this.waiters.delete(rec.name);
      for (const w of waiting) {
        clearTimeout(w.timer);
        w.cb(rec);
      }
    }
  }

  private save(rec: ProposalRecord): void {
    this.host.save(structuredClone(rec));
  }
}
