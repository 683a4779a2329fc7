/**
 * The backends a command opened (see openBackend in backend.ts), kept in a module without
 * imports so that the command line can close them after every command without loading any
 * backend code.
 */
export const openedBackends = new Map<string, { close(): Promise<void> }>();

/** Writes still on their way to a backend (lock events), awaited before the backends close. */
export const pendingWrites = new Set<Promise<unknown>>();

/** Closes the backends opened so far, once the writes on their way have been made. */
export async function closeBackends(): Promise<void> {
  while (pendingWrites.size > 0) await Promise.allSettled([...pendingWrites]);
  const all = [...openedBackends.values()];
  openedBackends.clear();
  await Promise.allSettled(all.map((b) => b.close()));
}
