/**
 * The streams ready to start, in the order they became ready. An entry stays valid while it is
 * its item's newest: an item that was queued again leaves a stale entry behind, and entries of
 * items started, ended or re-queued are dropped from the head as scans pass them (so a scan
 * costs what it starts, not the length of the run).
 */

/** What the queue asks of an item when it scans. */
export interface QueueView<T> {
  resources(item: T): Record<string, number>;
  /** Not before this wall-clock time (retry backoff). */
  notBefore(item: T): number;
  /** Still waiting to start (not started, ended or launching meanwhile). */
  waiting(item: T): boolean;
}

export class ReadyQueue<T extends object> {
  private entries: Array<{ item: T; seq: number }> = [];
  private head = 0;
  private seq = 0;
  private readonly newest = new WeakMap<T, number>();
  private readonly view: QueueView<T>;

  constructor(view: QueueView<T>) {
    this.view = view;
  }

  /** Queues `item` behind everything queued before (an earlier entry of it becomes stale). */
  push(item: T): void {
    this.seq += 1;
    this.newest.set(item, this.seq);
    this.entries.push({ item, seq: this.seq });
  }

  /**
   * Offers queued items in order to `tryStart` while `hasSlot()`. An item `tryStart` refused
   * (its resources are not all free) holds back later items wanting the same pools, so large
   * demands are not starved by small ones. Returns when the earliest item in backoff may
   * start, if the scan reached the end of the queue.
   */
  scan(now: number, hasSlot: () => boolean, tryStart: (item: T) => boolean): number | undefined {
    const held = new Set<string>();
    let atHead = true;
    let wakeAt = Infinity;
    let i = this.head;
    for (; i < this.entries.length && hasSlot(); i++) {
      const entry = this.entries[i];
      if (!entry) continue;
      const { item } = entry;
      const live = this.newest.get(item) === entry.seq && this.view.waiting(item);
      if (live && this.view.notBefore(item) > now) {
        wakeAt = Math.min(wakeAt, this.view.notBefore(item));
      } else if (live) {
        const pools = Object.keys(this.view.resources(item));
        if (!pools.some((p) => held.has(p)) && tryStart(item)) this.newest.delete(item);
        else for (const p of pools) held.add(p);
      }
      if (atHead && this.newest.get(item) !== entry.seq) this.head = i + 1;
      else atHead = false;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return i >= this.entries.length && wakeAt !== Infinity ? wakeAt : undefined;
  }
}
