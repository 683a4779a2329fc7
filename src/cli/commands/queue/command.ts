/** `coord queue send|recv|ack|ls`: the definitions (options, help, examples); the actions are ./action.ts. */
import type { Command } from 'commander';
import { addBackend, addJson, addRunSelector, durationOption, examples, lazy } from '../../options.js';

/** The options every queue subcommand has: --run, --backend (and --json where it prints data). */
function common(cmd: Command, json: boolean): Command {
  if (json) addJson(cmd);
  addRunSelector(cmd, { positional: false });
  return addBackend(cmd);
}

/** Adds `coord queue` to `program`. */
export function register(program: Command): void {
  const queue = program
    .command('queue')
    .helpGroup('Inside a stream:')
    .description('message queues between streams: topics are append-only logs read by consumers and groups');
  examples(queue, [
    'coord queue send jobs \'{"file":"a.ts"}\'',
    'coord queue recv jobs --group workers --wait 30s --ack-timeout 5m --json',
    'coord queue ack jobs 17 --group workers',
  ]);
  const sub = (name: string, description: string, example: string[], json = true): Command =>
    common(examples(queue.command(name).description(description), example), json);

  sub('send', 'append a message to TOPIC; prints its id (--json: {"topic", "id"})', [
    'coord queue send jobs \'{"file":"a.ts"}\'',
    'git diff --name-only | coord queue send files',
  ])
    .argument('<topic>', 'topic name (letters, digits, _ . -)')
    .argument('[message]', 'the message (standard input when omitted)')
    .action(lazy(async () => (await import('./action.js')).queueSendCommand));
  sub('recv', "print the consumer's next message of TOPIC (exit 75 when there is none in time)", [
    'coord queue recv jobs --wait 30s',
    'coord queue recv jobs --group workers --ack-timeout 5m --json',
  ])
    .argument('<topic>', 'topic name')
    .option('-g, --group <group>', 'share the work with the other members of G: each message goes to one of them')
    .option('--as <name>', 'consume as NAME (default: $COORD_STREAM_ID)')
    .addOption(durationOption('-w, --wait <duration>', 'wait this long for a message (exit 75 when none came)'))
    .addOption(durationOption('--ack-timeout <duration>', 'at-least-once: hand the message to the group again unless acknowledged in time'))
    .action(lazy(async () => (await import('./action.js')).queueRecvCommand));
  sub('ack', 'acknowledge message ID (received with --ack-timeout)', ['coord queue ack jobs 17 --group workers'], false)
    .argument('<topic>', 'topic name')
    .argument('<id>', 'the message id')
    .option('-g, --group <group>', 'the group it was received in')
    .option('--as <name>', 'the consumer (default: $COORD_STREAM_ID)')
    .action(lazy(async () => (await import('./action.js')).queueAckCommand));
  sub('ls', "topics, their sizes, and every consumer's position, lag and unacknowledged messages", ['coord queue ls', 'coord queue ls --json']).action(
    lazy(async () => (await import('./action.js')).queueLsCommand),
  );
}
