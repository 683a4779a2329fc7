/**
 * The command line (commander). Each command's action lives in src/cli/commands/<name>.ts
 * and is imported only when that command runs.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { reportError } from './errors.js';
import { version } from './version.js';
import { closeBackends } from '../context/opened.js';
import { RunsCommand, type OwnArguments } from './runs-command.js';
import { parseDurationText } from '../util/duration.js';

/**
 * The parser of every duration option: milliseconds, or commander's InvalidArgumentError, so a
 * bad value is a usage error (exit 2) whose message names the option, before any action runs.
 */
function duration(value: string): number {
  const r = parseDurationText(value);
  if (!r.ok) throw new InvalidArgumentError(r.error);
  return r.ms;
}

/** `parent.command(name)` for a command that runs a CMD (see runs-command.ts). */
function runsCommand(parent: Command, name: string, own: OwnArguments): RunsCommand {
  const cmd = new RunsCommand(name, own).copyInheritedSettings(parent);
  parent.addCommand(cmd);
  return cmd;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of 1 or more');
  return n;
}

/** Wraps a lazily imported action so its errors become a message and an exit code. */
function lazy<A extends unknown[]>(load: () => Promise<(...args: A) => Promise<void>>) {
  return async (...args: A): Promise<void> => {
    try {
      // --backend (on any command) is COORD_BACKEND for this process and the streams it starts
      const flag = (args[args.length - 1] as Command | undefined)?.optsWithGlobals?.().backend as string | undefined;
      if (flag !== undefined) process.env.COORD_BACKEND = (await import('../context/backend.js')).checkBackendUrl(flag, '--backend') ?? '';
      const action = await load();
      await action(...args);
    } catch (e) {
      reportError(e);
    } finally {
      await closeBackends();
    }
  };
}

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
        process.exitCode = 0;
      } else {
        process.exitCode = 2;
      }
      throw e;
    });

  program
    .command('run')
    .description('validate a plan and run it to the end')
    .argument('<plan>', 'the plan file (YAML)')
    .addOption(new Option('-c, --concurrency <n>', 'streams running at once (default 10)').argParser(positiveInt))
    .option('--json', 'print every event as one JSON object a line on stdout (all else on stderr)')
    .option('--dry-run', 'validate and print the order streams would start in, run nothing')
    .option('--rm', "remove succeeded streams' workspaces once merged")
    .option('--keep-workspaces', 'keep git worktrees after the run (removed by default)')
    .option('-q, --quiet', 'print only failures and the summary')
    .option('--report <file>', 'write a JUnit XML report (a testcase per stream and convergence point)')
    .option('--resume <run>', 'continue a run whose coordinator died: succeeded streams are kept, the rest run')
    .option('--adopt', 'with --resume: watch streams the dead coordinator left running to their end instead of restarting them')
    .option('--workers', 'run the streams on `coord worker` hosts of the --backend Redis server (concurrency: no limit of its own unless -c)')
    .addHelpText('after', '\nExamples:\n  coord run plan.yaml\n  coord run plan.yaml --concurrency 4 --rm\n  coord run plan.yaml --json > events.ndjson')
    .action(lazy(async () => (await import('./commands/run.js')).runCommand));

  program
    .command('continue')
    .description('go on with a run whose convergence point failed on a conflict: publish the resolution, run what was skipped')
    .argument('[run]', 'run id (default: the newest run)')
    .addOption(new Option('-c, --concurrency <n>', 'streams running at once (default 10)').argParser(positiveInt))
    .option('--json', 'print every event as one JSON object a line on stdout (all else on stderr)')
    .option('-q, --quiet', 'print only failures and the summary')
    .option('--report <file>', 'write a JUnit XML report')
    .addHelpText(
      'after',
      '\nA failed point leaves its conflicts in .coord/runs/<run>/conflicts/<point>/: each conflicting path, to resolve\n' +
        '(the text with markers, or the first version; delete it to take a deletion), with the base and every\n' +
        "stream's version in .coord-conflict/ beside it. Resolve them, then run coord continue: the point is published\n" +
        'with the resolutions and its dependents run (like git merge --continue).\n\nExamples:\n  coord continue\n  coord continue 20261202-101500-3fa2c1',
    )
    .action(lazy(async () => (await import('./commands/continue.js')).continueCommand));

  program
    .command('diff')
    .description("a stream's change set against the base it was seeded from (a patch git apply takes)")
    .argument('<stream>', 'stream id')
    .argument('[run]', 'run id (default: the newest run)')
    .option('--stat', 'a summary per file (like git diff --stat)')
    .option('--json', 'machine-readable: every changed path with its change, kind and line counts')
    .addHelpText('after', '\nExamples:\n  coord diff auth\n  coord diff auth --stat\n  coord diff auth | git apply')
    .action(lazy(async () => (await import('./commands/diff.js')).diffCommand));

  program
    .command('apply')
    .description("write a point's merged change set onto DIR (default: the base directory, i.e. your checkout)")
    .argument('<point>', 'convergence point name')
    .argument('[run]', 'run id (default: the newest run)')
    .option('--to <dir>', 'apply there instead of the base directory')
    .option('-n, --dry-run', 'print what would change, write nothing')
    .option('--json', 'machine-readable: the changes, and the paths refused')
    .addHelpText('after', '\nRefuses (exit 1, nothing written) where DIR changed one of those paths since the run seeded from it.\n\nExamples:\n  coord apply review --dry-run\n  coord apply review\n  coord apply review --to ../other-checkout')
    .action(lazy(async () => (await import('./commands/apply.js')).applyCommand));

  program
    .command('worker')
    .description('run streams of runs coordinated through a Redis server (coord run --workers) on this host')
    .addOption(new Option('--slots <n>', 'streams run at once (default: the number of CPUs)').argParser(positiveInt))
    .option('--capabilities <list>', 'comma-separated capabilities this host offers (matched with streams\' `requires:`)')
    .option('--resources <list>', 'units this host has, as NAME=N,… (matched with streams\' `resources:`)')
    .option('--name <id>', 'the worker id (default: <host>-<pid>)')
    .addOption(new Option('--lease <duration>', 'how long the worker counts as alive without renewing (a lost worker\'s streams run again elsewhere after it)').argParser(duration).default(10_000, '10s'))
    .addHelpText('after', '\nExamples:\n  coord worker --backend redis://10.0.0.5:6379 --slots 8\n  coord worker --backend redis://10.0.0.5:6379 --capabilities gpu --resources gpu=2')
    .action(lazy(async () => (await import('./commands/worker.js')).workerCommand));

  program
    .command('validate')
    .description('check a plan (schema and graph) without running it; prints ok or every error')
    .argument('<plan>', 'the plan file (YAML)')
    .action(lazy(async () => (await import('./commands/validate.js')).validateCommand));

  program
    .command('status')
    .description('state of a run (the newest unless RUN_ID): streams, convergence points, resources')
    .argument('[run]', 'run id')
    .option('--json', 'machine-readable output (SPEC §5)')
    .option('-w, --watch', 'refresh until the run ends')
    .action(lazy(async () => (await import('./commands/status.js')).statusCommand));

  program
    .command('logs')
    .description("a stream's output (stdout and stderr)")
    .argument('<stream>', 'stream id')
    .argument('[run]', 'run id (default: the newest run)')
    .option('-f, --follow', 'keep printing new output until the stream ends')
    .addOption(new Option('--fd <fd>', 'only one of the two').choices(['stdout', 'stderr']))
    .action(lazy(async () => (await import('./commands/logs.js')).logsCommand));

  program
    .command('events')
    .description("the run's event log")
    .argument('[run]', 'run id (default: the newest run)')
    .option('-f, --follow', 'keep printing new events until the run ends')
    .option('--json', 'one JSON object a line, as stored')
    .action(lazy(async () => (await import('./commands/events.js')).eventsCommand));

  program
    .command('stop')
    .description("cancel a run: every stream's process tree ends, nothing is merged half-way")
    .argument('[run]', 'run id (default: the newest run)')
    .addOption(new Option('--timeout <duration>', 'how long to wait for the run to end').argParser(duration).default(60_000, '60s'))
    .action(lazy(async () => (await import('./commands/stop.js')).stopCommand));

  program
    .command('clean')
    .description('remove a run (or all finished runs) and their workspaces')
    .argument('[run]', 'run id')
    .option('--all', 'every run that is not running')
    .action(lazy(async () => (await import('./commands/clean.js')).cleanCommand));

  program
    .command('init')
    .description('write a starter plan from a template (default: fork-join)')
    .argument('[template]', 'template name (see --list)')
    .option('-l, --list', 'list the templates')
    .option('-o, --output <file>', 'where to write the plan', 'plan.yaml')
    .option('-f, --force', 'overwrite an existing file')
    .addHelpText('after', '\nExamples:\n  coord init --list\n  coord init research -o research.yaml')
    .action(lazy(async () => (await import('./commands/init.js')).initCommand));

  program
    .command('dashboard')
    .description('a live web page of a run (the newest unless RUN_ID), on 127.0.0.1 only')
    .argument('[run]', 'run id (default: the newest run)')
    .option('-p, --port <port>', 'port to listen on (default: any free port)')
    .option('--open', 'open the page in the default browser')
    .addHelpText('after', '\nThe first line printed is the URL, with the access token; Ctrl-C stops the server.')
    .action(lazy(async () => (await import('./commands/dashboard.js')).dashboardCommand));

  runsCommand(program, 'spawn', { takes: () => false, needs: 0 })
    .description('add a stream to the running run (from a stream: its own run)')
    .requiredOption('--id <id>', 'the new stream id')
    .option('--depends-on <ids...>', 'stream ids, convergence point names or capability:NAME (comma-separated or repeated)')
    .option('--capabilities <names...>', 'capabilities the new stream offers')
    .option('--wait', "wait for the stream to end and exit with its exit code")
    .option('--run <run>', 'run id (default: $COORD_RUN_DIR, else the newest run)')
    .argument('<command...>', 'the command after --; one argument with spaces runs through sh -c')
    .addHelpText('after', '\nExamples:\n  coord spawn --id shard-1 -- ./test.sh 1\n  coord spawn --id report --depends-on shard-1,shard-2 --wait -- sh -c "cat results/*"')
    .action(lazy(async () => {
      const { spawnCommand } = await import('./commands/spawn.js');
      return (command: string[], flags: import('./commands/spawn.js').SpawnFlags) => spawnCommand(command, flags);
    }));

  runsCommand(program, 'lock', { takes: (_word, count) => count < 1, needs: 1 })
    .description('run CMD holding a read or write lock on PATH (like flock(1)); CMD gets COORD_LOCK_TOKEN')
    .argument('<path>', 'the file to lock (it need not exist)')
    .option('-r, --read', 'a shared lock: many readers at once')
    .option('-w, --write', 'an exclusive lock (the default)')
    .option('-t, --timeout <duration>', 'give up (exit 75) when not granted in time', duration)
    .option('--lease <duration>', 'how long the grant lives without renewal (default 10s; renewed every third)', duration)
    .argument('<command...>', 'the command after --; one argument with spaces runs through sh -c')
    .addHelpText('after', '\nOptions may come before or after PATH; CMD is what follows --.\n\nExit: CMD\'s code; 75 when the lock is not granted in time, a deadlock is found, or the lock is lost while CMD runs.\n\nExamples:\n  coord lock notes.md -- sh -c \'cat notes.md; echo more >> notes.md\'\n  coord lock data.json --read --timeout 30s -- ./report.sh')
    .action(lazy(async () => (await import('./commands/lock.js')).lockCommand));

  program
    .command('write')
    .description('replace PATH with standard input atomically (temp file, fsync, rename)')
    .argument('<path>', 'the file to replace')
    .option('--fence <token>', 'refuse (exit 1, nothing written) unless this is the newest lock token granted for PATH')
    .option('-t, --timeout <duration>', "how long to wait for PATH's write lock (exit 75)", duration)
    .addHelpText('after', '\nExamples:\n  echo \'{"ok":true}\' | coord write result.json\n  coord lock result.json -- sh -c \'... | coord write --fence "$COORD_LOCK_TOKEN" result.json\'')
    .action(lazy(async () => (await import('./commands/write.js')).writeCommand));

  program
    .command('append')
    .description('append standard input to PATH as one whole record, under its write lock')
    .argument('<path>', 'the file to append to (created when missing)')
    .option('--fence <token>', 'refuse (exit 1, nothing written) unless this is the newest lock token granted for PATH')
    .option('-t, --timeout <duration>', "how long to wait for PATH's write lock (exit 75)", duration)
    .addHelpText('after', '\nA newline is added when the record does not end with one.\n\nExample:\n  echo "shard 3 done" | coord append progress.log')
    .action(lazy(async () => (await import('./commands/write.js')).appendCommand));

  program
    .command('locks')
    .description("locks held now, their holders and waiters, contention per lock (a run's, or --all)")
    .argument('[run]', 'run id (default: the calling stream\'s run, else the newest run)')
    .option('--all', 'every lock of this machine\'s lock registry, inside a run or not')
    .option('--json', 'machine-readable output (SPEC §5)')
    .action(lazy(async () => (await import('./commands/locks.js')).locksCommand));

  program
    .command('heartbeat')
    .description("record a heartbeat for the calling stream (COORD_HEARTBEAT_FILE)")
    .option('--progress <n>', 'progress, 0-100')
    .option('--message <text>', 'what the stream is doing')
    .action(lazy(async () => (await import('./commands/heartbeat.js')).heartbeatCommand));

  const RUN_OPT = 'run id (default: $COORD_RUN_DIR, else the newest run)';
  const EXPECT = 'compare-and-set: change only when the state is at version N (exit 75, printing the current version, when it moved)';
  const state = program
    .command('state')
    .description("the run's versioned shared state: a JSON document, a new version and a change-log entry per change")
    .addHelpText('after', '\nKEY is a dotted path (a.b.c; a number indexes an array). Writes print the new version.\n\nExamples:\n  coord state set config.model \'"sonnet"\'\n  coord state incr tests.passed 3\n  V=$(coord state get --json | jq .version); coord state set plan \'{"step":2}\' --expect-version "$V"');
  state
    .command('get')
    .description('print the value at KEY (the whole document without KEY) as JSON')
    .argument('[key]', 'dotted path')
    .option('--json', 'print {"version", "value"}')
    .option('--version <n>', 'read an older version (while it is kept)')
    .option('--run <run>', RUN_OPT)
    .action(lazy(async () => (await import('./commands/state.js')).stateGetCommand));
  state
    .command('set')
    .description('set KEY to a JSON value')
    .argument('<key>', 'dotted path')
    .argument('[json]', 'the value as JSON (standard input when omitted)')
    .option('--expect-version <n>', EXPECT)
    .option('--json', 'print {"version", "keys"}')
    .option('--run <run>', RUN_OPT)
    .action(lazy(async () => (await import('./commands/state.js')).stateSetCommand));
  state
    .command('incr')
    .description('add N (default 1) to the number at KEY (a missing KEY counts as 0)')
    .argument('<key>', 'dotted path')
    .argument('[n]', 'a number, may be negative', '1')
    .option('--expect-version <n>', EXPECT)
    .option('--json', 'print {"version", "keys", "value"}')
    .option('--run <run>', RUN_OPT)
    .action(lazy(async () => (await import('./commands/state.js')).stateIncrCommand));
  state
    .command('merge')
    .description('deep-merge a JSON object into the object at KEY')
    .argument('<key>', 'dotted path')
    .argument('[json]', 'a JSON object (standard input when omitted)')
    .option('--expect-version <n>', EXPECT)
    .option('--json', 'print {"version", "keys"}')
    .option('--run <run>', RUN_OPT)
    .action(lazy(async () => (await import('./commands/state.js')).stateMergeCommand));
  state
    .command('delete')
    .description('remove KEY')
    .argument('<key>', 'dotted path')
    .option('--expect-version <n>', EXPECT)
    .option('--json', 'print {"version", "keys"}')
    .option('--run <run>', RUN_OPT)
    .action(lazy(async () => (await import('./commands/state.js')).stateDeleteCommand));
  state
    .command('log')
    .description('the change log: version, time, stream, operation, keys changed')
    .option('--json', 'one JSON object a line')
    .option('--since <n>', 'entries after version N')
    .option('--run <run>', RUN_OPT)
    .action(lazy(async () => (await import('./commands/state.js')).stateLogCommand));
  state
    .command('rollback')
    .description('make a new version equal to VERSION (a kept version or a snapshot)')
    .argument('<version>', 'the version to return to')
    .option('--expect-version <n>', EXPECT)
    .option('--json', 'print {"version", "keys"}')
    .option('--run <run>', RUN_OPT)
    .action(lazy(async () => (await import('./commands/state.js')).stateRollbackCommand));
  state
    .command('watch')
    .description('print each new version that touches KEY (the whole document without KEY), until interrupted')
    .argument('[key]', 'dotted path')
    .option('--json', 'one JSON object a line: {"version", "stream", "op", "keys", "value"}')
    .option('--since <n>', 'start with the versions after N (default: the current version; nothing is missed in between)')
    .option('--run <run>', RUN_OPT)
    .action(lazy(async () => (await import('./commands/state.js')).stateWatchCommand));

  const queue = program
    .command('queue')
    .description('message queues between streams: topics are append-only logs read by consumers and groups')
    .addHelpText('after', '\nExamples:\n  coord queue send jobs \'{"file":"a.ts"}\'\n  coord queue recv jobs --group workers --wait 30s --ack-timeout 5m --json\n  coord queue ack jobs 17 --group workers');
  queue
    .command('send')
    .description('append a message to TOPIC; prints its id')
    .argument('<topic>', 'topic name (letters, digits, _ . -)')
    .argument('[message]', 'the message (standard input when omitted)')
    .option('--json', 'print {"topic", "id"}')
    .option('--run <run>', RUN_OPT)
    .action(lazy(async () => (await import('./commands/queue.js')).queueSendCommand));
  queue
    .command('recv')
    .description("print the consumer's next message of TOPIC (exit 75 when there is none in time)")
    .argument('<topic>', 'topic name')
    .option('-g, --group <group>', 'share the work with the other members of G: each message goes to one of them')
    .option('--as <name>', 'consume as NAME (default: $COORD_STREAM_ID)')
    .option('-w, --wait <duration>', 'wait this long for a message (exit 75 when none came)', duration)
    .option('--ack-timeout <duration>', 'at-least-once: hand the message to the group again unless acknowledged in time', duration)
    .option('--json', 'print {"topic", "id", "body", "sender", "time", "delivery"}')
    .option('--run <run>', RUN_OPT)
    .action(lazy(async () => (await import('./commands/queue.js')).queueRecvCommand));
  queue
    .command('ack')
    .description('acknowledge message ID (received with --ack-timeout)')
    .argument('<topic>', 'topic name')
    .argument('<id>', 'the message id')
    .option('-g, --group <group>', 'the group it was received in')
    .option('--as <name>', 'the consumer (default: $COORD_STREAM_ID)')
    .option('--run <run>', RUN_OPT)
    .action(lazy(async () => (await import('./commands/queue.js')).queueAckCommand));
  queue
    .command('ls')
    .description('topics, their sizes, and every consumer\'s position, lag and unacknowledged messages')
    .option('--json', 'print {"topics":[{"topic","size","consumers":[{"name","next","lag","pending"}]}]}')
    .option('--run <run>', RUN_OPT)
    .action(lazy(async () => (await import('./commands/queue.js')).queueLsCommand));

  const resource = program.command('resource').description("units of the run's resource pools (agent_coordination.resources)");
  // own arguments: words with an = and no space (NAME=N; a bad one like gpu=x is named by the command)
  runsCommand(resource, 'acquire', { takes: (word) => /^[^\s=]+=\S*$/.test(word), needs: 0 })
    .description("run CMD holding units of the run's resource pools; exits with CMD's code")
    .argument('<args...>', 'NAME=N for each pool, then -- and the command (one argument with spaces runs through sh -c)')
    .option('-t, --timeout <duration>', 'give up (exit 75, naming the holders) when not granted in time', duration)
    .option('--priority <n>', "higher is served first (default: the calling stream's plan priority, else 0)")
    .option('--run <run>', 'run id (default: $COORD_RUN_DIR, else the newest run)')
    .addHelpText(
      'after',
      "\nAll units are taken at once or none. They go back when CMD ends, however it ends, and when\nthis process dies. Exit: CMD's code; 75 not granted in time; 2 unknown pool or demand over capacity.\n\nExamples:\n  coord resource acquire gpu=1 -- python train.py\n  coord resource acquire api_slots=2 gpu=1 --timeout 5m -- ./run-agent.sh",
    )
    .action(lazy(async () => {
      const { resourceAcquireCommand } = await import('./commands/resource.js');
      return (_args: string[], flags: import('./commands/resource.js').AcquireFlags, cmd: RunsCommand) => resourceAcquireCommand(cmd.ownWords, cmd.commandWords, flags);
    }));

  program
    .command('propose')
    .description('open a quorum vote among the run\'s streams')
    .argument('<name>', 'proposal name (letters, digits, _ . -)')
    .option('-q, --quorum <quorum>', 'majority | all | K (yes-votes) | P% (of the voters)', 'majority')
    .option('--voters <names...>', 'who votes (comma-separated or repeated; default: the streams running now)')
    .option('-t, --timeout <duration>', 'rejected when undecided this long after opening', duration)
    .option('--value <json>', 'what is decided on, as JSON (kept with the proposal)')
    .option('--run <run>', 'run id (default: $COORD_RUN_DIR, else the newest run)')
    .option('--json', 'print the proposal record')
    .addHelpText('after', '\nExamples:\n  coord propose release --quorum all --timeout 10m\n  coord propose pick-plan --voters a,b,c --quorum 2 --value \'{"plan":"B"}\'')
    .action(lazy(async () => (await import('./commands/consensus.js')).proposeCommand));

  program
    .command('vote')
    .description('vote on a proposal (or a convergence point\'s approval) as the calling stream or --as NAME')
    .argument('<name>', 'proposal name (a convergence point with approve: is its own proposal)')
    .argument('<vote>', 'yes or no')
    .option('--reason <text>', 'why, kept with the vote')
    .option('--as <voter>', 'vote as this voter (default: $COORD_STREAM_ID)')
    .option('--run <run>', 'run id (default: $COORD_RUN_DIR, else the newest run)')
    .option('--json', 'print the proposal record')
    .addHelpText('after', '\nOne vote per voter: a second vote, or a vote by a non-voter, exits 1.\n\nExamples:\n  coord vote release yes --reason "tests pass"\n  coord vote merge-docs no --as alice --run 20261123-223001-4f2a1c')
    .action(lazy(async () => (await import('./commands/consensus.js')).voteCommand));

  program
    .command('decision')
    .description('print a proposal\'s decision: accepted, rejected or pending')
    .argument('<name>', 'proposal name')
    .option('-w, --wait <duration>', 'wait this long for a decision (exit 75 when still pending)', duration)
    .option('--run <run>', 'run id (default: $COORD_RUN_DIR, else the newest run)')
    .option('--json', 'print the proposal record (votes included)')
    .addHelpText('after', '\nExit: 0 (whatever the decision), 75 when --wait ended with it pending, 2 no such proposal.\n\nExample:\n  coord decision release --wait 5m && echo decided')
    .action(lazy(async () => (await import('./commands/consensus.js')).decisionCommand));

  const backendHelp = 'store runs on this Redis server: redis://HOST[:PORT][/DB] (default: $COORD_BACKEND, else files under .coord)';
  program.option('--backend <url>', backendHelp);
  const addBackend = (c: Command): void => {
    for (const sub of c.commands) {
      if (sub.commands.length === 0) sub.option('--backend <url>', backendHelp);
      addBackend(sub);
    }
  };
  addBackend(program);
  return program;
}

export async function runProgram(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
  } catch (e) {
    // commander has printed its own message; the exit code is set in exitOverride.
    if (!(e instanceof Error && 'code' in e && String((e as { code: unknown }).code).startsWith('commander.'))) reportError(e);
  }
}
