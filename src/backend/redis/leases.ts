/**
 * The coordinator's lease on a run: `P run:<id>:lease` holds `<host> <pid>` of the run's
 * coordinator and expires `ttlMs` after it was last set, so any host can tell a live run
 * from one whose coordinator died without asking that coordinator's process table.
 */
import { hostname } from 'node:os';
import type { LeaseStore } from '../types.js';
import type { ResilientConnection } from './connection.js';
import { checkRunId, type KeyLayout } from './keys.js';

export class RedisLeases implements LeaseStore {
  constructor(
    private readonly conn: ResilientConnection,
    private readonly keys: KeyLayout,
  ) {}

  async holdLease(runId: string, ttlMs: number): Promise<void> {
    checkRunId(runId);
    await this.conn.call(true, (c) => c.set(this.keys.lease(runId), `${hostname()} ${process.pid}`, 'PX', Math.max(1, Math.round(ttlMs))));
  }

  async dropLease(runId: string): Promise<void> {
    checkRunId(runId);
    await this.conn.call(true, (c) => c.del(this.keys.lease(runId)));
  }

  async leaseHeld(runId: string): Promise<boolean> {
    checkRunId(runId);
    return (await this.conn.read((c) => c.exists(this.keys.lease(runId)))) === 1;
  }
}
