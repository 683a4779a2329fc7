/** `coord logs STREAM [RUN] [-f]`: the stream's stdout (to stdout) and stderr (to stderr). */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { openBackend, resolveRun } from '../../../context/backend.js';
import { UsageError } from '../../errors.js';
import { FOLLOW_POLL_MS, runOver, sleep } from '../../follow.js';
import { TERMINAL_STREAM_STATES } from '../../../events/types.js';

export async function logsCommand(stream: string, runId: string | undefined, flags: { follow?: boolean; fd?: 'stdout' | 'stderr' }): Promise<void> {
  const backend = await openBackend();
  const run = await resolveRun(backend, runId);
  const streams = await backend.listStreams(run.id);
  if (!streams.some((s) => s.id === stream)) {
    throw new UsageError(`no stream "${stream}" in run ${run.id} (streams: ${streams.map((s) => s.id).join(', ') || 'none'})`);
  }
  const dir = join(backend.runDir(run.id), 'streams', stream);
  const fds = flags.fd ? [flags.fd] : (['stdout', 'stderr'] as const);
  const offsets = new Map<string, number>(fds.map((f) => [f, 0]));
  const pump = (): void => {
    for (const fd of fds) offsets.set(fd, copyFrom(join(dir, fd), offsets.get(fd) ?? 0, fd === 'stdout' ? process.stdout : process.stderr));
  };
  pump();
  if (!flags.follow) return;
  for (;;) {
    const rec = (await backend.listStreams(run.id)).find((s) => s.id === stream);
    const finished = (rec && TERMINAL_STREAM_STATES.has(rec.state)) || (await runOver(backend, run.id));
    await sleep(FOLLOW_POLL_MS);
    pump();
    if (finished) return;
  }
}

/** Writes what `file` holds past `offset`; returns the new offset (the file may not exist yet). */
function copyFrom(file: string, offset: number, out: NodeJS.WriteStream): number {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return offset;
  }
  try {
    const size = fstatSync(fd).size;
    if (size <= offset) return offset;
    const buf = Buffer.alloc(size - offset);
    const n = readSync(fd, buf, 0, buf.length, offset);
    out.write(buf.subarray(0, n));
    return offset + n;
  } finally {
    closeSync(fd);
  }
}
