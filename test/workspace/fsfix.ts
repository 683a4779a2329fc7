import type { MergeSource } from '../../src/merge/merge.js';
/** Temp directories and file trees for the workspace tests. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A spec of one file: its content, or content and mode. */
export type FileSpec = string | { content: string; mode?: number } | { link: string } | { dir: true };

/** Creates a fresh temp directory; remove it with {@link removeTemp}. */
export async function makeTemp(prefix = 'coord-ws-'): Promise<string> {
  return fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), prefix)));
}

/** Removes a temp directory made by {@link makeTemp} (after making read-only parts writable). */
export async function removeTemp(dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true });
}

/** Writes `files` (relative path → spec) under `root`, creating parent directories. */
export async function writeTree(root: string, files: Record<string, FileSpec>): Promise<void> {
  for (const [rel, spec] of Object.entries(files)) {
    const abs = path.join(root, rel);
    await fs.mkdir(path.dirname(abs), { recursive: true });
    if (typeof spec === 'string') await fs.writeFile(abs, spec);
    else if ('link' in spec) await fs.symlink(spec.link, abs);
    else if ('dir' in spec) await fs.mkdir(abs, { recursive: true });
    else {
      await fs.writeFile(abs, spec.content);
      if (spec.mode !== undefined) await fs.chmod(abs, spec.mode);
    }
  }
}

/**
 * Reads a tree back: file → content, symbolic link → `-> text`, empty directory → `<dir>`.
 * Never follows links.
 */
export async function readTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const visit = async (rel: string): Promise<void> => {
    const names = (await fs.readdir(path.join(root, rel))).sort();
    if (names.length === 0 && rel !== '') out[rel] = '<dir>';
    for (const name of names) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await fs.lstat(path.join(root, r));
      if (st.isSymbolicLink()) out[r] = `-> ${await fs.readlink(path.join(root, r))}`;
      else if (st.isDirectory()) await visit(r);
      else if (st.isFile()) out[r] = await fs.readFile(path.join(root, r), 'utf8');
      else out[r] = '<special>';
    }
  };
  await visit('');
  return out;
}

/** Permission bits of a path (lstat). */
export async function modeOf(p: string): Promise<number> {
  return (await fs.lstat(p)).mode & 0o777;
}

/** Does anything exist at `p` (lstat, so a dangling link counts)? */
export async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** The process runs as root (some permission tests only make sense as one or the other). */
export const isRoot = process.getuid?.() === 0;

/** Makes a stream's workspace `<tmp>/ws/<stream>` holding `files`, as a merge source. */
export async function makeSource(tmp: string, stream: string, files: Record<string, FileSpec>, outputs: string[] = []): Promise<MergeSource> {
  const dir = path.join(tmp, 'ws', stream);
  await fs.mkdir(dir, { recursive: true });
  await writeTree(dir, files);
  return { stream, dir, outputs };
}
