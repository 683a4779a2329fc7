/** `coord completion bash|zsh|fish`: the definition (help, examples); the action is ./action.ts. */
import { Argument, type Command } from 'commander';
import { examples, lazy } from '../../options.js';

/** Adds `coord completion` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('completion')
    .helpGroup('Shell:')
    .description('print a shell completion script for coord (its commands, subcommands and options)')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']));
  examples(cmd, [
    'source <(coord completion bash)   # in ~/.bashrc',
    'coord completion zsh > "${fpath[1]}/_coord"',
    'coord completion fish > ~/.config/fish/completions/coord.fish',
  ]).action(lazy(async () => (await import('./action.js')).completionCommand));
}
