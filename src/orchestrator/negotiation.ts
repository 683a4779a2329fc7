/**
 * Resource negotiation at run time: `coord resource acquire` requests arriving on the control
 * socket, and the grants and releases of plan streams' demands — all against the one
 * {@link ResourcePools} account of the run, so the two never oversubscribe a pool. Requests
 * wait in the coordinator's ready queue beside the streams (ready-queue.ts decides the order:
 * priority, then first come; a request that cannot be served holds back later ones wanting
 * its pools).
 *
 * A request's lifecycle:
 *
 *   waiting ──units free, its turn──> granted ──release / connection closed / stream ended──> released
 *      └──timeout──> timed out (exit 75)   └──connection closed / stream ended──> withdrawn
 *
 * The connection is the lease: when the requesting process dies, the socket closes and its
 * units are freed (or its request withdrawn).
 */
import type { ErrorCode } from '../core/errors.js';
import type { EventInput, ResourceReleaseReason } from '../events/types.js';
import type { AcquireRequestMessage, ControlConnection } from './control.js';
import { describeHolder, formatUnits, type Hold, type ResourcePools } from './resources.js';
import { formatDuration } from '../util/duration.js';

/** One `coord resource acquire` request. */
export interface AcquireRt {
  id: number;
  owner: string;
  stream?: string;
  pid: number;
  units: Record<string, number>;
  priority: number;
  /** Date.now() when it arrived. */
  since: number;
  conn: ControlConnection;
  timer?: NodeJS.Timeout;
  hold?: Hold;
  /** Granted, withdrawn or timed out: no longer waiting. */
  done: boolean;
}

/** What the negotiator needs of the coordinator. */
export interface NegotiatorHost {
  emit(e: EventInput): void;
  /** Puts a request in the ready queue and lets the scheduler try it. */
  enqueue(req: AcquireRt): void;
  /** Takes a request out of the ready queue. */
  dequeue(req: AcquireRt): void;
  /** Units came free or a waiter left: let the queue move. */
  moved(): void;
  /** The plan priority of a stream, if it is one of the run's. */
  priorityOf(stream: string): number | undefined;
  /** False while the run is stopping or over. */
  accepting(): boolean;
}

/** Grants, releases and waits of one run's pools (see the module comment). */
export class Negotiator {
  readonly pools: ResourcePools;
  private readonly host: NegotiatorHost;
  private nextId = 1;
  /** Requests waiting or holding units. */
  private readonly requests = new Set<AcquireRt>();
  private readonly byConn = new WeakMap<ControlConnection, AcquireRt>();

  constructor(pools: ResourcePools, host: NegotiatorHost) {
    this.pools = pools;
    this.host = host;
  }

  // ── plan streams ──────────────────────────────────────────────────────────────────────

  /** A plan stream's whole demand, if all of it is free now (`readySince`: when it became ready). */
  grantStream(stream: string, units: Record<string, number>, readySince: number): Hold | undefined {
    const hold = this.pools.tryAcquire(units, { id: this.nextId, owner: stream, stream, kind: 'stream' });
    if (!hold) return undefined;
    this.nextId += 1;
    this.host.emit({
      type: 'resource-granted',
      request: hold.id,
      owner: stream,
      stream,
      kind: 'stream',
      units: hold.units,
      waitedMs: Math.max(0, hold.since - readySince),
    });
    return hold;
  }

  /** A plan stream's attempt ended (or never started): its units go back. */
  releaseStream(hold: Hold): void {
    if (!this.pools.release(hold)) return;
    this.host.emit({
      type: 'resource-released',
      request: hold.id,
      owner: hold.owner,
      stream: hold.owner,
      kind: 'stream',
      units: hold.units,
      heldMs: Date.now() - hold.since,
      reason: 'exited',
    });
  }

  // ── coord resource acquire ────────────────────────────────────────────────────────────

  /** A request from the control socket: refused at once, granted, or queued (with a `waiting` reply). */
  request(msg: AcquireRequestMessage, conn: ControlConnection): void {
    const refuse = (error: string, code: ErrorCode) => conn.reply({ ok: false, error, code });
    if (!this.host.accepting()) return refuse('the run is stopping', 'refused');
    if (this.byConn.has(conn)) return refuse('one acquire per connection', 'invalid');
    if (Object.keys(msg.units).length === 0) return refuse('name at least one pool: NAME=N', 'invalid');
    const problem = this.pools.problem(msg.units);
    if (problem) return refuse(problem, 'invalid');
    if (msg.from) {
      // The stream's own plan demand is held for its whole attempt: asking for more than the
      // rest of the pool would wait on itself forever.
      for (const [pool, n] of Object.entries(msg.units)) {
        const own = this.pools
          .holders()
          .filter((h) => h.kind === 'stream' && h.stream === msg.from)
          .reduce((s, h) => s + (h.units[pool] ?? 0), 0);
        const cap = this.pools.snapshot().find((p) => p.name === pool)?.capacity ?? 0;
        if (own > 0 && own + n > cap) {
          return refuse(
            `stream "${msg.from}" holds ${pool}=${own} for as long as it runs (its plan demand); ${n} more would exceed the pool's capacity ${cap} and wait forever`,
            'invalid',
          );
        }
      }
    }
    const req: AcquireRt = {
      id: this.nextId++,
      owner: msg.from ?? `pid:${msg.pid}`,
      pid: msg.pid,
      units: { ...msg.units },
      priority: msg.priority ?? (msg.from ? this.host.priorityOf(msg.from) : undefined) ?? 0,
      since: Date.now(),
      conn,
      done: false,
    };
    if (msg.from) req.stream = msg.from;
    this.byConn.set(conn, req);
    this.requests.add(req);
    conn.onClose(() => this.end(req, 'disconnected'));
    this.host.enqueue(req);
    if (req.done) return; // granted at once
    if (msg.timeoutMs === 0) return this.timedOut(req);
    const holders = this.holdersFor(req);
    this.host.emit({ type: 'resource-waiting', ...this.who(req), units: req.units, priority: req.priority, holders });
    conn.reply({ ok: true, event: 'waiting', request: req.id, holders });
    if (msg.timeoutMs !== undefined) req.timer = setTimeout(() => this.timedOut(req), msg.timeoutMs);
  }

  /** The ready queue's turn for `req`: grants it if every unit is free. */
  grant(req: AcquireRt): boolean {
    if (req.done) return false;
    const hold = this.pools.tryAcquire(req.units, {
      id: req.id,
      owner: req.owner,
      ...(req.stream ? { stream: req.stream } : {}),
      pid: req.pid,
      kind: 'acquire',
    });
    if (!hold) return false;
    req.hold = hold;
    req.done = true;
    if (req.timer) clearTimeout(req.timer);
    const waitedMs = hold.since - req.since;
    this.host.emit({ type: 'resource-granted', ...this.who(req), units: req.units, waitedMs });
    req.conn.reply({ ok: true, event: 'granted', request: req.id, units: req.units, waitedMs });
    return true;
  }

  /** `release` on the connection: the command ended. */
  release(conn: ControlConnection): void {
    const req = this.byConn.get(conn);
    if (!req) return conn.reply({ ok: false, error: 'nothing to release on this connection', code: 'refused' });
    this.end(req, 'released');
  }

  /** A stream's attempt ended: whatever its processes held or waited for goes. */
  streamEnded(stream: string): void {
    for (const req of [...this.requests]) if (req.stream === stream) this.end(req, 'stream-ended');
  }

  /** The run ends: every hold released, every waiter told. */
  closeAll(): void {
    for (const req of [...this.requests]) this.end(req, 'run-ended');
  }

  /** Requests waiting now, in arrival order. */
  waiting(): AcquireRt[] {
    return [...this.requests].filter((r) => !r.done);
  }

  private end(req: AcquireRt, reason: ResourceReleaseReason): void {
    if (!this.requests.delete(req)) return;
    if (req.timer) clearTimeout(req.timer);
    if (req.hold) {
      this.pools.release(req.hold);
      this.host.emit({ type: 'resource-released', ...this.who(req), units: req.units, heldMs: Date.now() - req.hold.since, reason });
      if (reason === 'released') req.conn.reply({ ok: true, event: 'released', request: req.id });
      else req.conn.reply({ ok: false, error: `units released: ${reason === 'run-ended' ? 'the run ended' : 'the stream ended'}`, code: 'refused' });
    } else {
      req.done = true;
      this.host.dequeue(req);
      this.host.emit({ type: 'resource-withdrawn', ...this.who(req), units: req.units, waitedMs: Date.now() - req.since, reason });
      req.conn.reply(
        reason === 'released'
          ? { ok: true, event: 'released', request: req.id }
          : { ok: false, error: reason === 'run-ended' ? 'the run ended' : 'the stream ended', code: 'refused' },
      );
    }
    this.host.moved();
  }

  private timedOut(req: AcquireRt): void {
    if (req.done || !this.requests.delete(req)) return;
    req.done = true;
    this.host.dequeue(req);
    const holders = this.holdersFor(req);
    const waitedMs = Date.now() - req.since;
    this.host.emit({ type: 'resource-timeout', ...this.who(req), units: req.units, waitedMs, holders });
    const pools = this.pools
      .snapshot()
      .filter((p) => p.name in req.units)
      .map((p) => `${p.name} ${p.inUse}/${p.capacity} in use`);
    const why = holders.length ? `held by ${holders.join(', ')}` : 'held back for earlier requests';
    req.conn.reply({
      ok: false,
      error: `timed out after ${formatDuration(waitedMs)} waiting for ${formatUnits(req.units)} (${pools.join(', ')}; ${why})`,
      code: 'timeout',
    });
    this.host.moved();
  }

  /** Who holds units of the pools `req` wants: `a (pid 12) gpu=1`. */
  private holdersFor(req: AcquireRt): string[] {
    const wanted = Object.keys(req.units);
    return this.pools
      .holders()
      .filter((h) => wanted.some((p) => (h.units[p] ?? 0) > 0))
      .map((h) => `${describeHolder(h)} ${formatUnits(Object.fromEntries(Object.entries(h.units).filter(([p]) => wanted.includes(p))))}`);
  }

  private who(req: AcquireRt): { request: number; owner: string; stream?: string; pid: number; kind: 'acquire' } {
    return { request: req.id, owner: req.owner, ...(req.stream ? { stream: req.stream } : {}), pid: req.pid, kind: 'acquire' };
  }
}
