/**
 * How the lock commands read their context from the environment: who the caller is
 * (COORD_STREAM_ID in a run), which locks its enclosing `coord lock`s hold (COORD_LOCK_CHAIN),
 * where lock events go (COORD_RUN_DIR/events.jsonl), and the run's `isolation.file_access`.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FileLockManager, type LockEvent } from './manager.js';
import { lockKey, ownProcessGone } from './registry.js';
import { CoordError } from '../core/errors.js';
import type { LockMode } from './state.js';
import { durationMs } from '../util/duration.js';
import { pendingWrites } from '../context/opened.js';
import type { CoordEvent } from '../events/types.js';
import type { LockStore } from './store.js';

/** One lock held by an enclosing `coord lock`: its registry key, ticket and mode. */
export interface ChainEntry {
  key: string;
  ticket: string;
  mode: LockMode;
}

export function parseChain(text: string | undefined): ChainEntry[] {
  if (!text) return [];
  const out: ChainEntry[] = [];
  for (const part of text.split(',')) {
    const [key, ticket, mode] = part.split(':');
    if (key && ticket && (mode === 'read' || mode === 'write')) out.push({ key, ticket, mode });
  }
  return out;
}

export function formatChain(chain: ChainEntry[]): string {
  return chain.map((c) => `${c.key}:${c.ticket}:${c.mode}`).join(',');
}

/** The enclosing grant on `canonical`, when an enclosing `coord lock` holds it. */
export function heldByChain(chain: ChainEntry[], canonical: string): ChainEntry | undefined {
  const key = lockKey(canonical);
  return chain.find((c) => c.key === key);
}

/**
 * Refuses (`lock-lost`, nothing written) unless the enclosing grant `entry` still holds the lock of
 * `canonical`: its ticket is a holder, its lease has not run out, and its `coord lock` still
 * runs. COORD_LOCK_CHAIN is only an environment variable: it outlives the grant in whatever CMD
 * started (a process left behind, or CMD itself when its `coord lock` was killed and the lock
 * went to the next waiter), and a write that skipped the lock on its word alone would land
 * inside someone else's critical section.
 */
export async function assertChainHolds(manager: FileLockManager, canonical: string, entry: ChainEntry): Promise<void> {
  const h = (await manager.inspectAsync(canonical)).holders.find((x) => x.ticket === entry.ticket);
  const why = !h
    ? 'its grant is no longer a holder of the lock (released, lost or reclaimed)'
    : h.expires < Date.now()
      ? 'its lease ran out'
      : ownProcessGone(h)
        ? `its coord lock (pid ${h.pid}) has ended`
        : null;
  if (why) throw new CoordError('lock-lost', `refused to write ${canonical}: the enclosing coord lock no longer holds it: ${why}; nothing was written`);
}

/**
 * Writes lock events to the run's event log when the caller runs inside a run: through the
 * run's backend when it is a server (COORD_BACKEND), else appended to COORD_RUN_DIR/events.jsonl.
 */
export function runEventSink(env: NodeJS.ProcessEnv = process.env): ((e: LockEvent) => void) | undefined {
  const runDir = env.COORD_RUN_DIR;
  if (!runDir) return undefined;
  const base = {
    run: env.COORD_RUN_ID ?? '',
    ...(env.COORD_STREAM_ID ? { stream: env.COORD_STREAM_ID } : {}),
    ...(env.COORD_ATTEMPT ? { attempt: Number(env.COORD_ATTEMPT) } : {}),
  };
  if (env.COORD_BACKEND) {
    // one after the other, in order; the command line waits for them before it exits
    let chain: Promise<unknown> = Promise.resolve();
    return (e) => {
      const event = { time: new Date().toISOString(), ...base, ...e } as unknown as CoordEvent;
      const write = chain.then(async () => {
        const { openBackend } = await import('../context/backend.js');
        await (await openBackend(env)).appendEvent(base.run, event);
      });
      const settled = write.catch(() => undefined); // the lock still works when the event cannot be written
      chain = settled;
      pendingWrites.add(settled);
      void settled.then(() => pendingWrites.delete(settled));
    };
  }
  return (e) => {
    try {
      // one write(2) per line on an O_APPEND descriptor, like the coordinator's own events
      const fd = openSync(join(runDir, 'events.jsonl'), 'a', 0o600);
      try {
        writeSync(fd, JSON.stringify({ time: new Date().toISOString(), ...base, ...e }) + '\n');
      } finally {
        closeSync(fd);
      }
    } catch {
      /* the run directory is gone: the lock still works */
    }
  };
}

/**
 * The manager a command uses: owner, run, lease and event sink from the environment. With
 * COORD_BACKEND the locks are on that server (shared by every host that uses it), through the
 * command's backend (openBackend: closed when the command ends); else in this machine's registry.
 */
export async function managerFromEnv(opts: { leaseMs?: number } = {}, env: NodeJS.ProcessEnv = process.env): Promise<FileLockManager> {
  // a bad COORD_LOCK_LEASE is bad usage (exit 2) naming it, as a bad --lease is
  const leaseMs = opts.leaseMs ?? (env.COORD_LOCK_LEASE ? durationMs(env.COORD_LOCK_LEASE, 'COORD_LOCK_LEASE') : undefined);
  const sink = runEventSink(env);
  let store: LockStore | undefined;
  if (env.COORD_BACKEND) {
    // loaded only when used: the file locks start without any backend code
    const [{ openBackend }, { lockStoreOf }] = await Promise.all([import('../context/backend.js'), import('./redis-store.js')]);
    store = lockStoreOf(await openBackend(env));
  }
  return new FileLockManager({
    owner: env.COORD_STREAM_ID ?? env.COORD_LOCK_OWNER ?? `pid:${process.pid}`,
    run: env.COORD_RUN_ID ?? null,
    ...(leaseMs !== undefined ? { leaseMs } : {}),
    ...(sink ? { onEvent: sink } : {}),
    ...(store ? { store } : {}),
  });
}

/** Everything on standard input. */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
