/**
 * The run's control socket (`<run dir>/control.sock`, mode 0600): how processes of a run
 * ask its coordinator for things while it runs — for now `coord spawn`, which adds a stream.
 * One JSON object a line each way.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, rmSync } from 'node:fs';

export interface SpawnRequestMessage {
  op: 'spawn';
  id: string;
  command: string | string[];
  dependsOn: string[];
  capabilities: string[];
  /** Reply again when the stream ends. */
  wait: boolean;
  /** The stream asking (COORD_STREAM_ID), if any. */
  from?: string;
}

export type ControlReply =
  | { ok: true; id: string; event: 'registered' }
  | { ok: true; id: string; event: 'ended'; state: string; exitCode: number | null }
  | { ok: false; error: string };

export type ControlHandler = (msg: SpawnRequestMessage, reply: (r: ControlReply) => void) => void;

/** Listens on `path` until `close()`; a malformed request gets an error reply. */
export function listenControl(path: string, handle: ControlHandler): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((socket: Socket) => {
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const reply = (r: ControlReply) => {
          if (!socket.destroyed) socket.write(JSON.stringify(r) + '\n');
        };
        let msg: unknown;
        try {
          msg = JSON.parse(line);
        } catch {
          reply({ ok: false, error: 'a request must be one JSON object on one line' });
          continue;
        }
        if (!isSpawn(msg)) reply({ ok: false, error: 'unknown request' });
        else handle(msg, reply);
      }
    });
    socket.on('error', () => undefined);
  });
  server.unref();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      chmodSync(path, 0o600);
      resolve(server);
    });
  });
}

function isSpawn(m: unknown): m is SpawnRequestMessage {
  if (typeof m !== 'object' || m === null) return false;
  const o = m as Record<string, unknown>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  return (
    o.op === 'spawn' &&
    typeof o.id === 'string' &&
    (typeof o.command === 'string' || (strings(o.command) && (o.command as string[]).length > 0)) &&
    strings(o.dependsOn) &&
    strings(o.capabilities) &&
    typeof o.wait === 'boolean'
  );
}
