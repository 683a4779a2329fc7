/** Timers on a clock the test moves by hand: an armed timer fires only when `advance` reaches it. */
import type { Timers } from '../../src/supervise/timers.js';

export class FakeTimers implements Timers {
  now = 0;
  private next = 1;
  private readonly armed = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.armed.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.armed.delete(handle as number);
  }
  /** How many timers are armed. */
  get pending(): number {
    return this.armed.size;
  }
  /** Moves the clock by `ms`, firing what falls due in order (timers armed meanwhile too). */
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.armed].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.armed.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = until;
  }
}
