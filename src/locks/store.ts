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
 * per lock, as registry.ts describes); RedisLockStore (redis-store.ts) on a Redis server, so
 * that processes of several hosts share the locks.
 */
import { watch, type FSWatcher } from 'node:fs';
import { listLocks, lockRegistryDir, lockStore } from './registry.js';
import type { LockState } from './state.js';

export interface LockStore {
  /** Where the locks are, for messages: a directory or a server (without credentials). */
  readonly where: string;
  read(canonical: string): Promise<LockState>;
  update(canonical: string, fn: (s: Readonly<LockState>) => LockState | undefined): Promise<{ state: LockState; changed: boolean }>;
  list(): Promise<LockState[]>;
  watch(canonical: string, onChange: () => void): () => void;
}

/** The locks of this machine: one VersionedDir per lock under the registry directory. */
export class FileLockStore implements LockStore {
  readonly registry: string;

  constructor(registry: string = lockRegistryDir()) {
    this.registry = registry;
  }

  get where(): string {
    return this.registry;
  }

  readSync(canonical: string): LockState {
    return lockStore(this.registry, canonical).read().data;
  }

  updateSync(canonical: string, fn: (s: Readonly<LockState>) => LockState | undefined): { state: LockState; changed: boolean } {
    const r = lockStore(this.registry, canonical).update(fn);
    return { state: r.version.data, changed: r.changed };
  }

  listSync(): LockState[] {
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
      watcher = watch(lockStore(this.registry, canonical).dir, { persistent: false }, (_event, name) => {
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
