/**
 * Shared documents on Redis: versioned texts that belong to no run, in collections (the
 * locks of src/locks/redis-store.ts are the collection `lock`): `P <c>:<name>` holds the
 * version and the text and is the document's pub/sub channel; `P <c>s` names the
 * collection's documents (see keys.ts). A commit is the SHARED_COMMIT script with a receipt
 * per nonce, so a commit sent again after a lost connection lands at most once.
 */
import type { SharedDocuments } from '../types.js';
import { SHARED_COMMIT } from './scripts.js';
import { nonce, type ResilientConnection } from './connection.js';
import { SHARED_NAME, type KeyLayout } from './keys.js';
import type { Watchers } from './pubsub.js';

/** Documents per round trip of sharedList. */
const CHUNK = 1000;

export class RedisSharedDocuments implements SharedDocuments {
  constructor(
    private readonly conn: ResilientConnection,
    private readonly keys: KeyLayout,
    private readonly watchers: Watchers,
  ) {}

  get where(): string {
    return this.conn.where;
  }

  async sharedRead(collection: string, name: string): Promise<{ version: number; data: string } | undefined> {
    const key = this.keys.shared(collection, name);
    const [v, data] = await this.conn.read((c) => c.hmget(key, 'v', 'data'));
    return v === null || v === undefined || data === null || data === undefined ? undefined : { version: Number(v), data };
  }

  async sharedCommit(collection: string, name: string, expected: number, data: string): Promise<number | null> {
    if (!Number.isSafeInteger(expected) || expected < 0) throw new RangeError(`bad version ${expected}`);
    // the document, its collection's receipts, the collection's set of names
    const keys = [this.keys.shared(collection, name), ...this.keys.sharedReceipts(collection), this.keys.sharedSet(collection)];
    const n = nonce();
    const made = await this.conn.call(true, (c) => this.conn.evalScript(c, SHARED_COMMIT, keys, [n, expected, data, name]));
    return made === null ? null : Number(made);
  }

  async sharedList(collection: string): Promise<Array<{ name: string; version: number; data: string }>> {
    const set = this.keys.sharedSet(collection);
    const names = (await this.conn.read((c) => c.smembers(set))).filter((n) => SHARED_NAME.test(n)).sort();
    const out: Array<{ name: string; version: number; data: string }> = [];
    for (let i = 0; i < names.length; i += CHUNK) {
      const batch = names.slice(i, i + CHUNK);
      const got = await this.conn.read((c) => Promise.all(batch.map((n) => c.hmget(this.keys.shared(collection, n), 'v', 'data'))));
      batch.forEach((name, j) => {
        const [v, data] = got[j] ?? [];
        if (v != null && data != null) out.push({ name, version: Number(v), data });
      });
    }
    return out;
  }

  /** Calls `onChange` when the shared document may have changed (see pubsub.ts); returns the stop function. */
  watchShared(collection: string, name: string, onChange: () => void): () => void {
    return this.watchers.watch(this.keys.shared(collection, name), onChange);
  }
}
