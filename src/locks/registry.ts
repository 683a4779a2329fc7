/**
 * Where lock states live. Locks are per file, not per run: every process on this machine
 * that names the same file (after symbolic links are resolved) meets in the same registry
 * entry, whether it runs inside a run or not. The registry is a directory of the user:
 * `COORD_LOCK_DIR`, else `$XDG_RUNTIME_DIR/coord-locks`, else `<tmpdir>/coord-locks-<uid>`.
 * Each lock's newest fencing token is also kept in a token ledger outside it (ledger.ts,
 * lockTokenDir), so that losing the registry never sets a lock's tokens back.
 */
import { createHash } from 'node:crypto';
import { readdirSync, realpathSync } from 'node:fs';
import { sameProcess } from '../util/proc.js';
import { homedir, hostname, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { VersionedDir } from '../primitives/versioned-dir.js';
import { emptyLockState, type LockState, type Party } from './state.js';

export function lockRegistryDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.COORD_LOCK_DIR) return resolve(env.COORD_LOCK_DIR);
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'coord-locks');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return join(tmpdir(), `coord-locks-${uid}`);
}

/**
 * Where the token ledger of `registry` is: `COORD_LOCK_TOKENS`; for the default registry (in
 * $XDG_RUNTIME_DIR, emptied at logout, or in /tmp, emptied at boot and by tmp cleaners) the
 * user's state directory on disk, `$XDG_STATE_HOME/coord/lock-tokens` (else
 * `~/.local/state/coord/lock-tokens`); for a registry named by COORD_LOCK_DIR (or passed in),
 * beside it: `<registry>.tokens`, which an `rm -rf` of the registry leaves alone.
 */
export function lockTokenDir(registry: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.COORD_LOCK_TOKENS) return resolve(env.COORD_LOCK_TOKENS);
  if (resolve(registry) === lockRegistryDir({ ...env, COORD_LOCK_DIR: '' })) {
    if (env.XDG_STATE_HOME) return join(resolve(env.XDG_STATE_HOME), 'coord', 'lock-tokens');
    const home = env.HOME || homedir();
    if (home) return join(home, '.local', 'state', 'coord', 'lock-tokens');
  }
  return `${resolve(registry)}.tokens`;
}

/**
 * The canonical name of a file for locking: absolute, with symbolic links resolved — of the
 * file itself when it exists, else of its directory — so `./a`, `/x/../a` and a link to `a`
 * are one lock.
 */
export function canonicalPath(path: string, cwd = process.cwd()): string {
  const abs = resolve(cwd, path);
  try {
    return realpathSync(abs);
  } catch {
    try {
      return join(realpathSync(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
}

/** The registry entry name of a canonical path. */
export function lockKey(canonical: string): string {
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

export function lockStore(registry: string, canonical: string): VersionedDir<LockState> {
  return new VersionedDir<LockState>(join(registry, lockKey(canonical)), { initial: () => emptyLockState(canonical), keep: 8 });
}

/** Every lock the registry has seen, with its current state. */
export function listLocks(registry: string): LockState[] {
  let keys: string[];
  try {
    keys = readdirSync(registry);
  } catch {
    return [];
  }
  const out: LockState[] = [];
  for (const key of keys) {
    if (!/^[0-9a-f]{32}$/.test(key)) continue;
    const v = new VersionedDir<LockState>(join(registry, key), { initial: () => emptyLockState('') }).read();
    if (v.version > 0 && v.data.path) out.push(v.data);
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export const HOST = hostname();

/** The party's own process (the requester: `coord lock`, `coord write`, …) has ended on this host; false for other hosts. */
export function ownProcessGone(p: Party): boolean {
  return p.host === HOST && p.pid !== process.pid && !sameProcess(p.pid, p.procStart);
}

/**
 * A party's processes are gone from this host (pid gone, a zombie, or reused): its own and its
 * watchdog's. A `coord lock` killed with SIGKILL leaves its watchdog stopping CMD's process
 * tree; until the watchdog has done so and ended, the grant stands, so the lock is never handed
 * on while CMD still runs. Other hosts' parties are judged by their lease only.
 */
export function processGone(p: Party): boolean {
  return ownProcessGone(p) && (p.watchdog === undefined || !sameProcess(p.watchdog.pid, p.watchdog.procStart));
}

/** Gone: process gone on this host, or lease over. */
export function partyGone(p: Party, now: number): boolean {
  return p.expires < now || processGone(p);
}
