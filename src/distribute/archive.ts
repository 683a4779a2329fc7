/**
 * Directory trees travelling through the Redis server between the coordinator and workers:
 * gzip'd tar archives made and read by node-tar. A workspace is packed as it is (symbolic
 * links stay links, special files are left out); extraction never writes outside its target
 * (node-tar strips absolute paths and `..`, and refuses to extract through a symbolic link).
 * What a link points at is judged again by the merge, as for a local stream.
 *
 * Archives are stored as one Redis value each, so they have a size limit: COORD_ARCHIVE_LIMIT
 * (bytes, or with a unit: `500MB`, `1GiB`), 256 MiB by default, under the server's 512 MB
 * `proto-max-bulk-len`. Packing stops as soon as the compressed bytes pass it.
 */
import { mkdir, lstat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { c as tarCreate, x as tarExtract } from 'tar';

export const DEFAULT_ARCHIVE_LIMIT = 256 * 1024 * 1024;

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
};

/** A byte count such as `1048576`, `500MB`, `1GiB`; throws naming `where` when it is not one. */
export function parseBytes(text: string, where: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined || Number(m[1]) <= 0)
    throw new Error(`${where}: "${text}" is not a size (a number of bytes, or with KB, MB, GB, KiB, MiB or GiB)`);
  return Math.floor(Number(m[1]) * unit);
}

/** The archive size limit of this process (COORD_ARCHIVE_LIMIT). */
export function archiveLimit(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.COORD_ARCHIVE_LIMIT;
  return v === undefined || v === '' ? DEFAULT_ARCHIVE_LIMIT : parseBytes(v, 'COORD_ARCHIVE_LIMIT');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export class ArchiveTooLarge extends Error {
  constructor(
    readonly what: string,
    readonly limit: number,
  ) {
    super(`${what} is larger than the archive limit of ${formatBytes(limit)} (COORD_ARCHIVE_LIMIT); narrow the stream's \`outputs:\` or raise the limit`);
  }
}

/** The content of `dir` as a gzip'd tar; throws ArchiveTooLarge past `limit` bytes. */
export async function packDir(dir: string, limit: number, what = dir): Promise<Buffer> {
  const pack = tarCreate(
    {
      cwd: dir,
      gzip: { level: 1 },
      portable: true,
      // regular files, directories and symbolic links; no sockets, fifos or devices
      filter: (_path, stat) => !('isFile' in stat) || stat.isFile() || stat.isDirectory() || stat.isSymbolicLink(),
    },
    ['.'],
  ) as unknown as Readable;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of pack) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) {
      pack.destroy();
      throw new ArchiveTooLarge(what, limit);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Extracts an archive of packDir into `dir` (created when missing). */
export async function unpackInto(archive: Buffer, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  await new Promise<void>((resolve, reject) => {
    const x = tarExtract({ cwd: dir, strict: true, preservePaths: false, noChmod: false });
    x.on('error', reject);
    x.on('close', () => resolve());
    x.on('finish', () => resolve());
    Readable.from([archive]).pipe(x as unknown as NodeJS.WritableStream);
  });
}
