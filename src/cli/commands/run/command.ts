/** `coord run PLAN`: the definition (options, help, examples); the action is ./action.ts. */
import { Option, type Command } from 'commander';
import { addBackend, addJson, examples, GROUPS, lazy, positiveInt, reporterOption } from '../../options.js';

/** `-c, --concurrency N`, shared with `coord continue`. */
export const concurrencyOption = (): Option => new Option('-c, --concurrency <n>', 'streams running at once (default 10)').argParser(positiveInt);
/** `-q, --quiet`: `-q` is quiet wherever it appears (`coord propose` spells its quorum out: --quorum). */
export const quietOption = (): Option => new Option('-q, --quiet', 'print only failures and the summary').helpGroup(GROUPS.output);

/** Adds `coord run` to `program`. */
export function register(program: Command): void {
  const cmd = program
    .command('run')
    .helpGroup('Run a plan:')
    .description('validate a plan and run it to the end')
    .argument('<plan>', 'the plan file (YAML)')
    .addOption(concurrencyOption())
    .option('--dry-run', 'validate and print the order streams would start in, run nothing (--json: {"waves","points"})')
    .option('--rm', "remove succeeded streams' workspaces once merged")
    .option('--keep-workspaces', 'keep git worktrees after the run (removed by default)')
    .addOption(quietOption())
    .addOption(reporterOption())
    .option('--report <file>', 'write a JUnit XML report (a testcase per stream and convergence point)')
    .option('--resume <run>', 'continue a run whose coordinator died: succeeded streams are kept, the rest run')
    .option('--adopt', 'with --resume: watch streams the dead coordinator left running to their end instead of restarting them')
    .option('--workers', 'run the streams on `coord worker` hosts of the --backend Redis server (concurrency: no limit of its own unless -c)');
  addJson(cmd);
  addBackend(cmd);
  examples(
    cmd,
    [
      'coord run plan.yaml',
      'coord run plan.yaml --concurrency 4 --rm',
      'coord run plan.yaml --json > events.ndjson',
      'coord run plan.yaml --dry-run --json',
      'coord run plan.yaml --reporter github',
    ],
    'With --json, every event is one JSON object a line on stdout (all else on stderr).',
  ).action(lazy(async () => (await import('./action.js')).runCommand));
}
