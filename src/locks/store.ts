/**
 * Where lock states live, for the lock algorithm of manager.ts, which only needs these
 * operations on one LockState per canonical path:
 *
 * - `read(canonical)`: the current state (the empty state when the lock was never used);
 * - `update(canonical, fn)`: compare-and-set loop: applies `fn` to the current state and stores
 *   its result only when nobody changed the state meanwhile, else reads again and calls `fn`
 *   again (so `fn` must be pure apart from what it resets on every call); `fn` returning
 *   `undefined` changes nothing. Returns the state afterwards and whether this call changed it;
 * - `list()`: every lock's state (for `coord locks` and deadlock detection);
 * - `watch(canonical, onChange)`: calls `onChange` (a hint: the caller reads again) when the
 *   lock may have changed; returns the function that stops it.
 *
 * FileLockStore keeps the states in the registry directory of this machine (a VersionedDir
 * per lock, as registry.ts describes), and each lock's granted tokens in a token ledger outside
 * it (ledger.ts); RedisLockStore (redis-store.ts) on a Redis server, so that processes of
 * several hosts share the locks.
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { listLocks, lockKey, lockRegistryDir, lockStore, lockTokenDir } from './registry.js';
import type { LockState } from './state.js';
import { TokenLedger } from './ledger.js';
import { ensurePrivateDir, UnsafeDirectoryError } from '../util/private-dir.js';

export interface LockStore {
  /** Where the locks are, for messages: a directory or a server (without credentials). */
  readonly where: string;
  read(canonical: string): Promise<LockState>;
  update(canonical: string, fn: (s: Readonly<LockState>) => LockState | undefined): Promise<{ state: LockState; changed: boolean }>;
  list(): Promise<LockState[]>;
  watch(canonical: string, onChange: () => void): () => void;
}

const REGISTRY_HINT = 'set COORD_LOCK_DIR to a directory of your own, mode 0700';
const LEDGER_HINT = 'set COORD_LOCK_TOKENS to a directory of your own, mode 0700';

/** A state whose token is below the ledger's newest was set back (the registry was removed or restored): lifted to it. */
function floored(s: LockState, floor: number): LockState {
  return { ...s, token: Math.max(s.token, floor) };
}

/**
 * The locks of this machine: one VersionedDir per lock under the registry directory, and the
 * tokens they granted in the token ledger. Both directories must be private to the user (see
 * ensurePrivateDir), checked when the store is first used: another user who can write the
 * registry can rename a lock's state away while it is held.
 *
 * Tokens never go back: a grant is made above the newest token of the ledger, and a state read
 * (inspect, fencing checks) is lifted to it — so a state set back (registry removed, restored
 * from a copy, caught half-way through an `rm -rf`) goes on above every earlier grant, and a
 * fenced write with an older token is refused. Every commit that grants records its tokens
 * there, and one whose token was recorded already (it was built on a state set back under it)
 * is taken back and made again. An entry holding another lock's state (entries renamed by hand)
 * is refused.
 */
export class FileLockStore implements LockStore {
  readonly registry: string;
  readonly ledger: TokenLedger;
  private checked = false;
  private readonly fsWatch: typeof fsWatch;

  /** `opts.tokens`: the ledger directory (default: lockTokenDir of the registry); `opts.watch`: fs.watch (tests give their own). */
  constructor(registry: string = lockRegistryDir(), opts: { tokens?: string; watch?: typeof fsWatch } = {}) {
    this.registry = registry;
    this.ledger = new TokenLedger(opts.tokens ?? lockTokenDir(registry));
    this.fsWatch = opts.watch ?? fsWatch;
  }

  get where(): string {
    return this.registry;
  }

  /** Checks (and creates) the registry and the ledger, once per store. */
  private ready(): void {
    if (this.checked) return;
    ensurePrivateDir(this.registry, 'lock registry', { hint: REGISTRY_HINT });
    ensurePrivateDir(this.ledger.dir, 'lock token ledger', { hint: LEDGER_HINT });
    this.checked = true;
  }

  /** Refuses an entry whose state is another lock's: entries renamed by hand (an entry with no version yet holds the empty state of its own lock). */
  private own(s: Readonly<LockState>, canonical: string, dir: string): void {
    if (s.path !== canonical) {
      throw new UnsafeDirectoryError(
        `lock registry entry ${dir} holds the lock of ${s.path}, not of ${canonical}: the registry was changed by hand; refusing to use it (remove ${dir}: the lock's tokens go on from the token ledger ${this.ledger.dir})`,
        dir,
      );
    }
  }

  readSync(canonical: string): LockState {
    this.ready();
    const dir = lockStore(this.registry, canonical);
    const v = dir.read();
    this.own(v.data, canonical, dir.dir);
    return floored(v.data, this.ledger.last(lockKey(canonical)));
  }

  updateSync(canonical: string, fn: (s: Readonly<LockState>) => LockState | undefined): { state: LockState; changed: boolean } {
    this.ready();
    const key = lockKey(canonical);
    const dir = lockStore(this.registry, canonical);
    for (;;) {
      let base = 0;
      const r = dir.update((s) => {
        this.own(s, canonical, dir.dir);
        base = s.token;
        const next = fn(s);
        // only a grant makes a token, and it must be above every token granted before: the
        // ledger's newest (a change that grants nothing needs no look at the ledger)
        // Stryker disable next-line ConditionalExpression,EqualityOperator: a shortcut; looking at the ledger for a change that grants nothing only raises the state's newest token to the ledger's, which no grant, holder or listing shows
        if (next === undefined || next.token <= s.token) return next;
        const floor = this.ledger.last(key);
        if (s.token >= floor) return next;
        base = floor;
        return fn(floored(s, floor));
      });
      const state = r.version.data;
      if (!r.changed || state.token <= base) return { state, changed: r.changed };
      const taken = new Set(this.ledger.record(key, base, state.token));
      if (taken.size === 0) return { state, changed: true };
      // granted on a state set back under this process: take those grants back, go on above the ledger
      dir.update((s) => {
        const holders = s.holders.filter((h) => !taken.has(h.token));
        const token = Math.max(s.token, this.ledger.last(key));
        return holders.length === s.holders.length && token === s.token ? undefined : { ...s, holders, token };
      });
    }
  }

  /** Every lock of the registry; a missing registry is not created (it holds no lock), an unsafe one is refused. */
  listSync(): LockState[] {
    if (!this.checked && !ensurePrivateDir(this.registry, 'lock registry', { create: false, hint: REGISTRY_HINT })) return [];
    return listLocks(this.registry);
  }

  async read(canonical: string): Promise<LockState> {
    return this.readSync(canonical);
  }

  async update(canonical: string, fn: (s: Readonly<LockState>) => LockState | undefined): Promise<{ state: LockState; changed: boolean }> {
    return this.updateSync(canonical, fn);
  }

  async list(): Promise<LockState[]> {
    return this.listSync();
  }

  /** inotify on the lock's directory (fs.watch); nothing when it is not there yet (callers also poll). */
  watch(canonical: string, onChange: () => void): () => void {
    let watcher: FSWatcher | null = null;
    try {
      // only a new version (`<n>.json`) is a change; temp files and removals of old versions are not
      watcher = this.fsWatch(lockStore(this.registry, canonical).dir, { persistent: false }, (_event, name) => {
        if (name === null || /^\d+\.json$/.test(String(name))) onChange();
      });
      watcher.on('error', () => {
        watcher?.close();
        watcher = null;
      });
    } catch {
      /* no inotify (or the directory is not there yet): the timer alone */
    }
    return () => {
      watcher?.close();
      watcher = null;
    };
  }
}
