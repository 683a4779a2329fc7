/**
 * Change notification on Redis: log writes and shared-document commits PUBLISH on the key's
 * channel, and watchers are told over one subscriber connection per backend. A message is a
 * hint that something may have changed, never the change itself: watchers are also woken once
 * their subscription is in place (a write made while it was being set up is not missed) and
 * after every reconnect (messages published meanwhile were not delivered).
 */
import type { Redis } from 'ioredis';
import { endRedis, type ResilientConnection } from './connection.js';

export class Watchers {
  private sub: Redis | null = null;
  /** pub/sub channel (a log's hash key) → its watchers, and whether the subscription is in place. */
  private readonly watchers = new Map<string, { cbs: Set<() => void>; live: boolean }>();

  constructor(private readonly conn: ResilientConnection) {}

  /** Calls `onChange` when a message comes on `channel` (and see the module comment); returns the stop function. */
  watch(channel: string, onChange: () => void): () => void {
    if (this.conn.closed) throw this.conn.closedError();
    let active = true;
    const cb = (): void => {
      if (active) onChange();
    };
    let w = this.watchers.get(channel);
    const fresh = !w;
    if (!w) {
      w = { cbs: new Set(), live: false };
      this.watchers.set(channel, w);
    }
    w.cbs.add(cb);
    const sub = this.subscriber();
    if (w.live) queueMicrotask(cb);
    else if (fresh && sub.status === 'ready') this.subscribe(sub, [channel]);
    else if (sub.status === 'wait') {
      sub.connect().catch(() => {
        /* retried by retryStrategy; 'ready' subscribes */
      });
    }
    return () => {
      if (!active) return;
      active = false;
      const now = this.watchers.get(channel);
      if (!now) return;
      now.cbs.delete(cb);
      if (now.cbs.size > 0) return;
      this.watchers.delete(channel);
      if (this.sub?.status === 'ready') {
        this.sub.unsubscribe(channel).catch(() => {
          /* gone with the connection */
        });
      }
    };
  }

  /** SUBSCRIBE, then wakes the channels' watchers (what was written before it took effect is looked at). */
  private subscribe(sub: Redis, channels: string[]): void {
    sub.subscribe(...channels).then(
      () => {
        for (const ch of channels) {
          const w = this.watchers.get(ch);
          if (!w) continue;
          w.live = true;
          for (const cb of [...w.cbs]) cb();
        }
      },
      () => {
        /* the connection dropped: subscribed again on 'ready' */
      },
    );
  }

  private subscriber(): Redis {
    if (this.sub) return this.sub;
    const sub = this.conn.another();
    sub.on('error', () => {
      /* the command connection reports outages; this one reconnects on its own */
    });
    sub.on('message', (channel: string) => {
      const w = this.watchers.get(channel);
      if (w) for (const cb of [...w.cbs]) cb();
    });
    sub.on('close', () => {
      for (const w of this.watchers.values()) w.live = false;
    });
    sub.on('ready', () => {
      const channels = [...this.watchers.keys()];
      if (channels.length > 0) this.subscribe(sub, channels);
    });
    this.sub = sub;
    return sub;
  }

  /** Forgets every watcher and ends the subscriber connection. */
  async close(): Promise<void> {
    this.watchers.clear();
    const sub = this.sub;
    this.sub = null;
    if (sub) await endRedis(sub);
  }
}
