/** `coord vote NAME yes|no [--reason TEXT] [--as VOTER]`: a vote on a proposal of the run's coordinator. */
import { Consensus } from '../../../client/consensus.js';
import { UsageError } from '../../errors.js';
import type { ProposalRecord } from '../../../consensus/board.js';

const standing = (p: ProposalRecord): string => `${p.yes} yes, ${p.no} no, ${p.needed} of ${p.voters.length} needed`;

export async function voteCommand(name: string, vote: string, flags: { reason?: string; as?: string; run?: string; json?: boolean }): Promise<void> {
  if (vote !== 'yes' && vote !== 'no') throw new UsageError(`a vote is yes or no, got "${vote}"`);
  const { proposal: p, counted } = await new Consensus({ run: flags.run }).vote(name, vote, {
    ...(flags.reason !== undefined ? { reason: flags.reason } : {}),
    ...(flags.as !== undefined ? { as: flags.as } : {}),
  });
  const voter = p.votes.at(-1)?.voter ?? flags.as ?? '';
  if (flags.json) return void process.stdout.write(JSON.stringify({ counted, proposal: p }) + '\n');
  if (!counted) process.stdout.write(`${name} was already ${p.state}: ${voter}'s ${vote} is recorded, not counted\n`);
  else process.stdout.write(`${voter} voted ${vote} on ${name}: ${standing(p)}${p.openedAt ? '' : ' (counted when it opens)'} -> ${p.state}\n`);
}
