/**
 * The run's control socket (`<run dir>/control.sock`, mode 0600): how processes of a run ask
 * its coordinator — the single writer of the run's records — for things while it runs:
 * `coord spawn` (add a stream), `coord resource acquire` (units of the plan's pools, held
 * while the connection stays open), `coord propose` / `vote` / `decision` (consensus).
 * One JSON object a line each way; a request may get several replies (`spawn --wait`, an
 * acquire that waits, then is granted).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, rmSync } from 'node:fs';
import type { ProposalRecord } from '../consensus/board.js';
import type { ErrorCode } from '../core/errors.js';
import { onLines } from '../util/lines.js';

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

/** Units of the plan's pools, held until `release` or until the connection closes. */
export interface AcquireRequestMessage {
  op: 'acquire';
  units: Record<string, number>;
  /** Give up (reply `timeout`) when not granted within this many ms. */
  timeoutMs?: number;
  /** Higher is served first; default: the calling stream's plan priority, else 0. */
  priority?: number;
  from?: string;
  pid: number;
}

/** Gives back the units this connection holds (or withdraws its waiting request). */
export interface ReleaseRequestMessage {
  op: 'release';
}

export interface ProposeRequestMessage {
  op: 'propose';
  name: string;
  /** `majority`, `all`, `K` or `P%`. */
  quorum: string;
  /** Default: the streams running when the proposal opens. */
  voters?: string[];
  timeoutMs?: number;
  value?: unknown;
  from?: string;
}

export interface VoteRequestMessage {
  op: 'vote';
  name: string;
  voter: string;
  vote: 'yes' | 'no';
  reason?: string;
}

export interface DecisionRequestMessage {
  op: 'decision';
  name: string;
  /** Reply when decided, or when this many ms have passed (0: at once). */
  waitMs: number;
}

export type ControlRequest =
  | SpawnRequestMessage
  | AcquireRequestMessage
  | ReleaseRequestMessage
  | ProposeRequestMessage
  | VoteRequestMessage
  | DecisionRequestMessage;

/** Replies to `spawn`. */
export type SpawnReply = { ok: true; id: string; event: 'registered' } | { ok: true; id: string; event: 'ended'; state: string; exitCode: number | null };

/** Replies to `acquire` and `release`. */
export type AcquireReply =
  | { ok: true; event: 'waiting'; request: number; holders: string[] }
  | { ok: true; event: 'granted'; request: number; units: Record<string, number>; waitedMs: number }
  | { ok: true; event: 'released'; request: number };

/** Replies to `propose`, `vote` and `decision`: the proposal as it stands. */
export type ConsensusReply = { ok: true; event: 'proposal'; proposal: ProposalRecord; counted?: boolean };

/**
 * A refusal. `code` says what kind: `invalid` (a malformed request, an unknown pool or
 * proposal, a demand over capacity), `refused` (a double vote, a non-voter, the run stopping),
 * `timeout`. The command line maps it to its exit code (src/cli/errors.ts); a reply without
 * one is taken by the client as its request's usual refusal.
 */
export type ErrorReply = { ok: false; error: string; code?: ErrorCode };

export type ControlReply = SpawnReply | AcquireReply | ConsensusReply | ErrorReply;

/** One client connection, as the coordinator sees it. */
export interface ControlConnection {
  reply(r: ControlReply): void;
  /** Called once when the client goes away (or the server closes): its process may have died. */
  onClose(fn: () => void): void;
  /** Ends the connection once pending replies are written (the run is over). */
  end(): void;
  readonly closed: boolean;
}

export type ControlHandler = (msg: ControlRequest, conn: ControlConnection) => void;

/** Listens on `path` until `close()`; a malformed request gets an error reply. */
export function listenControl(path: string, handle: ControlHandler): Promise<Server> {
  rmSync(path, { force: true });
  const server = createServer((socket: Socket) => {
    const closers: Array<() => void> = [];
    let closed = false;
    const conn: ControlConnection = {
      reply: (r) => {
        if (!socket.destroyed && socket.writable) socket.write(JSON.stringify(r) + '\n');
      },
      onClose: (fn) => {
        if (closed) fn();
        else closers.push(fn);
      },
      end: () => {
        socket.end();
        // an open socket keeps the coordinator's process alive: a client that never closes its
        // end (an acquire that escaped its stream) must not hold the run's exit
        socket.unref();
      },
      get closed() {
        return closed;
      },
    };
    const close = (): void => {
      if (closed) return;
      closed = true;
      for (const fn of closers.splice(0)) fn();
    };
    onLines(socket, (line) => {
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        conn.reply({ ok: false, error: 'a request must be one JSON object on one line', code: 'invalid' });
        return;
      }
      const problem = requestProblem(msg);
      if (problem) conn.reply({ ok: false, error: problem, code: 'invalid' });
      else handle(msg as ControlRequest, conn);
    });
    // The client half-closed (socket.end()): it sends nothing more and has no further use for replies.
    socket.on('end', () => {
      close();
      socket.end();
    });
    socket.on('close', close);
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

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const optional = (v: unknown, check: (x: unknown) => boolean): boolean => v === undefined || check(v);
const isMs = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** What is wrong with a request, or undefined when it is well-formed. */
function requestProblem(m: unknown): string | undefined {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return 'a request must be a JSON object';
  const o = m as Record<string, unknown>;
  const name = (): boolean => typeof o.name === 'string';
  let good: boolean;
  switch (o.op) {
    case 'spawn':
      good =
        typeof o.id === 'string' &&
        (typeof o.command === 'string' || (strings(o.command) && o.command.length > 0)) &&
        strings(o.dependsOn) &&
        strings(o.capabilities) &&
        typeof o.wait === 'boolean';
      break;
    case 'acquire':
      good =
        typeof o.units === 'object' &&
        o.units !== null &&
        !Array.isArray(o.units) &&
        Object.values(o.units).every((n) => typeof n === 'number') &&
        optional(o.timeoutMs, isMs) &&
        optional(o.priority, (p) => Number.isInteger(p)) &&
        optional(o.from, (f) => typeof f === 'string') &&
        Number.isInteger(o.pid);
      break;
    case 'release':
      good = true;
      break;
    case 'propose':
      good =
        name() && typeof o.quorum === 'string' && optional(o.voters, strings) && optional(o.timeoutMs, isMs) && optional(o.from, (f) => typeof f === 'string');
      break;
    case 'vote':
      good = name() && typeof o.voter === 'string' && (o.vote === 'yes' || o.vote === 'no') && optional(o.reason, (r) => typeof r === 'string');
      break;
    case 'decision':
      good = name() && isMs(o.waitMs);
      break;
    default:
      return `unknown request ${JSON.stringify(o.op)}`;
  }
  return good ? undefined : `malformed ${String(o.op)} request`;
}
