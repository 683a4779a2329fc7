/** `coord state get|set|incr|merge|delete|log|rollback|watch`: the definitions (options, help, examples); the actions are ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, examples, lazy } from '../../options.js';

const EXPECT = 'compare-and-set: change only when the state is at version N (exit 75, printing the current version, when it moved)';

/** The options every state subcommand has: --json, --run, --backend. */
function common(cmd: Command): Command {
  addJson(cmd);
  addRunSelector(cmd, { positional: false });
  return addBackend(cmd);
}

/** Adds `coord state` to `program`. */
export function register(program: Command): void {
  const state = program
    .command('state')
    .helpGroup('Inside a stream:')
    .description("the run's versioned shared state: a JSON document, a new version and a change-log entry per change");
  examples(
    state,
    [
      'coord state set config.model \'"sonnet"\'',
      'coord state incr tests.passed 3',
      'V=$(coord state get --json | jq .version); coord state set plan \'{"step":2}\' --expect-version "$V"',
    ],
    'KEY is a dotted path (a.b.c; a number indexes an array). Writes print the new version\n(--json: {"version", "changed", "keys"}, and "value" for incr).',
  );
  const sub = (name: string, description: string, example: string[]): Command => common(examples(state.command(name).description(description), example));

  sub('get', 'print the value at KEY (the whole document without KEY) as JSON', [
    'coord state get config.model',
    'coord state get --json',
    'coord state get plan --version 3',
  ])
    .argument('[key]', 'dotted path')
    .option('--version <n>', 'read an older version (while it is kept)')
    .action(lazy(async () => (await import('./action.js')).stateGetCommand));
  sub('set', 'set KEY to a JSON value', ['coord state set config.model \'"sonnet"\'', 'echo \'{"a":1}\' | coord state set plan'])
    .argument('<key>', 'dotted path')
    .argument('[json]', 'the value as JSON (standard input when omitted)')
    .option('--expect-version <n>', EXPECT)
    .action(lazy(async () => (await import('./action.js')).stateSetCommand));
  sub('incr', 'add N (default 1) to the number at KEY (a missing KEY counts as 0)', ['coord state incr tests.passed', 'coord state incr budget.left -5 --json'])
    .argument('<key>', 'dotted path')
    .argument('[n]', 'a number, may be negative', '1')
    .option('--expect-version <n>', EXPECT)
    .action(lazy(async () => (await import('./action.js')).stateIncrCommand));
  sub('merge', 'deep-merge a JSON object into the object at KEY', ['coord state merge config \'{"retries":2}\''])
    .argument('<key>', 'dotted path')
    .argument('[json]', 'a JSON object (standard input when omitted)')
    .option('--expect-version <n>', EXPECT)
    .action(lazy(async () => (await import('./action.js')).stateMergeCommand));
  sub('delete', 'remove KEY', ['coord state delete config.model'])
    .argument('<key>', 'dotted path')
    .option('--expect-version <n>', EXPECT)
    .action(lazy(async () => (await import('./action.js')).stateDeleteCommand));
  sub('log', 'the change log: version, time, stream, operation, keys changed', ['coord state log', 'coord state log --since 10 --json'])
    .option('--since <n>', 'entries after version N')
    .action(lazy(async () => (await import('./action.js')).stateLogCommand));
  sub('rollback', 'make a new version equal to VERSION (a kept version or a snapshot)', ['coord state rollback 4'])
    .argument('<version>', 'the version to return to')
    .option('--expect-version <n>', EXPECT)
    .action(lazy(async () => (await import('./action.js')).stateRollbackCommand));
  sub('watch', 'print each new version that touches KEY (the whole document without KEY), until interrupted', [
    'coord state watch tests',
    'coord state watch --json --since 0',
  ])
    .argument('[key]', 'dotted path')
    .option('--since <n>', 'start with the versions after N (default: the current version; nothing is missed in between)')
    .action(lazy(async () => (await import('./action.js')).stateWatchCommand));
}
