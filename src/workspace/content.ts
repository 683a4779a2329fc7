/**
 * File-system facts the merge engine needs: is the target's file system case-insensitive,
 * what is a file's content digest, and opening a source file without following links.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WorkspaceError } from './root.js';
import type { Ticker } from './ticker.js';

/**
 * Probes whether the file system holding `dir` treats names case-insensitively (macOS APFS,
 * Windows NTFS by default): creates a temporary file in `dir` and looks it up by its
 * upper-cased name. ext4 and tmpfs answer false. The probe file is removed again.
 */
export function probeCaseInsensitive(dir: string): boolean {
  const name = `.coord-case-probe-${randomBytes(6).toString('hex')}`;
  const probe = path.join(dir, name);
  fs.writeFileSync(probe, '', { flag: 'wx', mode: 0o600 });
  try {
    const lower = fs.lstatSync(probe);
    try {
      const upper = fs.lstatSync(path.join(dir, name.toUpperCase()));
      return upper.ino === lower.ino && upper.dev === lower.dev;
    } catch {
      return false;
    }
  } finally {
    fs.unlinkSync(probe);
  }
}

/** The comparison form of one path component: itself, or case- and normalization-folded. */
export function foldName(name: string, caseInsensitive: boolean): string {
  return caseInsensitive ? name.normalize('NFC').toLowerCase() : name;
}

/** What the opened file must still be (dev/ino from the walk's lstat), when known. */
export interface Expected {
  dev?: number;
  ino?: number;
}

/**
 * Opens `abs` for reading without following a final symbolic link (O_NOFOLLOW) or blocking
 * on a FIFO (O_NONBLOCK), and checks it is a regular file and, when given, still the inode
 * the walk saw: a stream's leftover process that swapped a file for a link (or a parent
 * directory for a link to `/etc`) after the walk is caught here instead of copied.
 */
export function openVerified(abs: string, expected: Expected = {}): { fd: number; stat: fs.Stats } {
  const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(abs, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    throw new WorkspaceError(`cannot open ${abs} for merging: ${(e as Error).message}`, abs);
  }
  const stat = fs.fstatSync(fd);
  const moved = (expected.ino !== undefined && stat.ino !== expected.ino) || (expected.dev !== undefined && stat.dev !== expected.dev);
  if (!stat.isFile() || moved) {
    fs.closeSync(fd);
    throw new WorkspaceError(`${abs} changed while it was being merged (no longer the file that was collected)`, abs);
  }
  return { fd, stat };
}

const CHUNK = 1024 * 1024;

/**
 * The SHA-256 of a file's content, read in 1 MiB chunks (yielding to the event loop between
 * them), opened with {@link openVerified}. Only files that share a path and a size with
 * another one are ever hashed.
 */
export async function digestFile(abs: string, expected: Expected, ticker: Ticker): Promise<string> {
  const { fd } = openVerified(abs, expected);
  try {
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      await ticker.tick();
    }
    return hash.digest('hex');
  } finally {
    fs.closeSync(fd);
  }
}
