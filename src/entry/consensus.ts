/**
 * `@coord-run/coord/consensus`: quorum votes among a running run's streams (the requests of
 * `coord propose` / `vote` / `decision`), and the quorum arithmetic itself.
 */
export { Consensus } from '../client/consensus.js';
export type { ProposeOptions, Decision } from '../client/consensus.js';
export type { ProposalRecord, VoteRecord, ProposalKind, DecisionReason } from '../consensus/board.js';
export { parseQuorum, quorumNeeded, tally } from '../consensus/tally.js';
export type { Quorum, ProposalState, VoteValue, TallyResult } from '../consensus/tally.js';
export { ControlError, type RunTarget } from '../client/control-client.js';
