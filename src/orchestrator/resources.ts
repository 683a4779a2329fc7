/**
 * The plan's resource pools (`agent_coordination.resources`). A stream takes all the units it
 * declares at once or none (no hold-and-wait, hence no deadlock between streams).
 */
export class ResourcePools {
  private readonly capacity = new Map<string, number>();
  private readonly used = new Map<string, number>();

  constructor(pools: Record<string, number>) {
    for (const [name, cap] of Object.entries(pools)) {
      this.capacity.set(name, cap);
      this.used.set(name, 0);
    }
  }

  /** Takes every unit of `demand` if all are free now; otherwise takes nothing. */
  tryAcquire(demand: Record<string, number>): boolean {
    for (const [name, n] of Object.entries(demand)) {
      const cap = this.capacity.get(name);
      if (cap === undefined) throw new Error(`unknown resource pool "${name}"`);
      if ((this.used.get(name) ?? 0) + n > cap) return false;
    }
    for (const [name, n] of Object.entries(demand)) this.used.set(name, (this.used.get(name) ?? 0) + n);
    return true;
  }

  release(demand: Record<string, number>): void {
    for (const [name, n] of Object.entries(demand)) this.used.set(name, Math.max(0, (this.used.get(name) ?? 0) - n));
  }

  /** Capacity and units in use, for `coord status`. */
  snapshot(): Array<{ name: string; capacity: number; inUse: number }> {
    return [...this.capacity].map(([name, capacity]) => ({ name, capacity, inUse: this.used.get(name) ?? 0 }));
  }
}
