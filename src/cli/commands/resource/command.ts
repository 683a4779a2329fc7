/** `coord resource acquire NAME=N… -- CMD`: the definition (options, help, examples); the action is ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addRunSelector, durationOption, examples, lazy } from '../../options.js';
import { runsCommand, type RunsCommand } from '../../runs-command.js';

/** Adds `coord resource` to `program`. */
export function register(program: Command): void {
  const resource = program.command('resource').helpGroup('Inside a stream:').description("units of the run's resource pools (agent_coordination.resources)");
  examples(resource, ['coord resource acquire gpu=1 -- python train.py']);
  // own arguments: words with an = and no space (NAME=N; a bad one like gpu=x is named by the command)
  const acquire = runsCommand(resource, 'acquire', { takes: (word) => /^[^\s=]+=\S*$/.test(word), needs: 0 })
    .description("run CMD holding units of the run's resource pools; exits with CMD's code")
    .argument('<args...>', 'NAME=N for each pool, then -- and the command (one argument with spaces runs through sh -c)')
    .addOption(durationOption('-t, --timeout <duration>', 'give up (exit 75, naming the holders) when not granted in time'))
    .option('--priority <n>', "higher is served first (default: the calling stream's plan priority, else 0)");
  addRunSelector(acquire, { positional: false });
  addBackend(acquire);
  examples(
    acquire,
    ['coord resource acquire gpu=1 -- python train.py', 'coord resource acquire api_slots=2 gpu=1 --timeout 5m -- ./run-agent.sh'],
    "All units are taken at once or none. They go back when CMD ends, however it ends, and when\nthis process dies. Exit: CMD's code; 75 not granted in time; 2 unknown pool or demand over capacity.",
  ).action(
    lazy(async () => {
      const { resourceAcquireCommand } = await import('./action.js');
      return (_args: string[], flags: import('./action.js').AcquireFlags, cmd: RunsCommand) => resourceAcquireCommand(cmd.ownWords, cmd.commandWords, flags);
    }),
  );
}
