/** Lock-state test data: waiters and the steps that grant or release them, shared by the lock tests. */
import { acquireStep, removeTicket, type LockMode, type LockState, type Waiter } from '../../src/locks/state.js';

/** A write request of this process, `ticket` also its owner, live for a minute from now. */
export const liveWriter = (ticket: string): Waiter => ({
  ticket,
  owner: ticket,
  run: null,
  pid: process.pid,
  host: 'here',
  procStart: null,
  mode: 'write',
  since: Date.now(),
  expires: Date.now() + 60_000,
  chain: [],
});

/** A state change that queues (and, its turn come, grants) `ticket`'s write request. */
export const grantTo = (ticket: string) => (s: Readonly<LockState>) => acquireStep(s, liveWriter(ticket), Date.now(), 60_000).state;

/** A state change that takes `ticket` out, holder or waiter. */
export const releaseOf = (ticket: string) => (s: Readonly<LockState>) => removeTicket(s, ticket).state;

let n = 0;
/** A request on a clock of its own: `since` (by default the next tick of this file's counter) names its ticket and owner; it expires 1000 later. */
export function waiter(mode: LockMode, since = ++n, extra: Partial<Waiter> = {}): Waiter {
  return {
    ticket: `t${since}-${mode}`,
    owner: `o${since}`,
    run: null,
    pid: 1000 + since,
    host: 'h',
    procStart: null,
    mode,
    since,
    expires: since + 1000,
    chain: [],
    ...extra,
  };
}
