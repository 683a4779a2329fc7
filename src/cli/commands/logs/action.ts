/**
 * `coord logs STREAM [RUN] [-f]`: the stream's stdout (to stdout) and stderr (to stderr).
 * `coord logs POINT:verify [RUN] [-f]`: the output of every check of the point's merges, in order.
 */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { openBackend, resolveRun } from '../../../context/backend.js';
import type { HostBackend, PointRecord } from '../../../backend/types.js';
import { UsageError } from '../../errors.js';
import { FOLLOW_POLL_MS, runOver, sleep } from '../../follow.js';
import { TERMINAL_STREAM_STATES } from '../../../events/types.js';

export async function logsCommand(stream: string, runId: string | undefined, flags: { follow?: boolean; fd?: 'stdout' | 'stderr' }): Promise<void> {
  const backend = await openBackend();
  const run = await resolveRun(backend, runId);
  if (stream.endsWith(VERIFY_SUFFIX)) return checkLogs(backend, run.id, stream.slice(0, -VERIFY_SUFFIX.length), flags.follow === true);
  if (stream.endsWith(RESOLVE_SUFFIX)) return resolverLog(backend, run.id, stream.slice(0, -RESOLVE_SUFFIX.length));
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

const VERIFY_SUFFIX = ':verify';
const RESOLVE_SUFFIX = ':resolve';

/** The output of a point's resolver (`resolve:`). */
async function resolverLog(backend: HostBackend, runId: string, point: string): Promise<void> {
  const points = await backend.listPoints(runId);
  const rec = points.find((p) => p.name === point);
  if (!rec) throw new UsageError(`no convergence point "${point}" in run ${runId} (points: ${points.map((p) => p.name).join(', ') || 'none'})`);
  if (!rec.resolver) {
    process.stderr.write(`${point} has run no resolver\n`);
    return;
  }
  copyFrom(rec.resolver.log, 0, process.stdout);
}

/** Each check's output after a line saying what it checked and how it ended (the log of one still running grows under its line). */
async function checkLogs(backend: HostBackend, runId: string, point: string, follow: boolean): Promise<void> {
  const find = async (): Promise<PointRecord | undefined> => (await backend.listPoints(runId)).find((p) => p.name === point);
  const rec = await find();
  if (!rec) {
    const names = (await backend.listPoints(runId)).map((p) => p.name);
    throw new UsageError(`no convergence point "${point}" in run ${runId} (points: ${names.join(', ') || 'none'})`);
  }
  const printed = new Map<number, { offset: number; ended: boolean }>();
  const pump = (r: PointRecord): void => {
    for (const c of r.checks ?? []) {
      let seen = printed.get(c.check);
      if (!seen) {
        const what = c.streams.length > 0 ? c.streams.join(', ') : 'the base alone';
        process.stdout.write(`${printed.size > 0 ? '\n' : ''}── check ${c.check}${c.round > 0 ? ` (search round ${c.round})` : ''}: ${what} ──\n`);
        seen = { offset: 0, ended: false };
        printed.set(c.check, seen);
      }
      if (seen.ended) continue;
      seen.offset = copyFrom(c.log, seen.offset, process.stdout);
      seen.ended = c.outcome !== 'running';
    }
  };
  if (!rec.checks?.length && !follow) {
    process.stderr.write(`${point} has run no check${rec.state === 'done' || rec.state === 'failed' ? '' : ' yet'}\n`);
    return;
  }
  pump(rec);
  if (!follow) return;
  for (;;) {
    const r = await find();
    const finished = (r && (r.state === 'done' || r.state === 'failed')) || (await runOver(backend, runId));
    await sleep(FOLLOW_POLL_MS);
    if (r) pump((await find()) ?? r);
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
