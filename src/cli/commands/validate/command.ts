/** `coord validate PLAN`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addJson, examples, lazy } from '../../options.js';

/** Adds `coord validate` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('validate')
    .helpGroup('Run a plan:')
    .description('check a plan (schema and graph) without running it; prints ok or every error')
    .argument('<plan>', 'the plan file (YAML)');
  addJson(cmd);
  examples(cmd, ['coord validate plan.yaml', 'coord validate plan.yaml --json | jq .errors'], 'Exit: 0 valid (warnings may be printed), 2 invalid.').action(
    lazy(async () => (await import('./action.js')).validateCommand),
  );
}
