/**
 * The run's upkeep while it runs: the lease other hosts judge the coordinator alive by, the
 * space set aside for the run's last records, and the shared state's snapshots.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import type { RunRecord } from '../backend/types.js';
import { StateStore } from '../state/store.js';
import { isDiskFull, reserveSpaceSync } from '../util/disk-full.js';
import type { Engine } from './engine.js';

export class Upkeep {
  private leaseTimer: NodeJS.Timeout | undefined;
  private stateTimer: NodeJS.Timeout | undefined;
  /** Space set aside in the run directory for the run's last records (see reserveSpace). */
  private reserveFile: string | undefined;
  /** The run's shared state: snapshotted every checkpoint_interval and at the end, restored at --resume. */
  private stateStore: StateStore | undefined;

  constructor(
    private readonly e: Engine,
    /** Called when the run record asks for a cancel (`coord stop` from another host). */
    private readonly cancel: () => void,
  ) {}

  /**
   * On a backend that expires keys: the run's lease, renewed every third of its length. At
   * each renewal the run record is read for `coord stop` from another host (cancelRequested).
   */
  async holdLease(): Promise<void> {
    const { e } = this;
    const b = e.backend;
    if (!b.holdLease) return;
    const ttl = e.opts.runLeaseMs ?? 10_000;
    await b.holdLease(e.runId, ttl);
    this.leaseTimer = setInterval(
      () => {
        void (async () => {
          if (e.flags.finished) return;
          await b.holdLease!(e.runId, ttl);
          if (e.flags.stopping === undefined && (await b.getRun(e.runId))?.cancelRequested) this.cancel();
        })().catch(() => undefined);
      },
      Math.max(100, Math.floor(ttl / 3)),
    );
    this.leaseTimer.unref();
  }

  async dropLease(): Promise<void> {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    await this.e.backend.dropLease?.(this.e.runId).catch(() => undefined);
  }

  /**
   * Sets space aside in the run directory (`.reserve`, zeros: the blocks are taken) for the
   * records the run writes at its end, given back by releaseSpace: when the disk fills up
   * during the run, the last stream, point and run records still find room, and what is
   * stored is what the run printed. About two blocks a stream and one a point, 64 KiB to
   * 4 MiB. A disk too full for it fails the start (`disk full: <path>`), and a new run's
   * directory is removed again.
   */
  async reserveSpace(before: RunRecord | undefined): Promise<void> {
    const { e } = this;
    const file = join(e.runDir, '.reserve');
    const bytes = Math.min(4 << 20, Math.max(64 << 10, (e.table.size * 2 + e.table.points.size + 8) * 4096));
    try {
      rmSync(file, { force: true }); // a dead coordinator's, at --resume
      reserveSpaceSync(file, bytes);
      this.reserveFile = file;
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      if (e.opts.resume) {
        if (before) await e.backend.updateRun(e.runId, before).catch(() => undefined);
      } else {
        await e.backend.dropLease?.(e.runId).catch(() => undefined);
        await e.backend.removeRun(e.runId).catch(() => undefined);
      }
      throw err;
    }
  }

  /** Gives the reserved space back (see reserveSpace). */
  releaseSpace(): void {
    if (!this.reserveFile) return;
    rmSync(this.reserveFile, { force: true });
    this.reserveFile = undefined;
  }

  /** Opens the run's shared state (restored from its snapshot on `--resume`) and snapshots it every checkpoint_interval. */
  async openState(sharedState: RunRecord['sharedState']): Promise<void> {
    const { e } = this;
    const store = new StateStore(e.backend, e.runId, { ...sharedState, onEvent: (ev) => e.bus.emit(ev) });
    this.stateStore = store;
    if (e.opts.resume) await this.snapshotOr(() => store.restoreFromSnapshot());
    this.stateTimer = setInterval(() => void this.snapshotOr(() => store.snapshot()), e.plan.stateManagement.checkpointIntervalMs);
    this.stateTimer.unref();
  }

  /** The state as the run leaves it, kept durably. */
  async closeState(): Promise<void> {
    if (this.stateTimer) clearInterval(this.stateTimer);
    const store = this.stateStore;
    if (store) await this.snapshotOr(() => store.snapshot());
  }

  /** Runs a shared-state upkeep step (snapshot, restore); a failure is a warning, never the run's end. */
  private async snapshotOr(step: () => Promise<unknown>): Promise<void> {
    try {
      await step();
    } catch (err) {
      this.e.bus.emit({ type: 'warning', message: `shared state: ${(err as Error).message}` });
    }
  }
}
