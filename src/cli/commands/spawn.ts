/**
 * `coord spawn --id ID [--depends-on A,B] [--capabilities X,Y] [--wait] -- CMD ARGS…`: adds a
 * stream to the running run (a planning agent fanning work out). It talks to the run's
 * coordinator over its control socket; with `--wait` it exits with the new stream's exit code.
 */
import { connect } from 'node:net';
import { openBackend, resolveRun } from '../context.js';
import { UsageError } from '../../util/result.js';
import type { ControlReply, SpawnRequestMessage } from '../../orchestrator/control.js';

export interface SpawnFlags {
  id: string;
  dependsOn?: string[];
  capabilities?: string[];
  wait?: boolean;
  run?: string;
}

const list = (values: string[] | undefined): string[] => (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);

export async function spawnCommand(command: string[], flags: SpawnFlags): Promise<void> {
  const backend = openBackend();
  const run = await resolveRun(backend, flags.run);
  if (run.state !== 'running' || !run.controlSocket) throw new UsageError(`run ${run.id} is not running: streams are added to a running run`);
  const msg: SpawnRequestMessage = {
    op: 'spawn',
    id: flags.id,
    command: command.length === 1 && /\s/.test(command[0] ?? '') ? (command[0] ?? '') : command,
    dependsOn: list(flags.dependsOn),
    capabilities: list(flags.capabilities),
    wait: flags.wait ?? false,
    ...(process.env.COORD_STREAM_ID ? { from: process.env.COORD_STREAM_ID } : {}),
  };
  const socketPath = run.controlSocket;
  await new Promise<void>((resolve, reject) => {
    const socket = connect(socketPath);
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('error', (e) => reject(new UsageError(`cannot reach the coordinator of run ${run.id}: ${e.message}`, 1)));
    socket.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const reply = JSON.parse(buf.slice(0, nl)) as ControlReply;
        buf = buf.slice(nl + 1);
        if (!reply.ok) {
          socket.destroy();
          reject(new UsageError(`spawn ${flags.id}: ${reply.error}`));
          return;
        }
        if (reply.event === 'registered') {
          process.stdout.write(`registered ${reply.id} in run ${run.id}\n`);
          if (!msg.wait) {
            socket.end();
            resolve();
          }
        } else {
          process.stdout.write(`${reply.id} ${reply.state}${reply.exitCode !== null ? ` (exit code ${reply.exitCode})` : ''}\n`);
          process.exitCode = reply.state === 'succeeded' ? 0 : (reply.exitCode ?? 1) || 1;
          socket.end();
          resolve();
        }
      }
    });
    socket.on('close', () => resolve());
    socket.write(JSON.stringify(msg) + '\n');
  });
}
