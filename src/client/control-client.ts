/**
 * The client side of a run's control socket (src/orchestrator/control.ts): what `coord spawn`,
 * `coord resource acquire`, `coord propose/vote/decision` and the library's
 * {@link ResourcePool} and {@link Consensus} use to reach a running coordinator.
 */
import { connect, type Socket } from 'node:net';
import { basename, resolve } from 'node:path';
import type { HostBackend, RunRecord } from '../backend/types.js';
import { newBackend, resolveRun } from '../context/backend.js';
import type { ControlReply, ControlRequest } from '../orchestrator/control.js';
import { LineSplitter } from '../util/lines.js';
import { CoordError, isErrorCode, type ErrorCode } from '../core/errors.js';

/** Which run: `run` (an id), else the calling stream's (COORD_RUN_DIR in `env`), else the newest under `home`. */
export interface RunTarget {
  run?: string | undefined;
  /** The `.coord` directory (default: COORD_HOME, else derived from COORD_RUN_DIR, else `./.coord`). */
  home?: string | undefined;
  /** Where COORD_RUN_DIR, COORD_STREAM_ID and COORD_HOME are read (default: process.env). */
  env?: NodeJS.ProcessEnv | undefined;
}

/**
 * A refusal or failure reported by the coordinator (or the lack of one to ask): `invalid` (an
 * unknown pool or proposal, a demand over capacity), `refused` (a double vote, a non-voter, the
 * run ended), `timeout`, `not-found` (no running run), `failed` (the coordinator unreachable).
 */
export class ControlError extends CoordError {
  constructor(message: string, code: ErrorCode = 'failed') {
    super(code, message);
    this.name = 'ControlError';
  }
}

/** The run record for `target` and this host's directory of it, read with `use(backend)` while the backend is open. */
export async function findRun<T = undefined>(
  target: RunTarget = {},
  use?: (backend: HostBackend, run: RunRecord) => Promise<T>,
): Promise<{ run: RunRecord; runDir: string; found: T }> {
  const env = target.env ?? process.env;
  const backend = await newBackend(env, target.home);
  try {
    const run = await resolveRun(backend, target.run, env);
    return { run, runDir: backend.runDir(run.id), found: (use ? await use(backend, run) : undefined) as T };
  } finally {
    await backend.close();
  }
}

/**
 * The caller's stream id (COORD_STREAM_ID) when it runs inside a stream of run `runId` (a
 * stream asking another run with --run is no stream of that run).
 */
export function callerStream(env: NodeJS.ProcessEnv = process.env, runId?: string): string | undefined {
  if (!env.COORD_STREAM_ID) return undefined;
  if (runId !== undefined && (!env.COORD_RUN_DIR || basename(resolve(env.COORD_RUN_DIR)) !== runId)) return undefined;
  return env.COORD_STREAM_ID;
}

/** One connection to a running coordinator: requests out, replies in, in order. */
export class ControlClient {
  readonly run: RunRecord;
  readonly runDir: string;
  private readonly socket: Socket;
  private readonly lines = new LineSplitter();
  private readonly replies: ControlReply[] = [];
  private readonly readers: Array<{ resolve: (r: ControlReply) => void; reject: (e: Error) => void }> = [];
  private closedError: Error | undefined;

  private constructor(run: RunRecord, runDir: string, socket: Socket) {
    this.run = run;
    this.runDir = runDir;
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const line of this.lines.push(chunk)) {
        let reply: ControlReply;
        try {
          reply = JSON.parse(line) as ControlReply;
        } catch {
          continue;
        }
        const reader = this.readers.shift();
        if (reader) reader.resolve(reply);
        else this.replies.push(reply);
      }
    });
    const closed = (e?: Error) => {
      this.closedError ??= new ControlError(`the coordinator of run ${run.id} closed the connection${e ? `: ${e.message}` : ''}`);
      for (const r of this.readers.splice(0)) r.reject(this.closedError);
    };
    socket.on('error', closed);
    socket.on('close', () => closed());
  }

  /** Connects to the coordinator of `target`'s run; a ControlError (`not-found`) when that run is not running. */
  static async open(target: RunTarget = {}): Promise<ControlClient> {
    const { run, runDir } = await findRun(target);
    if (run.state !== 'running' || !run.controlSocket) throw new ControlError(`run ${run.id} is not running`, 'not-found');
    // a stream on a worker reaches its run's coordinator through the worker's socket
    const env = target.env ?? process.env;
    const path = env.COORD_CONTROL_SOCKET && callerStream(env, run.id) !== undefined ? env.COORD_CONTROL_SOCKET : run.controlSocket;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', (e) => reject(new ControlError(`cannot reach the coordinator of run ${run.id}: ${e.message}`)));
    });
    return new ControlClient(run, runDir, socket);
  }

  send(msg: ControlRequest): void {
    this.socket.write(JSON.stringify(msg) + '\n');
  }

  /** The next reply (rejects with a ControlError when the connection closes first). */
  next(): Promise<ControlReply> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }));
  }

  /** Sends `msg` and returns its first reply, turning a refusal into a ControlError. */
  async request(msg: ControlRequest): Promise<Exclude<ControlReply, { ok: false }>> {
    this.send(msg);
    return expectOk(await this.next());
  }

  /** Ends the connection (the coordinator releases whatever it held for it). */
  close(): void {
    this.socket.end();
  }

  /** Ends the connection at once. */
  destroy(): void {
    this.socket.destroy();
  }
}

/**
 * The error code of a refusal on the control socket: the reply's own `code`, or `otherwise`
 * when it has none. A coordinator of an older coord sent exit codes (2, 75, 1): they are read
 * as the codes they stood for, so a client still understands a run it started.
 */
export function codeOfReply(code: unknown, otherwise: ErrorCode = 'refused'): ErrorCode {
  if (isErrorCode(code)) return code;
  if (typeof code === 'number') return code === 2 ? 'invalid' : code === 75 ? 'timeout' : 'refused';
  return otherwise;
}

/** A reply, or its refusal as a thrown ControlError with the code of the coordinator's reason. */
export function expectOk(reply: ControlReply): Exclude<ControlReply, { ok: false }> {
  if (!reply.ok) throw new ControlError(reply.error, codeOfReply(reply.code));
  return reply;
}
