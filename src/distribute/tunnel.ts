/**
 * The run's control socket for streams on workers: `coord spawn`, `coord resource acquire`,
 * `coord propose` / `vote` / `decision` talk to the coordinator over a Unix socket
 * (src/orchestrator/control.ts), which a stream on another host cannot reach. So each attempt
 * on a worker gets a socket of its own (`COORD_CONTROL_SOCKET`), and every connection to it is
 * carried through the Redis server as a *tunnel* to the coordinator, which opens a connection
 * to its real control socket for it. The coordinator's side is then exactly that of a local
 * client: a request, its replies, and the close that gives back what the connection held
 * (resource units).
 *
 * - Worker → coordinator: `ctl` entries on the run's wire stream (`open`, `line`, `close`), in
 *   order with the attempt's other reports.
 * - Coordinator → worker: entries on the worker's stream `worker:<id>:ctl` (`line`, `close`).
 * - Each message of a tunnel carries a sequence number; one seen before (a command resent
 *   across a reconnect) is dropped, so a request is never made twice.
 * - A tunnel ends when either side closes, when its attempt ends or is lost, or when the run
 *   ends (the coordinator's control server closes its connections).
 */
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onLines } from '../util/lines.js';

/** What goes down to a worker (the `m` field of `worker:<id>:ctl`). */
export interface DownMessage {
  t: string;
  n: number;
  op: 'line' | 'close';
  d?: string;
}

/** What goes up to the coordinator (inside a wire entry `{k: 'ctl', …}`). */
export interface UpMessage {
  t: string;
  n: number;
  op: 'open' | 'line' | 'close';
  d?: string;
}

/** A socket path for `dir`, or a short one in tmp when that is too long for a Unix socket. */
export function socketPath(dir: string, name: string): string {
  const inDir = join(dir, name);
  if (Buffer.byteLength(inDir) < 100) return inDir;
  return join(tmpdir(), `coord-${createHash('sha1').update(inDir).digest('hex').slice(0, 16)}.sock`);
}

/**
 * The worker's end: one listening socket per attempt. `send` puts a message on the wire;
 * `down` is fed what the worker reads from its `ctl` stream.
 */
export class WorkerTunnels {
  private readonly incarnation = randomBytes(4).toString('hex');
  private count = 0;
  private readonly open = new Map<string, { socket: Socket; sent: number; seen: number; attempt: string }>();
  private readonly servers = new Map<string, { server: Server; path: string }>();

  constructor(private readonly send: (attempt: string, m: UpMessage) => void) {}

  /** Listens for an attempt's control connections on `path`; resolves once it does. */
  async listen(attempt: string, path: string): Promise<void> {
    rmSync(path, { force: true });
    const server = createServer((socket) => this.accept(attempt, socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        chmodSync(path, 0o600);
        resolve();
      });
    });
    server.on('error', () => undefined);
    server.unref();
    this.servers.set(attempt, { server, path });
  }

  private accept(attempt: string, socket: Socket): void {
    const t = `${this.incarnation}.${++this.count}`;
    const rec = { socket, sent: 0, seen: 0, attempt };
    this.open.set(t, rec);
    this.send(attempt, { t, n: ++rec.sent, op: 'open' });
    onLines(socket, (d) => {
      if (this.open.get(t) === rec) this.send(attempt, { t, n: ++rec.sent, op: 'line', d });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.open.get(t) !== rec) return;
      this.open.delete(t);
      this.send(attempt, { t, n: ++rec.sent, op: 'close' });
    });
  }

  /** A message from the coordinator. */
  down(m: DownMessage): void {
    const rec = this.open.get(m.t);
    if (!rec || m.n <= rec.seen) return;
    rec.seen = m.n;
    if (m.op === 'line' && m.d !== undefined) {
      if (!rec.socket.destroyed) rec.socket.write(`${m.d}\n`);
    } else if (m.op === 'close') {
      this.open.delete(m.t);
      rec.socket.end();
    }
  }

  /** The attempt ended: its socket stops listening and its connections close (without telling the coordinator, which ends them itself). */
  close(attempt: string): void {
    const s = this.servers.get(attempt);
    if (s) {
      this.servers.delete(attempt);
      s.server.close();
      rmSync(s.path, { force: true });
    }
    for (const [t, rec] of this.open) {
      if (rec.attempt !== attempt) continue;
      this.open.delete(t);
      rec.socket.destroy();
    }
  }

  /** Every attempt's socket is closed. */
  closeAll(): void {
    for (const attempt of [...this.servers.keys()]) this.close(attempt);
    for (const rec of this.open.values()) rec.socket.destroy();
    this.open.clear();
  }
}

/**
 * The coordinator's end: a connection to its own control socket per tunnel. `send` puts a
 * message on the worker's `ctl` stream.
 */
export class CoordinatorTunnels {
  private readonly open = new Map<string, { socket: Socket; sent: number; seen: number; worker: string; attempt: string }>();

  constructor(
    private readonly controlPath: () => string | undefined,
    private readonly send: (worker: string, m: DownMessage) => void,
  ) {}

  /**
   * A message from a worker for one of its attempts. `live`: the attempt is still this
   * worker's and running (a tunnel of a lost attempt is closed at once).
   */
  up(worker: string, attempt: string, m: UpMessage, live: boolean): void {
    const key = `${worker}/${m.t}`;
    const rec = this.open.get(key);
    if (m.op === 'open') {
      if (rec) return; // sent twice
      const path = this.controlPath();
      if (!live || !path) {
        this.send(worker, { t: m.t, n: 1, op: 'close' });
        return;
      }
      const socket = netConnect(path);
      const r = { socket, sent: 0, seen: m.n, worker, attempt };
      this.open.set(key, r);
      onLines(socket, (d) => {
        if (this.open.get(key) === r) this.send(worker, { t: m.t, n: ++r.sent, op: 'line', d });
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (this.open.get(key) !== r) return;
        this.open.delete(key);
        this.send(worker, { t: m.t, n: ++r.sent, op: 'close' });
      });
      return;
    }
    if (!rec || m.n <= rec.seen) return;
    rec.seen = m.n;
    if (m.op === 'line' && m.d !== undefined) rec.socket.write(`${m.d}\n`);
    else if (m.op === 'close') {
      this.open.delete(key);
      rec.socket.end();
    }
  }

  /** The attempt ended or was lost: its tunnels close (what they held is given back). */
  closeAttempt(worker: string, attempt: string): void {
    for (const [key, rec] of this.open) {
      if (rec.worker !== worker || rec.attempt !== attempt) continue;
      this.open.delete(key);
      rec.socket.destroy();
      this.send(worker, { t: key.slice(worker.length + 1), n: ++rec.sent, op: 'close' });
    }
  }

  closeAll(): void {
    for (const rec of this.open.values()) rec.socket.destroy();
    this.open.clear();
  }
}
