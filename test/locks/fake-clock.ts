/** A LockClock the test moves by hand: timers fire only when `fire` says so. */
import type { LockClock } from '../../src/locks/grant.js';

export interface FakeTimer {
  readonly ms: number;
  readonly repeat: boolean;
  at: number;
  cancelled: boolean;
  readonly fn: () => void;
}

type Kind = 'sleep' | 'interval';
const kindOf = (t: FakeTimer): Kind => (t.repeat ? 'interval' : 'sleep');

export class FakeClock implements LockClock {
  t: number;
  /** Every timer made, in order: one-shot ones (a waiter's sleeps) and repeating ones (renewals). */
  readonly made: FakeTimer[] = [];
  private taken = { sleep: 0, interval: 0 };
  private waiting: Array<{ kind: Kind; resolve: (t: FakeTimer) => void }> = [];

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  after(ms: number, fn: () => void): () => void {
    return this.add(ms, false, fn);
  }

  every(ms: number, fn: () => void): () => void {
    return this.add(ms, true, fn);
  }

  private add(ms: number, repeat: boolean, fn: () => void): () => void {
    const timer: FakeTimer = { ms, repeat, at: this.t + ms, cancelled: false, fn };
    this.made.push(timer);
    this.serve();
    return () => {
      timer.cancelled = true;
    };
  }

  private of(kind: Kind): FakeTimer[] {
    return this.made.filter((t) => kindOf(t) === kind);
  }

  private serve(): void {
    for (const w of [...this.waiting]) {
      const t = this.of(w.kind)[this.taken[w.kind]];
      if (!t) continue;
      this.taken[w.kind]++;
      this.waiting.splice(this.waiting.indexOf(w), 1);
      w.resolve(t);
    }
  }

  /** The next one-shot timer made (a waiter going to sleep), in order: one made already and not yet taken, or the next to come. */
  nextSleep(): Promise<FakeTimer> {
    return this.next('sleep');
  }

  /** The next repeating timer made (a grant's renewal loop), in order. */
  nextInterval(): Promise<FakeTimer> {
    return this.next('interval');
  }

  private next(kind: Kind): Promise<FakeTimer> {
    return new Promise((resolve) => {
      this.waiting.push({ kind, resolve });
      this.serve();
    });
  }

  /** Drops the calls of nextSleep / nextInterval still waiting (a race one of them lost). */
  forget(): void {
    this.waiting = [];
  }

  /** Moves the time on to `timer`'s and runs it (a one-shot timer once). */
  fire(timer: FakeTimer): void {
    if (timer.cancelled) throw new Error('the timer was cancelled');
    this.t = Math.max(this.t, timer.at);
    if (timer.repeat) timer.at += timer.ms;
    else timer.cancelled = true;
    timer.fn();
  }
}
