/**
 * JobIntake against a Redis server (COORD_TEST_REDIS or a private one) with real BullMQ
 * queues: which queues a worker serves, and that it takes jobs only while it has a free slot
 * and the units a profile holds.
 */
import { expect } from '@jest/globals';
import { Queue, type Job } from 'bullmq';
import { bullConnection, redisOptions } from '../../src/distribute/connection.js';
import { JobIntake } from '../../src/distribute/intake.js';
import { keys, profileOf, queueOf, type Profile } from '../../src/distribute/profile.js';
import { requires } from '../requires.js';
import { useRedis } from './server.js';

const needs = requires('redis');
const f = useRedis(needs, 'intake');

/** An intake whose takes are recorded, and queues to add jobs to. */
function setup(offer: { slots: number; capabilities?: string[]; resources?: Record<string, number> }) {
  const k = keys(f.prefix);
  const conn = redisOptions(f.url, 'test');
  const taken: Array<{ job: Job; profile: Profile }> = [];
  const errors: Error[] = [];
  const queues: Queue[] = [];
  let wake: (() => void) | undefined;
  const intake = new JobIntake({
    id: 'w1',
    cmd: f.cmd,
    k,
    conn,
    leaseMs: 5000,
    offer: { slots: offer.slots, capabilities: offer.capabilities ?? [], resources: offer.resources ?? {} },
    take: (job, _token, profile) => {
      taken.push({ job, profile });
      wake?.();
    },
    onError: (e) => errors.push(e),
  });
  /** A queue of `profile` as a dispatcher makes it, with `n` jobs. */
  const queue = async (profile: Profile, n: number) => {
    const name = queueOf(profile);
    await f.cmd.hset(k.queues, name, JSON.stringify(profile));
    const q = new Queue(name, { connection: bullConnection(conn), prefix: k.bull });
    queues.push(q);
    for (let i = 0; i < n; i++) await q.add('stream', { i }, { jobId: `${name}.${i}` });
    return name;
  };
  /** Resolves once `n` jobs were taken in all. */
  const takenCount = (n: number) =>
    new Promise<void>((resolve) => {
      wake = () => taken.length >= n && resolve();
      wake();
    });
  const close = async () => {
    await intake.close();
    await Promise.all(queues.map((q) => q.close()));
  };
  return { intake, queue, taken, errors, takenCount, close };
}

needs.describe('JobIntake', () => {
  needs.it('serves the queues whose profile the worker satisfies, and only those', async () => {
    const s = setup({ slots: 4, capabilities: ['linux'], resources: { gpu: 1 } });
    try {
      const plain = await s.queue(profileOf([], {}), 0);
      const linux = await s.queue(profileOf(['linux'], {}), 0);
      const mac = await s.queue(profileOf(['mac'], {}), 0);
      const twoGpus = await s.queue(profileOf([], { gpu: 2 }), 0);
      const oneGpu = await s.queue(profileOf([], { gpu: 1 }), 0);
      await s.intake.discover();
      expect([plain, linux, mac, twoGpus, oneGpu].map((q) => s.intake.serves(q))).toEqual([true, true, false, false, true]);
    } finally {
      await s.close();
    }
  });

  needs.it('takes a job a free slot: the next one waits until one is released', async () => {
    const s = setup({ slots: 1 });
    try {
      const profile = profileOf([], {});
      await s.queue(profile, 2);
      await s.intake.discover();
      await s.intake.pump();
      expect(s.taken.map((t) => t.job.data)).toEqual([{ i: 0 }]);
      expect(s.intake.busy).toBe(1);
      await s.intake.pump();
      expect(s.taken).toHaveLength(1);
      s.intake.release(profile);
      await s.takenCount(2);
      expect(s.taken.map((t) => t.job.data)).toEqual([{ i: 0 }, { i: 1 }]);
      expect(s.errors).toEqual([]);
    } finally {
      await s.close();
    }
  });

  needs.it('takes a job only while the worker has the units its profile holds', async () => {
    const s = setup({ slots: 4, resources: { gpu: 2 } });
    try {
      const gpu = profileOf([], { gpu: 2 });
      await s.queue(gpu, 2);
      await s.intake.discover();
      await s.intake.pump();
      expect(s.taken).toHaveLength(1);
      expect(s.intake.busy).toBe(1);
      s.intake.release(gpu);
      await s.takenCount(2);
      expect(s.taken.map((t) => t.profile)).toEqual([gpu, gpu]);
    } finally {
      await s.close();
    }
  });

  needs.it('takes nothing once stopped', async () => {
    const s = setup({ slots: 2 });
    try {
      await s.queue(profileOf([], {}), 1);
      await s.intake.discover();
      s.intake.stop();
      await s.intake.pump();
      await s.intake.discover();
      expect(s.taken).toEqual([]);
    } finally {
      await s.close();
    }
  });
});
