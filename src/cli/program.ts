/**
 * The command line (commander), assembled from one folder per command: each
 * src/cli/commands/<name>/command.ts defines its command (options, help, examples) beside its
 * action (./action.ts), which is imported only when that command runs. Shared option groups
 * are in options.ts.
 */
import { Command, type Option } from 'commander';
import { EXIT, reportError } from './errors.js';
import { addBackend, GROUPS } from './options.js';
import { version } from './version.js';
import * as append from './commands/append/command.js';
import * as apply from './commands/apply/command.js';
import * as clean from './commands/clean/command.js';
import * as completion from './commands/completion/command.js';
import * as continue_ from './commands/continue/command.js';
import * as dashboard from './commands/dashboard/command.js';
import * as decision from './commands/decision/command.js';
import * as diff from './commands/diff/command.js';
import * as events from './commands/events/command.js';
import * as heartbeat from './commands/heartbeat/command.js';
import * as init from './commands/init/command.js';
import * as lock from './commands/lock/command.js';
import * as locks from './commands/locks/command.js';
import * as logs from './commands/logs/command.js';
import * as propose from './commands/propose/command.js';
import * as queue from './commands/queue/command.js';
import * as resource from './commands/resource/command.js';
import * as run from './commands/run/command.js';
import * as spawn from './commands/spawn/command.js';
import * as state from './commands/state/command.js';
import * as status from './commands/status/command.js';
import * as stop from './commands/stop/command.js';
import * as validate from './commands/validate/command.js';
import * as vote from './commands/vote/command.js';
import * as worker from './commands/worker/command.js';
import * as write from './commands/write/command.js';

/** Every command, in the order `coord --help` lists them within their groups. */
const COMMANDS = [
  run,
  continue_,
  validate,
  init,
  worker,
  status,
  logs,
  events,
  locks,
  diff,
  dashboard,
  stop,
  clean,
  apply,
  heartbeat,
  spawn,
  lock,
  write,
  append,
  state,
  queue,
  resource,
  propose,
  vote,
  decision,
  completion,
];

export function buildProgram(): Command {
  const program = new Command('coord')
    .description('Run parallel streams safely side by side: isolated workspaces, supervision, convergence.')
    .version(version(), '-V, --version')
    .showHelpAfterError()
    // the program's own options (--backend, --version) come before the command, so that a
    // CMD's (`coord lock PATH sh -V`) are never taken for them; RunsCommand needs it too
    .enablePositionalOptions()
    .exitOverride((e) => {
      // commander's usage errors exit 2 (SPEC: bad usage); help and version exit 0.
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
        process.exitCode = EXIT.ok;
      } else {
        process.exitCode = EXIT.usage;
      }
      throw e;
    });
  addBackend(program);
  program.addHelpText('after', '\nExamples:\n  coord init && coord run plan.yaml\n  coord status --json\n  coord help lock\n  source <(coord completion bash)');
  for (const c of COMMANDS) c.register(program);
  groupOrder(program);
  return program;
}

const RANK: ReadonlyMap<string | undefined, number> = new Map([GROUPS.output, GROUPS.run, GROUPS.backend].map((g, i) => [g, i + 1]));

/** The same order of option groups in every command's help: its own options, then output, run, backend. */
function groupOrder(cmd: Command): void {
  (cmd.options as Option[]).sort((a, b) => (RANK.get(a.helpGroupHeading) ?? 0) - (RANK.get(b.helpGroupHeading) ?? 0));
  for (const c of cmd.commands) groupOrder(c);
}

export async function runProgram(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
  } catch (e) {
    // commander has printed its own message; the exit code is set in exitOverride.
    if (!(e instanceof Error && 'code' in e && String((e as { code: unknown }).code).startsWith('commander.'))) reportError(e);
  }
}
