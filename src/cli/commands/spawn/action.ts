/**
 * `coord spawn --id ID [--depends-on A,B] [--capabilities X,Y] [--wait] -- CMD ARGS…`: adds a
 * stream to the running run (a planning agent fanning work out). It talks to the run's
 * coordinator over its control socket; with `--wait` it exits with the new stream's exit code.
 */
import { UsageError } from '../../errors.js';
import { CoordError } from '../../../core/errors.js';
import type { SpawnRequestMessage } from '../../../orchestrator/control.js';
import { codeOfReply, ControlClient, ControlError } from '../../../client/control-client.js';

export interface SpawnFlags {
  id: string;
  dependsOn?: string[];
  capabilities?: string[];
  wait?: boolean;
  run?: string;
  json?: boolean;
}

const list = (values: string[] | undefined): string[] =>
  (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);

export async function spawnCommand(command: string[], flags: SpawnFlags): Promise<void> {
  const client = await ControlClient.open({ run: flags.run }).catch((e: unknown) => {
    // a run that is not running: usage (2); a coordinator that cannot be reached: 1
    throw e instanceof ControlError && e.code === 'not-found' ? new UsageError(`${e.message}: streams are added to a running run`) : e;
  });
  const msg: SpawnRequestMessage = {
    op: 'spawn',
    id: flags.id,
    command: command.length === 1 && /\s/.test(command[0] ?? '') ? (command[0] ?? '') : command,
    dependsOn: list(flags.dependsOn),
    capabilities: list(flags.capabilities),
    wait: flags.wait ?? false,
    ...(process.env.COORD_STREAM_ID ? { from: process.env.COORD_STREAM_ID } : {}),
  };
  client.send(msg);
  try {
    for (;;) {
      const reply = await client.next();
      // a CoordError, not a ControlError: those are the closed connection, caught below; a
      // refused spawn is bad usage unless the coordinator says otherwise
      if (!reply.ok) throw new CoordError(codeOfReply(reply.code, 'invalid'), `spawn ${flags.id}: ${reply.error}`);
      if (reply.event === 'registered') {
        process.stdout.write(
          flags.json ? JSON.stringify({ event: 'registered', id: reply.id, run: client.run.id }) + '\n' : `registered ${reply.id} in run ${client.run.id}\n`,
        );
        if (!msg.wait) return;
      } else if (reply.event === 'ended') {
        process.stdout.write(
          flags.json
            ? JSON.stringify({ event: 'ended', id: reply.id, run: client.run.id, state: reply.state, exitCode: reply.exitCode }) + '\n'
            : `${reply.id} ${reply.state}${reply.exitCode !== null ? ` (exit code ${reply.exitCode})` : ''}\n`,
        );
        process.exitCode = reply.state === 'succeeded' ? 0 : (reply.exitCode ?? 1) || 1;
        return;
      }
    }
  } catch (e) {
    // the connection closed without an answer (the coordinator went away): nothing more to wait for
    if (e instanceof ControlError) return;
    throw e;
  } finally {
    client.close();
  }
}
