/**
 * `coord propose NAME …`: opens a quorum vote kept by the run's coordinator (src/consensus/);
 * `coord vote` and `coord decision` (../vote, ../decision) take it from there.
 */
import { Consensus } from '../../../client/consensus.js';
import { formatDuration } from '../../../util/duration.js';
import { UsageError } from '../../errors.js';

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
  values === undefined
    ? undefined
    : values
        .flatMap((v) => v.split(','))
        .map((v) => v.trim())
        .filter(Boolean);

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
