/**
 * The library face of `coord resource acquire`: units of a running run's resource pools,
 * granted by its coordinator over the control socket (the same account plan streams'
 * `resources:` demands are taken from, and the same fair queue).
 *
 *   const pool = new ResourcePool();               // the calling stream's run (COORD_RUN_DIR)
 *   await using lease = await pool.acquire({ gpu: 1 }, { timeoutMs: 30_000 });
 *   // … use the GPU; the unit goes back when `lease` goes out of scope …
 */
import { callerStream, ControlClient, ControlError, expectOk, type RunTarget } from './control-client.js';

/** Options of {@link ResourcePool.acquire}. */
export interface ResourceAcquireOptions {
  /** Give up (a ControlError `timeout`) when not granted within this many ms. */
  timeoutMs?: number;
  /** Higher is served first; default: the calling stream's plan `priority`, else 0. */
  priority?: number;
  /** Called once when the request has to wait, with who holds the units. */
  onWait?: (holders: string[]) => void;
}

/** Units held until {@link ResourceLease.release} — or until this process exits (the coordinator sees the connection close). */
export class ResourceLease implements AsyncDisposable {
  readonly units: Readonly<Record<string, number>>;
  /** How long the request waited for its grant. */
  readonly waitedMs: number;
  /** The request id in the run's event log (`resource-granted`, `resource-released`). */
  readonly request: number;
  private readonly client: ControlClient;
  private released: Promise<void> | undefined;

  /** @internal made by {@link ResourcePool.acquire} */
  constructor(client: ControlClient, request: number, units: Record<string, number>, waitedMs: number) {
    this.client = client;
    this.request = request;
    this.units = Object.freeze({ ...units });
    this.waitedMs = waitedMs;
  }

  /** Gives the units back (once; later calls wait for the first). */
  release(): Promise<void> {
    this.released ??= (async () => {
      try {
        this.client.send({ op: 'release' });
        // The coordinator acknowledges once the units are back (bounded: it may be gone).
        await Promise.race([this.client.next().catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
      } finally {
        this.client.close();
      }
    })();
    return this.released;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

/** The resource pools (`agent_coordination.resources`) of a running run. */
export class ResourcePool {
  private readonly target: RunTarget;

  /** `target`: which run (default: the calling stream's, else the newest). */
  constructor(target: RunTarget = {}) {
    this.target = target;
  }

  /**
   * Waits until every unit of `units` is free at once and takes them all (never some: no
   * hold-and-wait). Rejects with a ControlError: `invalid` for an unknown pool or a demand
   * over its capacity, `timeout` when `timeoutMs` passed first, `refused` when the run ended.
   */
  async acquire(units: Record<string, number>, opts: ResourceAcquireOptions = {}): Promise<ResourceLease> {
    const client = await ControlClient.open(this.target);
    const from = callerStream(this.target.env, client.run.id);
    try {
      client.send({
        op: 'acquire',
        units,
        pid: process.pid,
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
        ...(from ? { from } : {}),
      });
      for (;;) {
        const reply = expectOk(await client.next());
        if (reply.event === 'waiting') opts.onWait?.(reply.holders);
        else if (reply.event === 'granted') return new ResourceLease(client, reply.request, reply.units, reply.waitedMs);
        else throw new ControlError(`unexpected reply ${reply.event}`);
      }
    } catch (e) {
      client.destroy();
      throw e;
    }
  }
}
