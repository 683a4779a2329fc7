/**
 * `coord write PATH [--fence TOKEN] [--timeout DUR]` and `coord append PATH [--fence TOKEN]
 * [--timeout DUR]`: replace PATH with standard input atomically, or append standard input to
 * it as one whole record (a newline is added when missing). Under `exclusive_write` (the
 * default) both take PATH's write lock for the moment of the write — unless an enclosing
 * `coord lock` already holds it. With `--fence`, they refuse (exit 1, nothing written) when a
 * newer fencing token than TOKEN has been granted for PATH.
 */
import { UsageError } from '../../util/result.js';
import { appendRecord, atomicReplaceAsync } from '../../locks/files.js';
import { heldByChain, managerFromEnv, parseChain, readStdin } from '../../locks/env.js';
import { canonicalPath } from '../../locks/registry.js';
import { fileAccess, refuseSharedRead } from '../../locks/access.js';
import type { FileLockManager, LockHandle } from '../../locks/manager.js';

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

/** Refuses when a token newer than `fence` has been granted for the lock of `canonical`. */
async function checkFence(manager: FileLockManager, canonical: string, fence: number | undefined): Promise<void> {
  if (fence === undefined) return;
  const current = (await manager.inspectAsync(canonical)).token;
  if (current > fence) {
    throw new UsageError(`refused to write ${canonical}: fencing token ${fence} is stale, token ${current} has been granted since (a newer holder owns the lock); nothing was written`, 1);
  }
}

async function underLock(canonical: string, flags: WriteFlags, fence: number | undefined, lock: boolean, body: (manager: FileLockManager) => void | Promise<void>): Promise<void> {
  const timeout = flags.timeout;
  refuseSharedRead(canonical);
  const manager = await managerFromEnv();
  const chain = parseChain(process.env.COORD_LOCK_CHAIN);
  const enclosing = heldByChain(chain, canonical);
  let handle: LockHandle | undefined;
  // A fenced write comes from a holder (the token says so): the fence protects it, and a lock
  // of its own would wait for that very holder.
  if (lock && fence === undefined && !(enclosing && enclosing.mode === 'write')) {
    if (enclosing) throw new UsageError(`deadlock: an enclosing coord lock holds a read lock on ${canonical}; writing needs the write lock`, 75);
    handle = await manager.acquire(canonical, { mode: 'write', ...(timeout !== undefined ? { timeout } : {}), holding: chain.map((c) => c.ticket) });
  }
  try {
    await checkFence(manager, canonical, fence);
    await body(manager);
  } finally {
    await handle?.release();
  }
}

export async function writeCommand(path: string, flags: WriteFlags): Promise<void> {
  const canonical = canonicalPath(path);
  const data = await readStdin();
  const fence = parseFence(flags.fence);
  await underLock(canonical, flags, fence, fileAccess() === 'exclusive_write', async (manager) => {
    // the fencing check once more right before the rename: the window left is one syscall
    // (with the locks on a server, the round trip of that check too)
    await atomicReplaceAsync(canonical, data, () => checkFence(manager, canonical, fence));
  });
}

export async function appendCommand(path: string, flags: WriteFlags): Promise<void> {
  const canonical = canonicalPath(path);
  let data = await readStdin();
  if (data.length === 0 || data[data.length - 1] !== 0x0a) data = Buffer.concat([data, Buffer.from('\n')]);
  await underLock(canonical, flags, parseFence(flags.fence), true, () => appendRecord(canonical, data));
}
