/**
 * The plan's resource pools (`agent_coordination.resources`): one account of units per pool,
 * shared by every claimant — plan streams (their `resources:` demand, held while an attempt
 * runs) and `coord resource acquire` requests (held while their command runs). A claimant
 * takes all the units it asks for at once or none (no hold-and-wait between streams, hence no
 * deadlock among plan streams). Who waits, and in which order, is the ready queue's business
 * (ready-queue.ts): this class only counts and remembers who holds what.
 */

/** Units held by one claimant, from the grant to the release. */
export interface Hold {
  /** Unique within the run (shared with acquire request ids). */
  id: number;
  /** A stream id, or `pid:<pid>` for a process outside any stream. */
  owner: string;
  /** The stream that holds the units (itself, or the stream a `coord resource acquire` ran in). */
  stream?: string;
  /** The process of a `coord resource acquire`. */
  pid?: number;
  kind: 'stream' | 'acquire';
  units: Record<string, number>;
  /** Date.now() of the grant. */
  since: number;
}

/** A pool as `coord status` shows it. */
export interface PoolView {
  name: string;
  capacity: number;
  inUse: number;
}

/** The units of every pool of one run, and who holds them. */
export class ResourcePools {
  private readonly capacity = new Map<string, number>();
  private readonly used = new Map<string, number>();
  private readonly holds = new Map<number, Hold>();

  constructor(pools: Record<string, number>) {
    for (const [name, cap] of Object.entries(pools)) {
      this.capacity.set(name, cap);
      this.used.set(name, 0);
    }
  }

  /** Why `demand` can never be granted (an unknown pool, more units than a pool has), or undefined. */
  problem(demand: Record<string, number>): string | undefined {
    const names = [...this.capacity.keys()];
    for (const [name, n] of Object.entries(demand)) {
      const cap = this.capacity.get(name);
      if (cap === undefined) {
        return `unknown resource pool "${name}" (${names.length ? `the plan's pools: ${names.map((p) => `${p}=${this.capacity.get(p)}`).join(', ')}` : 'the plan declares no pools'})`;
      }
      if (!Number.isInteger(n) || n < 1) return `${name}=${n}: a demand is a whole number of units, 1 or more`;
      if (n > cap) return `demand ${name}=${n} exceeds the pool's capacity ${cap}`;
    }
    return undefined;
  }

  /** True when every unit of `demand` is free now. */
  fits(demand: Record<string, number>): boolean {
    for (const [name, n] of Object.entries(demand)) {
      const cap = this.capacity.get(name);
      if (cap === undefined || (this.used.get(name) ?? 0) + n > cap) return false;
    }
    return true;
  }

  /** Takes every unit of `demand` if all are free now (returning the hold); otherwise takes nothing. */
  tryAcquire(demand: Record<string, number>, who: Omit<Hold, 'units' | 'since'>): Hold | undefined {
    if (!this.fits(demand)) return undefined;
    for (const [name, n] of Object.entries(demand)) this.used.set(name, (this.used.get(name) ?? 0) + n);
    const hold: Hold = { ...who, units: { ...demand }, since: Date.now() };
    this.holds.set(hold.id, hold);
    return hold;
  }

  /** Gives a hold's units back; false when it was already released. */
  release(hold: Hold): boolean {
    if (!this.holds.delete(hold.id)) return false;
    for (const [name, n] of Object.entries(hold.units)) this.used.set(name, Math.max(0, (this.used.get(name) ?? 0) - n));
    return true;
  }

  /** Every current hold, oldest first. */
  holders(): Hold[] {
    return [...this.holds.values()];
  }

  /** Units of `pool` held by `stream` (its own demand and its processes' acquires). */
  heldBy(stream: string, pool: string): number {
    let n = 0;
    for (const h of this.holds.values()) if (h.stream === stream) n += h.units[pool] ?? 0;
    return n;
  }

  /** Capacity and units in use per pool. */
  snapshot(): PoolView[] {
    return [...this.capacity].map(([name, capacity]) => ({ name, capacity, inUse: this.used.get(name) ?? 0 }));
  }
}

/** `stream-a (pid 123)`, `pid:456`: how a holder or waiter is named in messages. */
export function describeHolder(h: { owner: string; pid?: number | undefined; kind?: string }): string {
  return h.pid !== undefined && !h.owner.startsWith('pid:') ? `${h.owner} (pid ${h.pid})` : h.owner;
}

/** `gpu=1 api=2`. */
export function formatUnits(units: Record<string, number>): string {
  return Object.entries(units)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
