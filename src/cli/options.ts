/**
 * The option groups commands share, declared once: `--json`, the run selector (`[run]` and
 * `--run ID`), `--backend`, durations and counts parsed by commander (a bad value is a usage
 * error naming the option, exit 2, before any action runs), help examples, and the wrapper
 * that loads a command's action only when that command runs.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { parseDurationText } from '../util/duration.js';
import { reportError, UsageError } from './errors.js';
import { closeBackends } from '../context/opened.js';
import { REPORTER_NAMES } from '../report/types.js';

/** Help headings of the shared groups. */
export const GROUPS = {
  output: 'Output:',
  run: 'Which run:',
  backend: 'Backend:',
} as const;

/** The parser of every duration option: milliseconds (src/util/duration.ts), else commander's InvalidArgumentError. */
export function duration(value: string): number {
  const r = parseDurationText(value);
  if (!r.ok) throw new InvalidArgumentError(r.error);
  return r.ms;
}

/** The parser of counts such as --concurrency and --slots: a whole number of 1 or more. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of 1 or more');
  return n;
}

/** An option whose value is a duration (`500ms`, `30s`, `5m`, `1h`, a number of seconds), in ms. */
export function durationOption(flags: string, description: string): Option {
  return new Option(flags, description).argParser(duration);
}

const JSON_HELP = 'machine-readable output on stdout (the shapes: docs/cli.md#--json-shapes)';

/** `--json`, the same flag and description on every command that prints data. */
export function addJson(cmd: Command): Command {
  return cmd.addOption(new Option('--json', JSON_HELP).helpGroup(GROUPS.output));
}

const REPORTER_HELP =
  'how progress is shown: plain lines, tty (the live view) or github (a folded group per stream, ::error annotations); ' +
  'default: github under GITHUB_ACTIONS=true, tty on a terminal, plain otherwise (--json wins over it)';

/** `--reporter plain|tty|github`, on the commands that run a plan (`coord run`, `coord continue`). */
export function reporterOption(): Option {
  return new Option('--reporter <name>', REPORTER_HELP).choices(REPORTER_NAMES).helpGroup(GROUPS.output);
}

const RUN_HELP = "run id (default: the calling stream's run, $COORD_RUN_DIR, else the newest run)";

/**
 * The run selector of a command that addresses a run: `--run ID` everywhere, and a last
 * positional `[run]` where the command's written form has one (`coord status RUN_ID`). Both
 * may be given when they agree; {@link selectRun} turns them into one id.
 */
export function addRunSelector(cmd: Command, opts: { positional: boolean }): Command {
  if (opts.positional) cmd.argument('[run]', RUN_HELP);
  return cmd.addOption(new Option('--run <id>', RUN_HELP).helpGroup(GROUPS.run));
}

/** The run a command means: the positional RUN_ID or `--run ID` (a usage error when they differ). */
export function selectRun(positional: string | undefined, flag: string | undefined): string | undefined {
  if (positional !== undefined && flag !== undefined && positional !== flag) throw new UsageError(`two runs named: ${positional} and --run ${flag}; give one`);
  return positional ?? flag;
}

const BACKEND_HELP = 'store runs on this Redis server: redis://HOST[:PORT][/DB] (default: $COORD_BACKEND, else files under .coord)';

/** `--backend URL`, on the program and on every command that reads or writes runs. */
export function addBackend(cmd: Command): Command {
  return cmd.addOption(new Option('--backend <url>', BACKEND_HELP).helpGroup(GROUPS.backend));
}

/** Adds `Examples:` (and an optional note before them) to a command's help. */
export function examples(cmd: Command, lines: string[], note?: string): Command {
  return cmd.addHelpText('after', `${note ? `\n${note}\n` : ''}\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}`);
}

/**
 * Wraps a lazily imported action: `--backend` (the command's or the program's) becomes
 * COORD_BACKEND for this process and the streams it starts, the positional `[run]` and
 * `--run` become one run id (passed where the positional stands), errors become a message and
 * an exit code (reportError), and the backends opened are closed at the end.
 */
export function lazy<A extends unknown[]>(load: () => Promise<(...args: A) => Promise<void>>) {
  return async (...args: A): Promise<void> => {
    try {
      const cmd = args[args.length - 1] as Command;
      const flags = args[args.length - 2] as { run?: string } | undefined;
      const backend = cmd.optsWithGlobals().backend as string | undefined;
      if (backend !== undefined) process.env.COORD_BACKEND = (await import('../context/backend.js')).checkBackendUrl(backend, '--backend') ?? '';
      const at = cmd.registeredArguments.findIndex((a) => a.name() === 'run');
      if (at >= 0) args[at] = selectRun(args[at] as string | undefined, flags?.run);
      const action = await load();
      await action(...args);
    } catch (e) {
      reportError(e);
    } finally {
      await closeBackends();
    }
  };
}
