/**
 * Everything waiting to start or to be granted resource units: streams ready to start, and
 * `coord resource acquire` requests. Items are served by priority (higher first) and, within
 * one priority, in the order they were queued.
 *
 * Fairness: an item that cannot have its resource units now holds back every later item
 * wanting one of the same pools, so a large demand is never starved by a stream of small
 * ones overtaking it (an item may still pass it when it wants other pools only). An item that
 * needs a concurrency slot while none is free neither starts nor holds anything back: a
 * request from a running stream must not wait for a stream that waits for that stream's slot.
 *
 * An entry stays valid while it is its item's newest: an item that was queued again leaves a
 * stale entry behind, and entries of items started, ended or re-queued are dropped from the
 * head as scans pass them (so a scan costs what it starts, not the length of the run).
 */

/** What the queue asks of an item when it scans. */
export interface QueueView<T> {
  resources(item: T): Record<string, number>;
  /** Not before this wall-clock time (retry backoff). */
  notBefore(item: T): number;
  /** Still waiting to start (not started, ended or launching meanwhile). */
  waiting(item: T): boolean;
  /** Higher is served first (default 0). Read when the item is queued. */
  priority?(item: T): number;
  /** Starts without a concurrency slot (a resource request of a running stream). Read when queued. */
  slotless?(item: T): boolean;
}

interface Lane<T> {
  priority: number;
  entries: Array<{ item: T; seq: number }>;
  head: number;
}

export class ReadyQueue<T extends object> {
  /** Lanes by priority, highest first. */
  private lanes: Array<Lane<T>> = [];
  private readonly byPriority = new Map<number, Lane<T>>();
  private seq = 0;
  private readonly newest = new WeakMap<T, number>();
  private readonly slotlessItems = new WeakSet<T>();
  /** Slotless items queued and neither started nor removed. */
  private slotlessLive = 0;
  /** Every pool an item ever asked for. */
  private readonly pools = new Set<string>();
  /**
   * Items without resources queued minus those started (an over-count: items that ended
   * without starting stay in it). While it is 0 and every pool is held back, nothing further
   * in the queue can start, and a scan stops there instead of walking the rest.
   */
  private freeQueued = 0;
  private readonly free = new WeakSet<T>();
  private readonly view: QueueView<T>;

  constructor(view: QueueView<T>) {
    this.view = view;
  }

  /** Queues `item` behind everything of its priority queued before (an earlier entry of it becomes stale). */
  push(item: T): void {
    this.seq += 1;
    if (this.view.slotless?.(item) && !this.slotlessItems.has(item)) {
      this.slotlessItems.add(item);
      this.slotlessLive += 1;
    }
    this.newest.set(item, this.seq);
    const wants = Object.keys(this.view.resources(item));
    for (const p of wants) this.pools.add(p);
    if (wants.length === 0) {
      this.freeQueued += 1;
      this.free.add(item);
    }
    this.lane(this.view.priority?.(item) ?? 0).entries.push({ item, seq: this.seq });
  }

  /** Forgets `item` (a request withdrawn); its entry is dropped when a scan passes it. */
  remove(item: T): void {
    if (!this.newest.has(item)) return;
    this.newest.delete(item);
    if (this.slotlessItems.delete(item)) this.slotlessLive -= 1;
    if (this.free.delete(item)) this.freeQueued -= 1;
  }

  /**
   * Offers queued items in order to `tryStart` — slotless items always, the others while
   * `hasSlot()`. An item `tryStart` refused (its units are not all free) holds back later
   * items wanting the same pools. Returns when the earliest item in backoff may start, if the
   * scan reached the end of the queue.
   */
  scan(now: number, hasSlot: () => boolean, tryStart: (item: T) => boolean): number | undefined {
    const held = new Set<string>();
    let wakeAt = Infinity;
    let complete = true;
    for (const lane of this.lanes) {
      let atHead = true;
      let i = lane.head;
      for (; i < lane.entries.length; i++) {
        const slot = hasSlot();
        if ((!slot && this.slotlessLive === 0) || (this.freeQueued <= 0 && held.size > 0 && held.size >= this.pools.size)) {
          complete = false;
          break;
        }
        const entry = lane.entries[i];
        if (!entry) continue;
        const { item } = entry;
        const live = this.newest.get(item) === entry.seq && this.view.waiting(item);
        if (live && this.view.notBefore(item) > now) {
          wakeAt = Math.min(wakeAt, this.view.notBefore(item));
        } else if (live && (slot || this.slotlessItems.has(item))) {
          const pools = Object.keys(this.view.resources(item));
          if (!pools.some((p) => held.has(p)) && tryStart(item)) this.remove(item);
          else for (const p of pools) held.add(p);
        }
        if (atHead && this.newest.get(item) !== entry.seq) lane.head = i + 1;
        else atHead = false;
      }
      if (lane.head > 1024 && lane.head * 2 > lane.entries.length) {
        lane.entries = lane.entries.slice(lane.head);
        lane.head = 0;
      }
      if (!complete) break;
    }
    // An incomplete scan may not have seen every item in backoff: a release or a free slot
    // rescans; a wake-up time seen so far is still worth keeping.
    return wakeAt !== Infinity ? wakeAt : undefined;
  }

  private lane(priority: number): Lane<T> {
    let lane = this.byPriority.get(priority);
    if (!lane) {
      lane = { priority, entries: [], head: 0 };
      this.byPriority.set(priority, lane);
      this.lanes = [...this.byPriority.values()].sort((a, b) => b.priority - a.priority);
    }
    return lane;
  }
}
