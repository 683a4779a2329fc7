/**
 * The run's records, all written through the one RecordWriter (persist.ts): stream records
 * coalesced every RECORD_FLUSH_MS, pool records every POOLS_FLUSH_MS, and point, run and
 * proposal records and the event log in order with them. A full disk is told once, as a
 * warning; at the run's end, after a failed write, every record is written once more.
 */
import type { PointRecord } from '../backend/types.js';
import { DiskFullError, isDiskFull } from '../util/disk-full.js';
import type { Engine, RecordsRole, StreamRt } from './engine.js';
import { RecordWriter, type Lane } from './persist.js';

/** How long stream-record writes are coalesced. */
export const RECORD_FLUSH_MS = 50;
/**
 * How long pool-record writes are coalesced: a record lists every waiter, hundreds when many
 * streams queue for a small pool, so it is written less often than stream records.
 */
export const POOLS_FLUSH_MS = 250;

export class RunRecords implements RecordsRole {
  private readonly writer: RecordWriter;
  private readonly streams: Lane<StreamRt>;
  private readonly pools: Lane<'pools'>;
  private readonly hasPools: boolean;

  constructor(private readonly e: Engine) {
    this.writer = new RecordWriter({ onError: (err) => this.failed(err) });
    this.hasPools = Object.keys(e.plan.resources).length > 0;
    this.streams = this.writer.lane(
      RECORD_FLUSH_MS,
      (rts: StreamRt[]) => rts.map((rt) => ({ ...rt.rec })),
      (recs) => e.backend.putStreams(e.runId, recs),
    );
    this.pools = this.writer.lane(
      POOLS_FLUSH_MS,
      () => e.scheduler.poolRecords(),
      (recs) => e.backend.putPools(e.runId, recs),
    );
  }

  /** Queues a backend write after every one made before it. */
  write(fn: () => Promise<unknown>): void {
    this.writer.write(fn);
  }

  /** The stream's record is written with the next batch. */
  save(rt: StreamRt): void {
    this.streams.mark(rt);
  }

  /** The pool records are written with the next batch (on a plan with pools). */
  poolsChanged(): void {
    if (this.hasPools) this.pools.mark('pools');
  }

  point(rec: PointRecord): void {
    const copy = { ...rec, merged: [...rec.merged], conflicts: [...rec.conflicts] };
    this.write(() => this.e.backend.putPoint(this.e.runId, copy));
  }

  /** Writes every batch now (the pool records in any case, on a plan with pools). */
  flush(): void {
    this.poolsChanged();
    this.writer.flushAll();
  }

  settled(): Promise<void> {
    return this.writer.settled();
  }

  get hasFailed(): boolean {
    return this.writer.hasFailed;
  }

  get error(): unknown {
    return this.writer.error;
  }

  /**
   * Records were lost on the way (a full disk): all of them once more, so that what is stored
   * is what the run printed.
   */
  rewriteAll(): void {
    this.writer.forgetError();
    const { e } = this;
    const streams = e.table.all().map((rt) => ({ ...rt.rec }));
    this.write(() => e.backend.putStreams(e.runId, streams));
    for (const p of e.table.points.values()) {
      const rec = { ...p.rec };
      this.write(() => e.backend.putPoint(e.runId, rec));
    }
    if (this.hasPools) {
      const pools = e.scheduler.poolRecords();
      this.write(() => e.backend.putPools(e.runId, pools));
    }
  }

  /** The first full disk is told at once, as a warning. */
  private failed(err: unknown): void {
    if (!isDiskFull(err) || this.e.flags.diskFull !== undefined) return;
    this.e.flags.diskFull = err instanceof DiskFullError ? err.message : `disk full: ${this.e.runDir}`;
    this.e.bus.emit({ type: 'warning', message: `${this.e.flags.diskFull}: the run's records cannot be stored now; they are written again when the run ends` });
  }
}
