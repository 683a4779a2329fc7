/**
 * The run's side of its control socket (control.ts): `coord spawn` (a stream added while the
 * run runs, validated like a plan stream), `coord resource acquire`/release through the
 * negotiator, and `coord propose`/`vote`/`decision` on the consensus board.
 */
import type { Server } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { ConsensusBoard } from '../consensus/board.js';
import type { StreamState } from '../events/types.js';
import { STREAM_ID_PATTERN, type StreamSpec } from '../plan/types.js';
import { idProblem } from '../plan/schema.js';
import { unreachable } from '../util/result.js';
import { listenControl, type ControlConnection, type ControlReply, type ControlRequest, type SpawnRequestMessage } from './control.js';
import type { ControlRole, Engine } from './engine.js';

/** The run's control socket and what its requests do (see the module comment). */
export class ControlHost implements ControlRole {
  private server: Server | undefined;
  /** Where the socket listens (set when it is opened). */
  path = '';
  /** `coord spawn --wait` callers, told when their stream ends. */
  private readonly spawnWaiters = new Map<string, Array<(r: ControlReply) => void>>();
  /** Control connections open now (closed when the run ends). */
  private readonly connections = new Set<ControlConnection>();

  constructor(private readonly e: Engine) {}

  /** Listens on `<run dir>/control.sock` (or a short path in tmp when that is too long for a socket). */
  async open(): Promise<void> {
    const { e } = this;
    const inRun = join(e.runDir, 'control.sock');
    this.path = Buffer.byteLength(inRun) < 100 ? inRun : join(tmpdir(), `coord-${e.runId}.sock`);
    this.server = await listenControl(this.path, (msg, conn) => this.request(msg, conn));
    const path = this.path;
    e.records.write(() => e.backend.updateRun(e.runId, { controlSocket: path }).then(() => undefined));
  }

  /** The run ended: the socket closes, and every caller still waiting is told. */
  close(): void {
    this.server?.close();
    this.server = undefined;
    if (this.path) rmSync(this.path, { force: true });
    for (const [id, waiters] of this.spawnWaiters) for (const w of waiters) w({ ok: false, error: `the run ended before "${id}" did` });
    this.spawnWaiters.clear();
    for (const conn of this.connections) conn.end();
    this.connections.clear();
  }

  /** A stream ended: its `coord spawn --wait` callers are told. */
  ended(id: string, state: StreamState, exitCode: number | null): void {
    const waiters = this.spawnWaiters.get(id);
    if (!waiters) return;
    this.spawnWaiters.delete(id);
    for (const w of waiters) w({ ok: true, id, event: 'ended', state, exitCode });
  }

  /** One request on the control socket (see control.ts). */
  private request(msg: ControlRequest, conn: ControlConnection): void {
    const { e } = this;
    if (!this.connections.has(conn)) {
      this.connections.add(conn);
      conn.onClose(() => this.connections.delete(conn));
    }
    const proposal = (r: ReturnType<ConsensusBoard['propose']>): void =>
      conn.reply(r.ok ? { ok: true, event: 'proposal', proposal: r.value } : { ok: false, error: r.error.error, code: r.error.code });
    switch (msg.op) {
      case 'spawn':
        return this.spawnRequest(msg, (r) => conn.reply(r));
      case 'acquire':
        return e.scheduler.negotiator.request(msg, conn);
      case 'release':
        return e.scheduler.negotiator.release(conn);
      case 'propose':
        if (e.flags.stopping || e.flags.finished) return conn.reply({ ok: false, error: 'the run is stopping', code: 'refused' });
        return proposal(e.board.propose(msg));
      case 'vote': {
        const r = e.board.vote(msg.name, msg.voter, msg.vote, msg.reason);
        return conn.reply(
          r.ok
            ? { ok: true, event: 'proposal', proposal: r.value.proposal, counted: r.value.counted }
            : { ok: false, error: r.error.error, code: r.error.code },
        );
      }
      case 'decision':
        return e.board.waitDecision(msg.name, msg.waitMs, (p) =>
          conn.reply(
            p
              ? { ok: true, event: 'proposal', proposal: p }
              : {
                  ok: false,
                  error: `no proposal "${msg.name}" in run ${e.runId}${msg.waitMs > 0 ? ' was opened in time' : ''}`,
                  code: msg.waitMs > 0 ? 'timeout' : 'invalid',
                },
          ),
        );
      default:
        return unreachable(msg);
    }
  }

  /**
   * A stream added while the run runs, validated like a plan stream: a unique safe id, known
   * dependencies (a group's id and `capability:NAME` included, resolved by the run's graph,
   * src/graph/), no cycle — with `--wait`, the new stream must not wait for the stream that
   * waits for it (the graph says that too).
   */
  private spawnRequest(msg: SpawnRequestMessage, reply: (r: ControlReply) => void): void {
    const { e } = this;
    const fail = (error: string) => reply({ ok: false, error });
    if (e.flags.stopping || e.flags.finished) return fail('the run is stopping');
    if (!STREAM_ID_PATTERN.test(msg.id)) return fail(`bad stream id "${msg.id}": ${idProblem(msg.id) ?? 'not an id'}`);
    if (e.table.has(msg.id)) return fail(`"${msg.id}" is already the id of a stream or convergence point in this run`);
    const deps: string[] = [];
    for (const d of msg.dependsOn) {
      if (d === msg.id) return fail(`stream "${msg.id}" cannot depend on itself`);
      // resolved as a plan stream's `depends_on` is: a group stands for its members, a capability for the streams offering it
      const named = e.graph.resolve(d, msg.id);
      if (named === undefined) return fail(`unknown dependency "${d}": no stream or convergence point has that name`);
      if (named.names === 'capability' && named.ids.length === 0) return fail(`no stream offers capability "${named.target}"`);
      deps.push(...named.ids);
    }
    if (msg.wait && msg.from && e.graph.reaches(deps, msg.from)) {
      return fail(`dependency cycle: ${msg.from} waits for ${msg.id}, which depends on ${msg.from}`);
    }
    const isolation = e.plan.coordination.isolation.workspace === 'worktree' ? 'isolated' : e.plan.coordination.isolation.workspace;
    this.addStream({
      id: msg.id,
      command: msg.command,
      dependsOn: [...new Set(deps)],
      capabilities: msg.capabilities,
      resources: {},
      outputs: [],
      isolation,
      retries: 0,
      env: {},
      priority: 0,
    });
    reply({ ok: true, id: msg.id, event: 'registered' });
    if (msg.wait) this.spawnWaiters.set(msg.id, [...(this.spawnWaiters.get(msg.id) ?? []), reply]);
    e.scheduler.schedule();
  }

  /** Registers a stream while the run runs (a plan's streams are registered before it starts). */
  private addStream(spec: StreamSpec): void {
    const rt = this.e.table.track(spec);
    this.e.graph.addStream(spec);
    this.e.scheduler.pending.add(rt);
    this.e.records.save(rt);
    this.e.bus.emit({
      type: 'stream-registered',
      stream: spec.id,
      attempt: 0,
      capabilities: spec.capabilities,
      dependsOn: spec.dependsOn,
      workspace: rt.paths.workspace,
    });
  }
}
