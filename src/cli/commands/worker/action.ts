/**
 * `coord worker --backend redis://… [--slots N] [--capabilities A,B] [--resources gpu=2]`:
 * runs streams of `coord run --workers` runs on this host until SIGINT/SIGTERM (then the
 * running streams get SIGTERM and report as usual; a second signal kills them).
 */
import { UsageError } from '../../errors.js';
import { coordHome } from '../../../context/backend.js';
import { ID_PATTERN } from '../../../plan/types.js';

/** The options; the lease in ms (parsed by commander: a bad one is a usage error before this runs). */
export interface WorkerFlags {
  slots?: number;
  capabilities?: string;
  resources?: string;
  name?: string;
  lease: number;
}

function parseResources(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z0-9_.-]+)=(\d+)$/.exec(part);
    if (!m || Number(m[2]) < 1) throw new UsageError(`--resources: "${part}" is not NAME=N (a pool name and a whole number of 1 or more)`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

export async function workerCommand(flags: WorkerFlags): Promise<void> {
  const url = process.env.COORD_BACKEND;
  if (!url) throw new UsageError('coord worker needs a Redis server: --backend redis://HOST[:PORT][/DB] (or COORD_BACKEND)');
  const capabilities = (flags.capabilities ?? '')
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  const resources = parseResources(flags.resources ?? '');
  if (flags.name !== undefined && !ID_PATTERN.test(flags.name))
    throw new UsageError(`--name: "${flags.name}" is not a worker id (1-64 letters, digits, "_", "." or "-")`);
  const leaseMs = flags.lease;
  if (leaseMs < 300) throw new UsageError('--lease: at least 300ms');
  const { WorkerHost } = await import('../../../distribute/worker.js');
  const worker = new WorkerHost({
    url,
    ...(flags.slots ? { slots: flags.slots } : {}),
    capabilities,
    resources,
    ...(flags.name ? { name: flags.name } : {}),
    leaseMs,
    home: coordHome(),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  let signals = 0;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (): void => {
      signals += 1;
      if (signals === 1) process.stderr.write(`coord worker ${worker.id}: stopping (${worker.busy} stream(s) running; a second signal kills them)\n`);
      void worker.stop(signals > 1).then(resolve);
    };
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  });
  await worker.start();
  const res = Object.entries(resources).map(([k, n]) => `${k}=${n}`);
  process.stderr.write(
    `coord worker ${worker.id}: ready on ${worker.where}, ${worker.slots} slot(s)` +
      (capabilities.length ? `, capabilities ${capabilities.join(',')}` : '') +
      (res.length ? `, resources ${res.join(',')}` : '') +
      '\n',
  );
  await stopped;
}
