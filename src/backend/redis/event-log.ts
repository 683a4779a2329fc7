/**
 * The run's event log on Redis (`P run:<id>:events`, a list of CoordEvent JSON). Appends are
 * queued per run and written in batches (one APPEND_EVENTS script each), one batch at a time,
 * so that the events of one backend keep their order even when a batch has to be sent again
 * as a whole after a reconnect. The readEvents cursor is the number of events read.
 */
import type { EventLog } from '../types.js';
import type { CoordEvent } from '../../events/types.js';
import { APPEND_EVENTS } from './scripts.js';
import type { ResilientConnection } from './connection.js';
import { checkRunId, type KeyLayout } from './keys.js';
import { json } from './codec.js';

/** Events per appendEvents script call. */
const EVENT_BATCH = 500;
/** Events per readEvents round trip. */
const CHUNK = 1000;

interface EventQueue {
  items: Array<{ json: string; resolve: () => void; reject: (e: unknown) => void }>;
  running: Promise<void> | null;
}

export class RedisEventLog implements EventLog {
  private readonly queues = new Map<string, EventQueue>();

  constructor(
    private readonly conn: ResilientConnection,
    private readonly keys: KeyLayout,
  ) {}

  appendEvent(runId: string, event: CoordEvent): Promise<void> {
    try {
      checkRunId(runId);
      const text = json(event, 'an event');
      return new Promise<void>((resolve, reject) => {
        let q = this.queues.get(runId);
        if (!q) {
          q = { items: [], running: null };
          this.queues.set(runId, q);
        }
        q.items.push({ json: text, resolve, reject });
        if (!q.running) q.running = this.flush(runId, q);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private async flush(runId: string, q: EventQueue): Promise<void> {
    // let the appends of this tick join the first batch
    await Promise.resolve();
    while (q.items.length > 0) {
      const batch = q.items.splice(0, EVENT_BATCH);
      try {
        await this.conn.writeScript(
          APPEND_EVENTS,
          runId,
          [...this.keys.base(runId), `${this.keys.run(runId)}events`],
          batch.map((b) => b.json),
        );
        for (const b of batch) b.resolve();
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    q.running = null;
    if (this.queues.get(runId) === q) this.queues.delete(runId);
  }

  async readEvents(runId: string, cursor = 0): Promise<{ events: CoordEvent[]; cursor: number }> {
    checkRunId(runId);
    if (!Number.isSafeInteger(cursor) || cursor < 0) throw new RangeError(`bad event cursor ${cursor}`);
    const key = `${this.keys.run(runId)}events`;
    const events: CoordEvent[] = [];
    let at = cursor;
    for (;;) {
      const start = at;
      const chunk = await this.conn.read((c) => c.lrange(key, start, start + CHUNK - 1));
      for (const line of chunk) events.push(JSON.parse(line) as CoordEvent);
      at += chunk.length;
      if (chunk.length < CHUNK) break;
    }
    return { events, cursor: at };
  }

  /** Settles once the events queued now are written (or failed). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.running));
  }
}
