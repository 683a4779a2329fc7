/**
 * The one write both VersionedDir and SeqLog are built on: a complete temp file linked to its
 * final name with link(2), which fails with EEXIST rather than replace a name that exists.
 * The name appears whole or not at all, and of two writers of one name exactly one wins.
 */
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { diskFullAt, writeAllSync } from '../util/disk-full.js';

export function isErrno(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as NodeJS.ErrnoException).code === code;
}

/** fsync of a file or a directory by path. */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The temp files of `linkPublish`: `.tmp-<pid>-<hex>`. */
export const TEMP_NAME = /^\.tmp-(\d+)-[0-9a-f]+$/;

/**
 * Writes `text` to a temp file in `dir` (created with `mode` when missing) and links it as
 * `dir/name`; false when that name is taken. With `durable`, the file and the directory are
 * flushed to disk before this returns. The temp file is always removed.
 */
export function linkPublish(dir: string, name: string, text: string, opts: { durable?: boolean; mode?: number } = {}): boolean {
  const tmp = join(dir, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  const target = join(dir, name);
  let fd: number;
  try {
    try {
      fd = openSync(tmp, 'wx', 0o600);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
      mkdirSync(dir, { recursive: true, mode: opts.mode ?? 0o700 });
      fd = openSync(tmp, 'wx', 0o600);
    }
  } catch (e) {
    throw diskFullAt(e, target);
  }
  try {
    try {
      writeAllSync(fd, text);
      if (opts.durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, target);
    if (opts.durable) fsyncPath(dir);
    return true;
  } catch (e) {
    if (isErrno(e, 'EEXIST')) return false;
    throw diskFullAt(e, target);
  } finally {
    // whatever happened (a full disk part way through the write included), no temp file stays
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
  }
}

/** The numbers of the names in `dir` that `pattern` matches (its first group, else the whole name), lowest first; none when `dir` is missing. */
export function numberedNames(dir: string, pattern: RegExp): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return [];
    throw e;
  }
  const out: number[] = [];
  for (const n of names) {
    const m = pattern.exec(n);
    if (m) out.push(Number(m[1] ?? m[0]));
  }
  return out.sort((a, b) => a - b);
}
