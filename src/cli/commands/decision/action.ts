/**
 * `coord decision NAME [--wait DUR]`: prints `accepted`, `rejected` or `pending` and exits 0,
 * except 75 when `--wait` ended with it still pending.
 */
import { Consensus } from '../../../client/consensus.js';
import { EXIT } from '../../errors.js';

export async function decisionCommand(name: string, flags: { wait?: number; run?: string; json?: boolean }): Promise<void> {
  const waitMs = flags.wait;
  const { state, proposal } = await new Consensus({ run: flags.run }).decision(name, waitMs !== undefined ? { waitMs } : {});
  process.stdout.write(flags.json ? JSON.stringify(proposal) + '\n' : `${state}\n`);
  if (state === 'pending' && waitMs !== undefined) process.exitCode = EXIT.tempfail;
}
