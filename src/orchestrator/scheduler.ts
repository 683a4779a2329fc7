/**
 * The scheduler: moves pending streams along as what they wait for is met (or skips them when
 * a wait failed), queues ready streams, and starts them while concurrency slots and their
 * resource units are free. What a stream waits for is the run's graph's answer (src/graph/);
 * the scheduler keeps only run-time state: where each stream and point is. Streams and `coord resource acquire` requests wait in one queue
 * (ready-queue.ts); the units are granted by the negotiator over the run's pools.
 */
import type { PoolRecord } from '../backend/types.js';
import type { Engine, SchedulerRole, StreamRt } from './engine.js';
import { becauseOf, dependencyJudgement, type DependencyView } from './dependencies.js';
import { Negotiator, type AcquireRt } from './negotiation.js';
import { ReadyQueue } from './ready-queue.js';
import { ResourcePools, type Hold } from './resources.js';
import { isQueued, queuedOf } from './stream-state.js';

/** Streams and `coord resource acquire` requests wait in one queue (see ready-queue.ts). */
type Waiter = StreamRt | AcquireRt;
const isStream = (w: Waiter): w is StreamRt => 'spec' in w;

/** The run's scheduler: pending streams, the ready queue, concurrency slots and resource pools. */
export class Scheduler implements SchedulerRole {
  readonly pools: ResourcePools;
  /** Runtime resource requests and the grants of plan streams' demands, on `pools`. */
  readonly negotiator: Negotiator;
  /** Streams whose dependencies are not met yet. */
  readonly pending = new Set<StreamRt>();
  /** Attempts holding a concurrency slot (launching or running). */
  running = 0;
  private readonly concurrency: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly dependencyView: DependencyView;
  private readonly ready: ReadyQueue<Waiter>;

  constructor(
    private readonly e: Engine,
    concurrency: number,
  ) {
    this.concurrency = concurrency;
    this.pools = new ResourcePools(e.plan.resources);
    this.negotiator = new Negotiator(this.pools, {
      emit: (ev) => e.bus.emit(ev),
      enqueue: (req) => {
        this.ready.push(req);
        e.records.poolsChanged();
        this.startReady();
      },
      dequeue: (req) => this.ready.remove(req),
      moved: () => {
        e.records.poolsChanged();
        this.schedule();
      },
      priorityOf: (id) => e.table.get(id)?.spec.priority,
      accepting: () => !e.flags.stopping && !e.flags.finished,
    });
    this.dependencyView = {
      streamState: (id) => e.table.get(id)?.rec.state,
      pointState: (id) => e.table.points.get(id)?.rec.state,
      // the run's vote groups are kept by member
      voteState: (group) => (group.members[0] === undefined ? undefined : e.voteGroups.of(group.members[0])?.state),
    };
    this.ready = new ReadyQueue<Waiter>({
      resources: (w) => (isStream(w) ? w.spec.resources : w.units),
      notBefore: (w) => (isStream(w) ? (queuedOf(w)?.notBefore ?? 0) : 0),
      waiting: (w) => (isStream(w) ? isQueued(w) : !w.done),
      priority: (w) => (isStream(w) ? w.spec.priority : w.priority),
      slotless: (w) => !isStream(w),
    });
  }

  /** Moves streams along: skips those whose waits failed, starts ready ones. */
  schedule(): void {
    if (this.e.flags.stopping || this.e.flags.finished) return;
    let changed = true;
    while (changed && this.pending.size > 0) {
      changed = false;
      for (const rt of this.pending) {
        const verdict = dependencyJudgement(this.e.graph.waitsFor(rt.spec.id), this.dependencyView);
        if (verdict.kind === 'failed') {
          const { failure } = verdict;
          this.pending.delete(rt);
          this.e.bus.emit({ type: 'stream-skipped', stream: rt.spec.id, attempt: rt.rec.attempt, reason: failure.reason, because: becauseOf(failure) });
          this.e.exits.end(rt, 'skipped', failure);
          changed = true;
        } else if (verdict.kind === 'ready') {
          this.pending.delete(rt);
          this.makeReady(rt, 'waiting');
        }
      }
    }
    this.startReady();
  }

  /** Queues a stream to start (not before `notBefore`); waiting streams start in the order they became ready. */
  makeReady(rt: StreamRt, state: 'waiting' | 'recovering', notBefore = 0): void {
    this.e.table.moveTo(rt, { kind: state, readyAt: Date.now(), notBefore });
    this.ready.push(rt);
    if (Object.keys(rt.spec.resources).length > 0) this.e.records.poolsChanged();
  }

  /** Starts queued streams while slots are free (see ReadyQueue for the order and fairness). */
  private startReady(): void {
    const wakeAt = this.ready.scan(
      Date.now(),
      () => this.running < this.concurrency,
      (w) => {
        if (!isStream(w)) return this.negotiator.grant(w);
        let hold: Hold | undefined;
        if (Object.keys(w.spec.resources).length > 0) {
          hold = this.negotiator.grantStream(w.spec.id, w.spec.resources, queuedOf(w)?.readyAt ?? Date.now());
          if (!hold) return false;
          this.e.records.poolsChanged();
        }
        void this.e.attempts.start(w, hold);
        return true;
      },
    );
    // Streams in retry backoff: wake the scheduler when the first may start (a free slot
    // wakes it anyway when the scan stopped early for want of one).
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = wakeAt === undefined ? undefined : setTimeout(() => this.schedule(), Math.max(0, wakeAt - Date.now()));
  }

  /** An attempt ended (or its launch did): its plan demand goes back, and whatever its processes acquired. */
  releaseUnits(id: string, hold: Hold | undefined): void {
    if (hold) {
      this.negotiator.releaseStream(hold);
      this.e.records.poolsChanged();
    }
    this.negotiator.streamEnded(id);
  }

  /** The run ends: no more wake-ups. */
  stop(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Each pool: capacity, use, holders, and waiters in the order they are served. */
  poolRecords(): PoolRecord[] {
    const iso = (ms: number) => new Date(ms).toISOString();
    const holds = this.pools.holders();
    const waiters = [
      ...this.e.table
        .all()
        .filter((rt) => isQueued(rt) && Object.keys(rt.spec.resources).length > 0)
        .map((rt) => ({
          owner: rt.spec.id,
          stream: rt.spec.id,
          pid: null,
          kind: 'stream' as const,
          units: rt.spec.resources,
          priority: rt.spec.priority,
          since: queuedOf(rt)?.readyAt ?? 0,
        })),
      ...this.negotiator
        .waiting()
        .map((r) => ({ owner: r.owner, stream: r.stream ?? null, pid: r.pid, kind: 'acquire' as const, units: r.units, priority: r.priority, since: r.since })),
    ].sort((a, b) => b.priority - a.priority || a.since - b.since);
    return this.pools.snapshot().map((p) => ({
      ...p,
      holders: holds
        .filter((h) => (h.units[p.name] ?? 0) > 0)
        .map((h) => ({ owner: h.owner, stream: h.stream ?? null, pid: h.pid ?? null, kind: h.kind, units: h.units[p.name] ?? 0, since: iso(h.since) })),
      waiters: waiters
        .filter((w) => (w.units[p.name] ?? 0) > 0)
        .map((w) => ({ owner: w.owner, stream: w.stream, pid: w.pid, kind: w.kind, units: w.units[p.name] ?? 0, priority: w.priority, since: iso(w.since) })),
    }));
  }
}
