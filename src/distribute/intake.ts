/**
 * A worker's job intake: it serves every BullMQ queue whose profile the worker satisfies,
 * fetching jobs by hand (`getNextJob`) only while it has a free slot and the units the profile
 * holds, round-robin over its queues. A job's BullMQ lock is the attempt's lease (extended by
 * the attempt, remote-attempt.ts); the queues' stalled-job check (maxStalledCount 0) fails a job
 * whose worker stopped extending it, so it never runs twice.
 */
import { Worker as BullWorker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullConnection, type redisOptions } from './connection.js';
import { mismatch, type Keys, type Profile, type WorkerInfo } from './profile.js';

/** What the intake needs of its worker. */
export interface IntakeOptions {
  id: string;
  cmd: Redis;
  k: Keys;
  conn: ReturnType<typeof redisOptions>;
  /** The jobs' lock duration (the worker's lease). */
  leaseMs: number;
  /** What the worker offers (matched against each queue's profile). */
  offer: Pick<WorkerInfo, 'capabilities' | 'resources' | 'slots'>;
  /** A job was taken (its slot and units are held until `release`). */
  take(job: Job, token: string, profile: Profile): void;
  onError(e: Error): void;
}

/** The queues a worker serves, and its free slots and units (see the file comment). */
export class JobIntake {
  private readonly queues = new Map<string, { w: BullWorker; profile: Profile }>();
  private freeSlots: number;
  private readonly free: Record<string, number>;
  private pumping = false;
  private again = false;
  private rr = 0;
  private tokens = 0;
  private stopped = false;

  constructor(private readonly o: IntakeOptions) {
    this.freeSlots = o.offer.slots;
    this.free = { ...o.offer.resources };
  }

  /** Slots in use. */
  get busy(): number {
    return this.o.offer.slots - this.freeSlots;
  }

  /** Whether a queue of this name is served already. */
  serves(name: string): boolean {
    return this.queues.has(name);
  }

  /** Opens the queues whose profile this worker satisfies. */
  async discover(): Promise<void> {
    if (this.stopped) return;
    const all = await this.o.cmd.hgetall(this.o.k.queues);
    for (const [name, json] of Object.entries(all)) {
      if (this.queues.has(name)) continue;
      let profile: Profile;
      try {
        profile = JSON.parse(json) as Profile;
      } catch {
        continue;
      }
      if (mismatch(profile, this.o.offer) !== null) continue;
      const w = new BullWorker(name, null, {
        connection: bullConnection(this.o.conn),
        prefix: this.o.k.bull,
        autorun: false,
        lockDuration: this.o.leaseMs,
        stalledInterval: this.o.leaseMs,
        maxStalledCount: 0,
      });
      w.on('error', (e) => this.o.onError(e));
      this.queues.set(name, { w, profile });
      void w.startStalledCheckTimer().catch((e: unknown) => this.o.onError(e instanceof Error ? e : new Error(String(e))));
    }
  }

  private fits(p: Profile): boolean {
    for (const [k, n] of Object.entries(p.resources)) if (this.free[k] !== undefined && this.free[k]! < n) return false;
    return true;
  }

  /** Takes jobs while slots are free: one pass over the queues finding nothing ends it. */
  async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        const list = [...this.queues.values()];
        let empty = 0;
        while (this.freeSlots > 0 && !this.stopped && list.length > 0 && empty < list.length) {
          const q = list[this.rr++ % list.length]!;
          if (!this.fits(q.profile)) {
            empty++;
            continue;
          }
          const token = `${this.o.id}:${++this.tokens}`;
          let job: Job | undefined;
          try {
            job = (await q.w.getNextJob(token, { block: false })) as Job | undefined;
          } catch (e) {
            this.o.onError(e instanceof Error ? e : new Error(String(e)));
          }
          if (!job) {
            empty++;
            continue;
          }
          empty = 0;
          this.hold(q.profile, -1);
          this.o.take(job, token, q.profile);
        }
      } while (this.again && !this.stopped);
    } finally {
      this.pumping = false;
    }
  }

  /** The attempt of a job of `profile` ended: its slot and units are free again, and more is taken. */
  release(profile: Profile): void {
    this.hold(profile, +1);
    void this.pump();
  }

  private hold(profile: Profile, sign: 1 | -1): void {
    this.freeSlots += sign;
    for (const [k, n] of Object.entries(profile.resources)) if (this.free[k] !== undefined) this.free[k] += sign * n;
  }

  /** No more jobs are taken (the attempts running go on). */
  stop(): void {
    this.stopped = true;
  }

  /** The queues close. */
  async close(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.queues.values()].map((q) => q.w.close(true).catch(() => undefined)));
  }
}
