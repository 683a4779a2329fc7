/**
 * `coord queue send TOPIC [MESSAGE]`, `recv TOPIC [--group G] [--as NAME] [--wait DUR]
 * [--ack-timeout DUR]`, `ack TOPIC ID`, `ls`: message queues of a run (src/queue/queue.ts).
 *
 * The consumer (the cursor) is `--group`, else `--as`, else the calling stream
 * ($COORD_STREAM_ID); the member that receives is `--as`, else the stream, else `pid:<pid>`.
 * Exit codes: 0 done; 75 no message (at once without --wait, else when the wait ran out);
 * 2 bad usage (names, durations, ids, the state's read-only topic); 1 an ack of a message that
 * is not waiting for one.
 */
import { openBackend, resolveRun } from '../../../context/backend.js';
import { formatDuration } from '../../../util/duration.js';
import { UsageError } from '../../errors.js';
import { CoordError } from '../../../core/errors.js';
import { ID_PATTERN } from '../../../plan/types.js';
import { readStdin } from '../../../locks/env.js';
import { MessageQueue, type TopicSummary } from '../../../queue/queue.js';

/** The options; durations in ms (parsed by commander: a bad one is a usage error before this runs). */
export interface QueueFlags {
  run?: string;
  json?: boolean;
  group?: string;
  as?: string;
  wait?: number;
  ackTimeout?: number;
}

const NAME_RULE = "1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit";

function name(what: string, value: string): string {
  if (!ID_PATTERN.test(value)) throw new UsageError(`bad ${what} ${JSON.stringify(value)}: use ${NAME_RULE}`);
  return value;
}

/** The calling stream, when there is one (checked: it names cursors). */
function streamId(): string | undefined {
  const id = process.env.COORD_STREAM_ID;
  if (!id) return undefined;
  return name('$COORD_STREAM_ID', id);
}

/** The cursor and the member of recv and ack. */
function who(flags: QueueFlags, verb: string): { consumer: string; member: string } {
  if (flags.group !== undefined) name('group name', flags.group);
  if (flags.as !== undefined) name('consumer name (--as)', flags.as);
  const stream = streamId();
  const consumer = flags.group ?? flags.as ?? stream;
  if (consumer === undefined) {
    throw new UsageError(
      `${verb} needs a consumer: --group G (members share the messages), --as NAME (a consumer of its own), or call it inside a stream (its id, $COORD_STREAM_ID, is the default)`,
    );
  }
  return { consumer, member: flags.as ?? stream ?? `pid:${process.pid}` };
}

async function openQueue(flags: QueueFlags): Promise<MessageQueue> {
  const backend = await openBackend();
  const run = await resolveRun(backend, flags.run);
  return MessageQueue.open(backend, run.id, { sender: process.env.COORD_STREAM_ID || null });
}

export async function queueSendCommand(topic: string, message: string | undefined, flags: QueueFlags): Promise<void> {
  name('topic name', topic);
  let body: string;
  if (message !== undefined) body = message;
  else {
    if (process.stdin.isTTY) throw new UsageError('give the message as an argument or on standard input (coord queue send TOPIC MESSAGE)');
    body = (await readStdin()).toString('utf8');
  }
  const queue = await openQueue(flags);
  const id = await queue.send(topic, body);
  process.stdout.write(flags.json ? JSON.stringify({ topic, id }) + '\n' : `${id}\n`);
}

export async function queueRecvCommand(topic: string, flags: QueueFlags): Promise<void> {
  name('topic name', topic);
  const { consumer, member } = who(flags, 'recv');
  const waitMs = flags.wait;
  const ackTimeoutMs = flags.ackTimeout;
  if (ackTimeoutMs === 0) throw new UsageError('--ack-timeout must be more than 0 (without it, a message is done once received)');
  const queue = await openQueue(flags);
  const got = await queue.recv(topic, {
    consumer,
    member,
    ...(ackTimeoutMs !== undefined ? { ackTimeoutMs } : {}),
    ...(waitMs !== undefined ? { waitMs } : {}),
  });
  if (!got) {
    throw new CoordError('timeout', `no message for ${consumer} on ${topic}${waitMs ? ` within ${formatDuration(waitMs)}` : ''}`);
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify({ topic: got.topic, id: got.id, body: got.body, sender: got.sender, time: got.time, delivery: got.delivery }) + '\n');
  } else {
    process.stdout.write(got.body.endsWith('\n') ? got.body : got.body + '\n');
  }
}

export async function queueAckCommand(topic: string, id: string, flags: QueueFlags): Promise<void> {
  name('topic name', topic);
  if (!/^\d+$/.test(id) || !Number.isSafeInteger(Number(id)) || Number(id) < 1)
    throw new UsageError(`a message id is a whole number from 1, got ${JSON.stringify(id)}`);
  const { consumer, member } = who(flags, 'ack');
  const queue = await openQueue(flags);
  await queue.ack(topic, Number(id), { consumer, member });
}

export async function queueLsCommand(flags: QueueFlags): Promise<void> {
  const backend = await openBackend();
  const run = await resolveRun(backend, flags.run);
  const topics = await new MessageQueue(backend, run.id).summary();
  if (flags.json) return void process.stdout.write(JSON.stringify({ topics }) + '\n');
  process.stdout.write(table(topics, run.id));
}

function table(topics: TopicSummary[], runId: string): string {
  if (topics.length === 0) return `no topics in run ${runId}\n`;
  const width = Math.max(5, ...topics.map((t) => t.topic.length), ...topics.flatMap((t) => t.consumers.map((c) => c.name.length + 2)));
  const lines = [`${'TOPIC'.padEnd(width)}  SIZE`];
  for (const t of topics) {
    lines.push(`${t.topic.padEnd(width)}  ${t.size}`);
    for (const c of t.consumers) lines.push(`  ${c.name.padEnd(width - 2)}  next ${c.next}  lag ${c.lag}  pending ${c.pending}`);
  }
  return lines.join('\n') + '\n';
}
