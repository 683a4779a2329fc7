/** The consensus board of src/consensus/board.ts: proposals, votes, decisions, timeouts, waiters. */
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { ConsensusBoard, type ProposalRecord } from '../../src/consensus/board.js';
import type { EventInput } from '../../src/events/types.js';

interface Host {
  events: EventInput[];
  saved: ProposalRecord[];
  runningIds: string[];
}

const setup = (running: string[] = ['a', 'b', 'c']) => {
  const host: Host = { events: [], saved: [], runningIds: running };
  const board = new ConsensusBoard({
    emit: (e) => host.events.push(e),
    save: (rec) => host.saved.push(rec),
    running: () => host.runningIds,
  });
  return { board, host };
};

const must = <T, E>(r: { ok: true; value: T } | { ok: false; error: E }): T => {
  if (!r.ok) throw new Error(`expected ok: ${JSON.stringify(r.error)}`);
  return r.value;
};
const refusal = <T, E>(r: { ok: true; value: T } | { ok: false; error: E }): E => {
  if (r.ok) throw new Error('expected a refusal');
  return r.error;
};
const ofType = (host: Host, type: string) => host.events.filter((e) => (e as { type: string }).type === type) as Array<Record<string, unknown>>;

beforeEach(() => {
  jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00.000Z') });
});
afterEach(() => {
  jest.useRealTimers();
});

describe('propose', () => {
  it('opens at once with the running streams as voters, the quorum written out and the yes-votes needed', () => {
    const { board, host } = setup();
    const rec = must(board.propose({ name: 'ship', quorum: 'majority', value: { v: 1 }, from: 'a' }));
    expect(rec).toMatchObject({
      name: 'ship',
      kind: 'proposal',
      proposer: 'a',
      voters: ['a', 'b', 'c'],
      quorum: 'majority',
      needed: 2,
      timeoutMs: null,
      deadline: null,
      state: 'pending',
      reason: null,
      decidedAt: null,
      yes: 0,
      no: 0,
      votes: [],
      value: { v: 1 },
      createdAt: '2026-01-01T00:00:00.000Z',
      openedAt: '2026-01-01T00:00:00.000Z',
    });
    expect(ofType(host, 'proposal-opened')).toEqual([
      {
        type: 'proposal-opened',
        proposal: 'ship',
        kind: 'proposal',
        by: 'a',
        voters: ['a', 'b', 'c'],
        quorum: 'majority',
        needed: 2,
        timeoutMs: null,
        value: { v: 1 },
      },
    ]);
    expect(host.saved.at(-1)).toEqual(rec);
    expect(board.get('ship')).toBe(rec);
  });

  it('the opened event carries no value when none was given, and the proposer is null by default', () => {
    const { board, host } = setup();
    const rec = must(board.propose({ name: 'p', quorum: 'all' }));
    expect(rec.proposer).toBeNull();
    expect(rec.value).toBeNull();
    expect(ofType(host, 'proposal-opened')[0]).not.toHaveProperty('value');
  });

  it('named voters are used (each once) instead of the running streams', () => {
    const { board } = setup();
    const rec = must(board.propose({ name: 'p', quorum: 'all', voters: ['x', 'y', 'x'] }));
    expect(rec.voters).toEqual(['x', 'y']);
    expect(rec.needed).toBe(2);
  });

  it('refuses a bad name, a name in use, bad voters, no voters and an impossible quorum, all with the code invalid (exit code 2)', () => {
    const { board, host } = setup([]);
    expect(refusal(board.propose({ name: '-bad', quorum: 'majority', voters: ['a'] }))).toEqual({
      error: 'bad proposal name "-bad": 1-64 letters, digits, "_", "." or "-", starting with a letter or digit',
      code: 'invalid',
    });
    expect(refusal(board.propose({ name: 'p', quorum: 'majority' }))).toEqual({
      error: 'no voters for "p": no stream is running; name them with --voters',
      code: 'invalid',
    });
    expect(refusal(board.propose({ name: 'p', quorum: 'majority', voters: ['ok', 'not ok'] }))).toEqual({ error: 'bad voter name "not ok"', code: 'invalid' });
    expect(refusal(board.propose({ name: 'p', quorum: 'most', voters: ['a'] })).code).toBe('invalid');
    expect(refusal(board.propose({ name: 'p', quorum: '3', voters: ['a', 'b'] }))).toEqual({
      error: 'quorum 3 is more than the 2 voters (a, b)',
      code: 'invalid',
    });
    expect(board.get('p')).toBeUndefined();
    expect(host.events).toEqual([]);
    expect(host.saved).toEqual([]);
    must(board.propose({ name: 'p', quorum: 'all', voters: ['a'] }));
    expect(refusal(board.propose({ name: 'p', quorum: 'all', voters: ['a'] }))).toEqual({
      error: '"p" is already a proposal (pending) in this run',
      code: 'invalid',
    });
  });

  it('names what already holds the name: an approval or a replica group vote', () => {
    const { board } = setup();
    must(board.prepare('merge1', 'approval', ['a'], 'all'));
    must(board.prepare('group1', 'gather', ['a'], 'all'));
    expect(refusal(board.propose({ name: 'merge1', quorum: 'all' })).error).toBe('"merge1" is already the approval of convergence point "merge1" in this run');
    expect(refusal(board.propose({ name: 'group1', quorum: 'all' })).error).toBe('"group1" is already the vote of replica group "group1" in this run');
  });
});

describe('vote', () => {
  it('accepts once the yes-votes reach the quorum, with every vote in the decision', () => {
    const { board, host } = setup();
    must(board.propose({ name: 'p', quorum: 'majority' }));
    const first = must(board.vote('p', 'a', 'yes', 'looks good'));
    expect(first.counted).toBe(true);
    expect(first.proposal).toMatchObject({ state: 'pending', yes: 1, no: 0 });
    expect(first.proposal.votes).toEqual([{ voter: 'a', vote: 'yes', reason: 'looks good', time: '2026-01-01T00:00:00.000Z' }]);
    expect(ofType(host, 'vote-cast')).toEqual([{ type: 'vote-cast', proposal: 'p', voter: 'a', vote: 'yes', reason: 'looks good', yes: 1, no: 0, needed: 2 }]);
    jest.advanceTimersByTime(1000);
    const second = must(board.vote('p', 'b', 'yes'));
    expect(second.proposal).toMatchObject({ state: 'accepted', reason: 'quorum', yes: 2, no: 0, decidedAt: '2026-01-01T00:00:01.000Z' });
    expect(ofType(host, 'vote-cast')[1]).toEqual({ type: 'vote-cast', proposal: 'p', voter: 'b', vote: 'yes', yes: 2, no: 0, needed: 2 });
    expect(ofType(host, 'proposal-decided')).toEqual([
      {
        type: 'proposal-decided',
        proposal: 'p',
        kind: 'proposal',
        decision: 'accepted',
        reason: 'quorum',
        yes: 2,
        no: 0,
        needed: 2,
        votes: [
          { voter: 'a', vote: 'yes', reason: 'looks good' },
          { voter: 'b', vote: 'yes' },
        ],
      },
    ]);
    expect(host.saved.at(-1)).toMatchObject({ state: 'accepted' });
  });

  it('rejects as impossible once the quorum is out of reach', () => {
    const { board, host } = setup();
    must(board.propose({ name: 'p', quorum: 'all' }));
    const r = must(board.vote('p', 'c', 'no'));
    expect(r.proposal).toMatchObject({ state: 'rejected', reason: 'impossible', yes: 0, no: 1 });
    expect(ofType(host, 'proposal-decided')[0]).toMatchObject({ decision: 'rejected', reason: 'impossible', no: 1 });
  });

  it('a vote after the decision is recorded as late, not counted, and changes nothing', () => {
    const { board, host } = setup();
    must(board.propose({ name: 'p', quorum: '1' }));
    must(board.vote('p', 'a', 'yes'));
    const late = must(board.vote('p', 'b', 'no', 'too late'));
    expect(late.counted).toBe(false);
    expect(late.proposal).toMatchObject({ state: 'accepted', yes: 1, no: 0 });
    expect(late.proposal.votes[1]).toEqual({ voter: 'b', vote: 'no', reason: 'too late', time: '2026-01-01T00:00:00.000Z', late: true });
    expect(ofType(host, 'vote-cast')[1]).toEqual({
      type: 'vote-cast',
      proposal: 'p',
      voter: 'b',
      vote: 'no',
      reason: 'too late',
      yes: 1,
      no: 0,
      needed: 1,
      late: true,
    });
    expect(ofType(host, 'proposal-decided')).toHaveLength(1);
    expect(host.saved.at(-1)?.votes).toHaveLength(2);
  });

  it('refuses an unknown proposal (2), a non-voter (1) and a second vote (1)', () => {
    const { board } = setup();
    expect(refusal(board.vote('nope', 'a', 'yes'))).toEqual({ error: 'no proposal "nope" in this run', code: 'invalid' });
    must(board.propose({ name: 'p', quorum: 'all', voters: ['a', 'b'] }));
    expect(refusal(board.vote('p', 'z', 'yes'))).toEqual({ error: '"z" is not a voter on "p" (voters: a, b)', code: 'refused' });
    must(board.vote('p', 'a', 'yes'));
    expect(refusal(board.vote('p', 'a', 'no'))).toEqual({ error: '"a" already voted yes on "p"; a vote cannot be changed', code: 'refused' });
    expect(board.get('p')).toMatchObject({ yes: 1, no: 0, state: 'pending' });
  });
});

describe('prepared proposals', () => {
  it('are stored unopened, count early votes but decide only when opened', async () => {
    const { board, host } = setup();
    const rec = must(board.prepare('g', 'gather', ['r1', 'r2'], 'all', 5000));
    expect(rec).toMatchObject({ kind: 'gather', openedAt: null, deadline: null, timeoutMs: 5000, state: 'pending', proposer: null });
    expect(host.saved).toEqual([rec]);
    expect(ofType(host, 'proposal-opened')).toEqual([]);
    must(board.vote('g', 'r1', 'yes'));
    must(board.vote('g', 'r2', 'yes'));
    expect(board.get('g')).toMatchObject({ state: 'pending', yes: 2 });
    // unopened: its timeout has not started
    jest.advanceTimersByTime(10_000);
    expect(board.get('g')?.state).toBe('pending');
    const decided = await board.openPrepared('g', { result: 'x' });
    expect(decided).toMatchObject({ state: 'accepted', reason: 'quorum', value: { result: 'x' }, openedAt: '2026-01-01T00:00:10.000Z' });
    expect(ofType(host, 'proposal-opened')[0]).toMatchObject({ proposal: 'g', kind: 'gather', value: { result: 'x' } });
  });

  it('preparing a name again returns the existing record unchanged', () => {
    const { board, host } = setup();
    const first = must(board.prepare('g', 'gather', ['r1'], 'all'));
    const again = must(board.prepare('g', 'approval', ['x', 'y'], 'majority'));
    expect(again).toBe(first);
    expect(again.kind).toBe('gather');
    expect(host.saved).toHaveLength(1);
  });

  it('refuses a prepared proposal with a bad quorum', () => {
    const { board } = setup();
    expect(refusal(board.prepare('g', 'gather', ['r1'], '0%')).code).toBe('invalid');
    expect(board.get('g')).toBeUndefined();
  });

  it('opening resolves with the decision once votes decide it, and at once when already decided', async () => {
    const { board } = setup();
    must(board.prepare('ap', 'approval', ['rev'], 'all'));
    let settled: ProposalRecord | undefined;
    const pending = board.openPrepared('ap', 'diff').then((p) => (settled = p));
    await Promise.resolve();
    expect(settled).toBeUndefined();
    must(board.vote('ap', 'rev', 'no'));
    await pending;
    expect(settled).toMatchObject({ state: 'rejected', reason: 'impossible' });
    await expect(board.openPrepared('ap', 'other')).resolves.toMatchObject({ state: 'rejected', value: 'diff' });
    await expect(board.openPrepared('missing', null)).rejects.toThrow('no proposal "missing"');
  });

  it('an opened approval without a timeout keeps the event loop alive until decided', async () => {
    const { board } = setup();
    must(board.prepare('ap', 'approval', ['rev'], 'all'));
    const before = jest.getTimerCount();
    const decided = board.openPrepared('ap', null);
    expect(jest.getTimerCount()).toBe(before + 1);
    board.close('ap', 'point-failed');
    await expect(decided).resolves.toMatchObject({ state: 'rejected', reason: 'point-failed' });
    expect(jest.getTimerCount()).toBe(before);
  });

  it('an opened approval with a timeout needs no keep-alive: its timer decides it', async () => {
    const { board } = setup();
    must(board.prepare('ap', 'approval', ['rev'], 'all', 300));
    const decided = board.openPrepared('ap', null);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(300);
    await expect(decided).resolves.toMatchObject({ state: 'rejected', reason: 'timeout' });
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('opening a prepared proposal twice', () => {
  it('a second open of a pending proposal neither reopens it nor changes its value; both resolve on the decision', async () => {
    const { board, host } = setup();
    must(board.prepare('ap', 'approval', ['rev'], 'all', 1000));
    const first = board.openPrepared('ap', 'first');
    jest.advanceTimersByTime(400);
    const second = board.openPrepared('ap', 'second');
    expect(ofType(host, 'proposal-opened')).toHaveLength(1);
    expect(board.get('ap')).toMatchObject({ value: 'first', openedAt: '2026-01-01T00:00:00.000Z', deadline: '2026-01-01T00:00:01.000Z' });
    jest.advanceTimersByTime(600);
    await expect(first).resolves.toMatchObject({ state: 'rejected', reason: 'timeout', value: 'first' });
    await expect(second).resolves.toMatchObject({ state: 'rejected', reason: 'timeout' });
    expect(jest.getTimerCount()).toBe(0);
  });

  it('an approval the early votes already decide resolves when opened and leaves no timer behind', async () => {
    const { board } = setup();
    must(board.prepare('ap', 'approval', ['rev'], 'all'));
    must(board.vote('ap', 'rev', 'yes'));
    const decided = board.openPrepared('ap', undefined);
    expect(jest.getTimerCount()).toBe(0);
    await expect(decided).resolves.toMatchObject({ state: 'accepted', reason: 'quorum' });
  });

  it('the opened event of a proposal opened without a value has no value', () => {
    const { board, host } = setup();
    must(board.prepare('g', 'gather', ['r1', 'r2'], 'all'));
    void board.openPrepared('g', undefined);
    expect(ofType(host, 'proposal-opened')[0]).not.toHaveProperty('value');
    board.closeAll();
  });
});

describe('timeouts', () => {
  it('rejects a proposal still pending at its deadline, not before', () => {
    const { board, host } = setup();
    const rec = must(board.propose({ name: 'p', quorum: 'all', timeoutMs: 2000 }));
    expect(rec.deadline).toBe('2026-01-01T00:00:02.000Z');
    expect(ofType(host, 'proposal-opened')[0]).toMatchObject({ timeoutMs: 2000 });
    jest.advanceTimersByTime(1999);
    expect(board.get('p')?.state).toBe('pending');
    jest.advanceTimersByTime(1);
    expect(board.get('p')).toMatchObject({ state: 'rejected', reason: 'timeout', decidedAt: '2026-01-01T00:00:02.000Z' });
  });

  it('a decision before the deadline cancels the timeout', () => {
    const { board, host } = setup();
    must(board.propose({ name: 'p', quorum: '1', timeoutMs: 2000 }));
    must(board.vote('p', 'a', 'yes'));
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(5000);
    expect(board.get('p')).toMatchObject({ state: 'accepted', reason: 'quorum' });
    expect(ofType(host, 'proposal-decided')).toHaveLength(1);
  });
});

describe('load (resume)', () => {
  const record = (over: Partial<ProposalRecord>): ProposalRecord => ({
    name: 'p',
    kind: 'proposal',
    value: null,
    proposer: null,
    voters: ['a', 'b'],
    quorum: 'all',
    needed: 2,
    timeoutMs: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    openedAt: '2026-01-01T00:00:00.000Z',
    deadline: null,
    votes: [],
    yes: 0,
    no: 0,
    state: 'pending',
    reason: null,
    decidedAt: null,
    ...over,
  });

  it('restarts the timeout of an open pending proposal for the time it has left', () => {
    const { board } = setup();
    jest.setSystemTime(new Date('2026-01-01T00:00:03.000Z'));
    board.load([record({ timeoutMs: 5000 })]);
    jest.advanceTimersByTime(1999);
    expect(board.get('p')?.state).toBe('pending');
    jest.advanceTimersByTime(1);
    expect(board.get('p')).toMatchObject({ state: 'rejected', reason: 'timeout' });
  });

  it('a proposal past its deadline is rejected at once; decided, unopened or untimed ones get no timer', () => {
    const { board } = setup();
    jest.setSystemTime(new Date('2026-01-01T01:00:00.000Z'));
    board.load([
      record({ name: 'late', timeoutMs: 5000 }),
      record({ name: 'done', timeoutMs: 5000, state: 'accepted', reason: 'quorum' }),
      record({ name: 'unopened', timeoutMs: 5000, openedAt: null }),
      record({ name: 'untimed' }),
    ]);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(0);
    expect(board.get('late')).toMatchObject({ state: 'rejected', reason: 'timeout' });
    expect(board.get('done')).toMatchObject({ state: 'accepted', reason: 'quorum' });
    expect(board.get('unopened')?.state).toBe('pending');
    expect(board.get('untimed')?.state).toBe('pending');
    // loaded votes count: the last vote decides
    must(board.vote('untimed', 'a', 'yes'));
    expect(board.get('untimed')?.state).toBe('pending');
    must(board.vote('untimed', 'b', 'yes'));
    expect(board.get('untimed')?.state).toBe('accepted');
  });
});

describe('waiting for a decision', () => {
  it('answers at once when decided or when asked not to wait, else on the decision', () => {
    const { board } = setup();
    must(board.propose({ name: 'p', quorum: '1' }));
    // the state each answer reported when it came (the record itself lives on)
    const answers: Array<string | undefined> = [];
    const answer = (r: ProposalRecord | undefined) => answers.push(r?.state);
    board.waitDecision('p', 0, answer);
    expect(answers).toEqual(['pending']);
    board.waitDecision('p', 10_000, answer);
    board.waitDecision('p', 10_000, answer);
    expect(answers).toHaveLength(1);
    must(board.vote('p', 'a', 'yes'));
    expect(answers).toEqual(['pending', 'accepted', 'accepted']);
    expect(jest.getTimerCount()).toBe(0);
    board.waitDecision('p', 10_000, answer);
    expect(answers).toHaveLength(4);
    board.waitDecision('nope', 10_000, answer);
    expect(answers).toHaveLength(4);
    jest.advanceTimersByTime(10_000);
    expect(answers).toEqual(['pending', 'accepted', 'accepted', 'accepted', undefined]);
  });

  it('after the wait, answers with the record as it stands, and only that waiter', () => {
    const { board } = setup();
    must(board.propose({ name: 'p', quorum: 'all' }));
    const short: Array<ProposalRecord | undefined> = [];
    const long: Array<ProposalRecord | undefined> = [];
    board.waitDecision('p', 100, (r) => short.push(r));
    board.waitDecision('p', 1000, (r) => long.push(r));
    jest.advanceTimersByTime(100);
    expect(short.map((r) => r?.state)).toEqual(['pending']);
    expect(long).toEqual([]);
    board.close('p', 'run-ended');
    expect(short).toHaveLength(1);
    expect(long.map((r) => r?.reason)).toEqual(['run-ended']);
  });
});

describe('closing', () => {
  it('close rejects a pending proposal with the reason and leaves a decided one alone', () => {
    const { board, host } = setup();
    must(board.propose({ name: 'p', quorum: 'all' }));
    must(board.propose({ name: 'q', quorum: '1' }));
    must(board.vote('q', 'a', 'yes'));
    board.close('p', 'point-failed');
    board.close('q', 'point-failed');
    board.close('missing', 'point-failed');
    expect(board.get('p')).toMatchObject({ state: 'rejected', reason: 'point-failed' });
    expect(board.get('q')).toMatchObject({ state: 'accepted', reason: 'quorum' });
    expect(ofType(host, 'proposal-decided').map((e) => e.proposal)).toEqual(['q', 'p']);
  });

  it('closeAll rejects every pending proposal as run-ended and answers every waiter', () => {
    const { board } = setup();
    must(board.propose({ name: 'p', quorum: 'all', timeoutMs: 60_000 }));
    must(board.propose({ name: 'q', quorum: '1' }));
    must(board.vote('q', 'a', 'yes'));
    must(board.prepare('r', 'gather', ['x'], 'all'));
    const answers: Array<string | undefined> = [];
    board.waitDecision('p', 60_000, (r) => answers.push(r?.state));
    board.waitDecision('nope', 60_000, (r) => answers.push(r?.state));
    board.closeAll();
    expect(board.get('p')).toMatchObject({ state: 'rejected', reason: 'run-ended' });
    expect(board.get('r')).toMatchObject({ state: 'rejected', reason: 'run-ended' });
    expect(board.get('q')?.state).toBe('accepted');
    expect(answers).toEqual(['rejected', undefined]);
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(60_000);
    expect(answers).toHaveLength(2);
  });

  it('stored records are copies: a later change does not alter what was saved', () => {
    const { board, host } = setup();
    must(board.propose({ name: 'p', quorum: 'all' }));
    const savedOpen = host.saved.at(-1)!;
    must(board.vote('p', 'a', 'yes'));
    expect(savedOpen.votes).toEqual([]);
    expect(savedOpen.yes).toBe(0);
    expect(host.saved.at(-1)?.yes).toBe(1);
  });
});
