/**
 * The locks on a Redis server (COORD_BACKEND): every process of every host that points at the
 * server and names the same canonical path meets in the same lock. A lock is a shared
 * document of the backend's collection `lock` (its SharedDocuments role, src/backend/types.ts):
 *
 *   coord:lock:<lockKey>     HASH  `v` version, `data` the LockState JSON; pub/sub channel of the lock
 *   coord:locks              SET   the lock keys, for list()
 *   coord:receipts:lock      HASH  nonce → version made (a commit resent after a lost reply is recognised)
 *
 * `update` is the same compare-and-set loop as the file store's: read version n, apply the
 * function, commit n+1 when the lock is still at n, else read again. A commit is one Lua
 * script, so two contenders can never both win a lock.
 */
import { lockKey } from './registry.js';
import { emptyLockState, type LockState } from './state.js';
import { FileLockStore, type LockStore } from './store.js';
import { hasSharedDocuments, type Backend, type SharedDocuments } from '../backend/types.js';

const COLLECTION = 'lock';

export class RedisLockStore implements LockStore {
  /**
   * The version and state this store last committed, per lock: the next update starts from it
   * without a read (a lock's next change often comes from the process that made the last one,
   * as a release follows an acquire). The commit is a compare-and-set, so a stale start only
   * costs a failed commit and a read.
   */
  private readonly mine = new Map<string, { version: number; state: LockState }>();

  constructor(private readonly backend: SharedDocuments) {}

  get where(): string {
    return this.backend.where;
  }

  private async get(canonical: string): Promise<{ version: number; state: LockState }> {
    const got = await this.backend.sharedRead(COLLECTION, lockKey(canonical));
    return got ? { version: got.version, state: JSON.parse(got.data) as LockState } : { version: 0, state: emptyLockState(canonical) };
  }

  async read(canonical: string): Promise<LockState> {
    return (await this.get(canonical)).state;
  }

  async update(canonical: string, fn: (s: Readonly<LockState>) => LockState | undefined): Promise<{ state: LockState; changed: boolean }> {
    const key = lockKey(canonical);
    for (let attempt = 0; ; attempt++) {
      const cached = this.mine.get(key);
      this.mine.delete(key);
      const cur = cached ?? (await this.get(canonical));
      const next = fn(cur.state);
      // "nothing to change" is only an answer about the state on the server
      if (next === undefined && cached) continue;
      if (next === undefined) return { state: cur.state, changed: false };
      const made = await this.backend.sharedCommit(COLLECTION, key, cur.version, JSON.stringify(next));
      if (made !== null) {
        this.mine.set(key, { version: made, state: next });
        return { state: next, changed: true };
      }
      if (cached) continue; // the lock moved since this store's last commit: read it
      // another process moved the lock first: read again (a short random pause under heavy contention)
      if (attempt >= 3) await new Promise((r) => setTimeout(r, Math.random() * Math.min(20, attempt * 2)));
    }
  }

  async list(): Promise<LockState[]> {
    const all = await this.backend.sharedList(COLLECTION);
    return all
      .map((d) => JSON.parse(d.data) as LockState)
      .filter((s) => s.path)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  watch(canonical: string, onChange: () => void): () => void {
    return this.backend.watchShared(COLLECTION, lockKey(canonical), onChange);
  }
}

/** The locks that go with `backend`: in its shared documents when it has them (a Redis server), else in this machine's registry. */
export function lockStoreOf(backend: Backend): LockStore {
  return hasSharedDocuments(backend) ? new RedisLockStore(backend) : new FileLockStore();
}
