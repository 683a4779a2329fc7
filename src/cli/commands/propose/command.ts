/** `coord propose NAME`: the definition (options, help, examples); the action is ./action.ts. */
import { Option, type Command } from 'commander';
import { addBackend, addJson, addRunSelector, durationOption, examples, lazy } from '../../options.js';

/** Adds `coord propose` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('propose')
    .helpGroup('Inside a stream:')
    .description("open a quorum vote among the run's streams")
    .argument('<name>', 'proposal name (letters, digits, _ . -)')
    // no -q: that is --quiet (coord run, coord continue)
    .addOption(new Option('--quorum <quorum>', 'majority | all | K (yes-votes) | P% (of the voters)').default('majority'))
    .option('--voters <names...>', 'who votes (comma-separated or repeated; default: the streams running now)')
    .addOption(durationOption('-t, --timeout <duration>', 'rejected when undecided this long after opening'))
    .option('--value <json>', 'what is decided on, as JSON (kept with the proposal)');
  addRunSelector(cmd, { positional: false });
  addJson(cmd);
  addBackend(cmd);
  examples(cmd, ['coord propose release --quorum all --timeout 10m', 'coord propose pick-plan --voters a,b,c --quorum 2 --value \'{"plan":"B"}\'']).action(
    lazy(async () => (await import('./action.js')).proposeCommand),
  );
}
