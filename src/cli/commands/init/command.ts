/** `coord init [TEMPLATE]`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addJson, examples, lazy } from '../../options.js';

/** Adds `coord init` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('init')
    .helpGroup('Run a plan:')
    .description('write a starter plan from a template (default: fork-join)')
    .argument('[template]', 'template name (see --list)')
    .option('-l, --list', 'list the templates')
    .option('-o, --output <file>', 'where to write the plan', 'plan.yaml')
    .option('-f, --force', 'overwrite an existing file');
  addJson(cmd);
  examples(cmd, ['coord init', 'coord init --list', 'coord init research -o research.yaml']).action(
    lazy(async () => (await import('./action.js')).initCommand),
  );
}
