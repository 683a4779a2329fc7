/**
 * `coord propose NAME …`, `coord vote NAME yes|no …`, `coord decision NAME [--wait DUR]`:
 * quorum votes kept by the run's coordinator (src/consensus/). `decision` prints `accepted`,
 * `rejected` or `pending` and exits 0 — except 75 when `--wait` ended with it still pending.
 */
import { Consensus } from '../../client/consensus.js';
import { formatDuration } from '../../util/duration.js';
import { UsageError } from '../../util/result.js';
import type { ProposalRecord } from '../../consensus/board.js';

/** The options of propose; the timeout in ms (parsed by commander: a bad one is a usage error before this runs). */
export interface ProposeFlags {
  quorum?: string;
  voters?: string[];
  timeout?: number;
  value?: string;
  run?: string;
  json?: boolean;
}

const list = (values: string[] | undefined): string[] | undefined =>
  values === undefined ? undefined : values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);

const standing = (p: ProposalRecord): string => `${p.yes} yes, ${p.no} no, ${p.needed} of ${p.voters.length} needed`;

export async function proposeCommand(name: string, flags: ProposeFlags): Promise<void> {
  let value: unknown;
  if (flags.value !== undefined) {
    try {
      value = JSON.parse(flags.value);
    } catch {
      throw new UsageError(`--value must be JSON (a string needs quotes: '"text"'), got ${flags.value}`);
    }
  }
  const voters = list(flags.voters);
  const timeoutMs = flags.timeout;
  const p = await new Consensus({ run: flags.run }).propose(name, {
    quorum: flags.quorum ?? 'majority',
    ...(voters ? { voters } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(value !== undefined ? { value } : {}),
  });
  if (flags.json) return void process.stdout.write(JSON.stringify(p) + '\n');
  process.stdout.write(
    `proposal ${p.name} opened: ${p.needed} of ${p.voters.length} yes needed (${p.voters.join(', ')})${p.timeoutMs !== null ? `, timeout ${formatDuration(p.timeoutMs)}` : ''}\n`,
  );
}

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

export async function decisionCommand(name: string, flags: { wait?: number; run?: string; json?: boolean }): Promise<void> {
  const waitMs = flags.wait;
  const { state, proposal } = await new Consensus({ run: flags.run }).decision(name, waitMs !== undefined ? { waitMs } : {});
  process.stdout.write(flags.json ? JSON.stringify(proposal) + '\n' : `${state}\n`);
  if (state === 'pending' && waitMs !== undefined) process.exitCode = 75;
}
