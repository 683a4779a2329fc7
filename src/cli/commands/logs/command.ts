/** `coord logs STREAM [RUN]`: the definition (options, help, examples); the action is ./action.ts. */
import { Option, type Command } from 'commander';
import { addBackend, addRunSelector, examples, lazy } from '../../options.js';

/** Adds `coord logs` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('logs')
    .helpGroup('Look at a run:')
    .description("a stream's output (stdout and stderr), or a point's checks (POINT:verify) or resolver (POINT:resolve)")
    .argument('<stream>', 'stream id; POINT:verify for the output of the checks of a point with verify:, POINT:resolve for its resolver');
  addRunSelector(cmd, { positional: true })
    .option('-f, --follow', 'keep printing new output until the stream ends')
    .addOption(new Option('--fd <fd>', 'only one of the two').choices(['stdout', 'stderr']));
  addBackend(cmd);
  examples(cmd, ['coord logs research', 'coord logs research -f', 'coord logs research --fd stderr 20261202-101500-3fa2c1', 'coord logs merged:verify']).action(
    lazy(async () => (await import('./action.js')).logsCommand),
  );
}
