/** `coord vote NAME yes|no`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, examples, lazy } from '../../options.js';

/** Adds `coord vote` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('vote')
    .helpGroup('Inside a stream:')
    .description("vote on a proposal (or a convergence point's approval) as the calling stream or --as NAME")
    .argument('<name>', 'proposal name (a convergence point with approve: is its own proposal)')
    .argument('<vote>', 'yes or no')
    .option('--reason <text>', 'why, kept with the vote')
    .option('--as <voter>', 'vote as this voter (default: $COORD_STREAM_ID)');
  addRunSelector(cmd, { positional: false });
  addJson(cmd);
  addBackend(cmd);
  examples(
    cmd,
    ['coord vote release yes --reason "tests pass"', 'coord vote merge-docs no --as alice --run 20261123-223001-4f2a1c'],
    'One vote per voter: a second vote, or a vote by a non-voter, exits 1.',
  ).action(lazy(async () => (await import('./action.js')).voteCommand));
}
