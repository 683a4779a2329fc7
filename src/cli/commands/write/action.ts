/**
 * `coord write PATH [--fence TOKEN] [--timeout DUR]` and `coord append PATH [--fence TOKEN]
 * [--timeout DUR]`: replace PATH with standard input atomically, or append standard input to
 * it as one whole record (a newline is added when missing). Under `exclusive_write` (the
 * default) both take PATH's write lock for the moment of the write — unless an enclosing
 * `coord lock` already holds it (checked: they refuse, exit 75, when that grant is no longer a
 * live holder). With `--fence`, they refuse (exit 1, nothing written) unless TOKEN is the
 * newest fencing token granted for PATH.
 */
import { UsageError } from '../../errors.js';
import { CoordError } from '../../../core/errors.js';
import { appendRecord, PendingReplace } from '../../../locks/files.js';
import { diskFullAt } from '../../../util/disk-full.js';
import { assertChainHolds, heldByChain, managerFromEnv, parseChain, readStdin, type ChainEntry } from '../../../locks/env.js';
import { canonicalPath } from '../../../locks/registry.js';
import { fileAccess, refuseSharedRead } from '../../../locks/access.js';
import type { FileLockManager, LockHandle } from '../../../locks/manager.js';

/** The options; the timeout in ms (parsed by commander: a bad one is a usage error before this runs). */
export interface WriteFlags {
  fence?: string;
  timeout?: number;
}

function parseFence(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--fence must be a lock token (a whole number), got "${value}"`);
  return n;
}

/**
 * Refuses unless `fence` is the newest token granted for the lock of `canonical`. An older
 * one is stale (a newer holder owns the lock). A newer one — or 0, which no grant gets — was
 * never granted: it is a guess or a token of another file's lock, and accepting it would let
 * anyone write past the current holder, since a fenced write takes no lock of its own.
 */
async function checkFence(manager: FileLockManager, canonical: string, fence: number | undefined): Promise<void> {
  if (fence === undefined) return;
  const current = (await manager.inspectAsync(canonical)).token;
  if (fence > current || fence < 1) {
    throw new CoordError(
      'refused',
      `refused to write ${canonical}: fencing token ${fence} has never been granted for it (the newest is ${current > 0 ? `token ${current}` : 'none: the lock was never granted'}); nothing was written`,
    );
  }
  if (current > fence) {
    throw new CoordError(
      'refused',
      `refused to write ${canonical}: fencing token ${fence} is stale, token ${current} has been granted since (a newer holder owns the lock); nothing was written`,
    );
  }
}

/**
 * What a write or append settles before it touches any file — the flags, the shared_read rule,
 * the lock manager, and whether it takes PATH's write lock itself — so that a refusal leaves
 * nothing behind, not even a temp file.
 */
interface WritePlan {
  canonical: string;
  fence: number | undefined;
  timeout: number | undefined;
  manager: FileLockManager;
  chain: ChainEntry[];
  takeLock: boolean;
  /** An enclosing `coord lock`'s grant the write relies on instead of taking the lock. */
  trusted: ChainEntry | undefined;
}

async function prepare(canonical: string, flags: WriteFlags, lock: boolean): Promise<WritePlan> {
  const timeout = flags.timeout;
  const fence = parseFence(flags.fence);
  refuseSharedRead(canonical);
  const manager = await managerFromEnv();
  const chain = parseChain(process.env.COORD_LOCK_CHAIN);
  const enclosing = heldByChain(chain, canonical);
  // A fenced write comes from a holder (the token says so): the fence protects it, and a lock
  // of its own would wait for that very holder.
  const takeLock = lock && fence === undefined && !(enclosing && enclosing.mode === 'write');
  if (takeLock && enclosing)
    throw new CoordError('deadlock', `deadlock: an enclosing coord lock holds a read lock on ${canonical}; writing needs the write lock`);
  // the lock is skipped on the chain's word: only while that grant still holds (checked under it)
  const trusted = lock && fence === undefined && !takeLock ? enclosing : undefined;
  return { canonical, fence, timeout, manager, chain, takeLock, trusted };
}

async function underLock(plan: WritePlan, body: (manager: FileLockManager) => void | Promise<void>): Promise<void> {
  const { canonical, manager, timeout } = plan;
  let handle: LockHandle | undefined;
  if (plan.takeLock)
    handle = await manager.acquire(canonical, { mode: 'write', ...(timeout !== undefined ? { timeout } : {}), holding: plan.chain.map((c) => c.ticket) });
  else if (plan.trusted) await assertChainHolds(manager, canonical, plan.trusted);
  try {
    await checkFence(manager, canonical, plan.fence);
    await body(manager);
  } finally {
    await handle?.release();
  }
}

export async function writeCommand(path: string, flags: WriteFlags): Promise<void> {
  const plan = await prepare(canonicalPath(path), flags, fileAccess() === 'exclusive_write');
  const { canonical, fence } = plan;
  // a token refused now writes nothing, not even a temp file
  await checkFence(plan.manager, canonical, fence);
  // The input goes into the temp file as it comes: a big one is never all in memory, and the
  // temp file has the target's mode before its first byte (PendingReplace), so a writer killed
  // while its input is still coming leaves no copy more users can read than the target. The
  // lock is taken once all of it is there, so that a slow producer does not hold it.
  // a full disk is told as `disk full: <target>` (the temp file is removed: PendingReplace)
  const onDisk = <T>(step: () => T): T => {
    try {
      return step();
    } catch (e) {
      throw diskFullAt(e, canonical);
    }
  };
  const tmp = onDisk(() => PendingReplace.open(canonical));
  try {
    for await (const chunk of process.stdin) onDisk(() => tmp.write(chunk as Buffer));
    await underLock(plan, async (manager) => {
      // the fencing check once more right before the rename: the window left is one syscall
      // (with the locks on a server, the round trip of that check too)
      await tmp
        .commit(() => checkFence(manager, canonical, fence))
        .catch((e: unknown) => {
          throw diskFullAt(e, canonical);
        });
    });
  } finally {
    tmp.discard();
  }
}

export async function appendCommand(path: string, flags: WriteFlags): Promise<void> {
  const canonical = canonicalPath(path);
  let data = await readStdin();
  if (data.length === 0 || data[data.length - 1] !== 0x0a) data = Buffer.concat([data, Buffer.from('\n')]);
  await underLock(await prepare(canonical, flags, true), () => {
    try {
      appendRecord(canonical, data);
    } catch (e) {
      throw diskFullAt(e, canonical); // the record is taken back (appendRecord): nothing torn stays
    }
  });
}
