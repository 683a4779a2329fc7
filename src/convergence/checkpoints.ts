/**
 * The checkpoints of a `checkpoint` point: every interval, a copy of each running stream's
 * outputs goes to `<target>/checkpoints/<n>/<stream>/`. A stream whose outputs did not change
 * since its last copy (same paths, kinds, sizes, modes, inodes and times: one walk of `lstat`
 * calls, nothing read) is not copied again, and a checkpoint where nothing changed is not
 * taken. Of each stream the newest `keep` copies stay; a checkpoint left empty is removed.
 * `resume_from: checkpoint` restarts a stream from its newest copy.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { cp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { mergeAll, type MergeSource } from '../merge/merge.js';
import { collectOutputs } from '../workspace/walk.js';

/** What one checkpoint did. */
export interface CheckpointTaken {
  n: number;
  /** Streams copied into it. */
  copied: string[];
  /** Streams left out: nothing changed since their last copy. */
  unchanged: string[];
  /** Streams whose copy failed this time (a file swapped while it was copied): tried again at the next checkpoint. */
  failed: Array<{ stream: string; error: string }>;
  /** Checkpoints removed because they no longer held a copy anyone keeps. */
  removed: number[];
}

/**
 * A stat signature of a source's outputs: equal when nothing was written, renamed or touched;
 * undefined when it has no outputs yet (nothing to copy).
 */
async function signature(source: MergeSource): Promise<string | undefined> {
  const { entries } = await collectOutputs(source.dir, source.outputs);
  if (entries.length === 0) return undefined;
  const h = createHash('sha1');
  for (const e of entries)
    h.update(`${e.rel}\0${e.kind}\0${e.size}\0${e.mode}\0${e.ino ?? ''}\0${e.mtimeMs ?? ''}\0${e.ctimeMs ?? ''}\0${e.linkTarget ?? ''}\n`);
  return h.digest('hex');
}

export class Checkpoints {
  /** The newest number used (checkpoints left by an earlier coordinator of the run count). */
  private n: number;
  /** Per stream: the signature of its last copy, and the checkpoints that hold a copy (oldest first). */
  private readonly streams = new Map<string, { sig: string; copies: number[] }>();

  constructor(
    readonly dir: string,
    private readonly keep: number,
  ) {
    this.n = 0;
    for (const name of listDir(dir)) {
      const k = Number(name);
      if (!Number.isInteger(k) || k <= 0) continue;
      this.n = Math.max(this.n, k);
      for (const s of listDir(join(dir, name))) {
        const entry = this.streams.get(s) ?? { sig: '', copies: [] };
        entry.copies.push(k);
        this.streams.set(s, entry);
      }
    }
    for (const e of this.streams.values()) e.copies.sort((a, b) => a - b);
  }

  /** Takes a checkpoint of `sources` (the running streams); undefined when none of them has anything new. */
  async take(sources: MergeSource[]): Promise<CheckpointTaken | undefined> {
    const changed: Array<{ source: MergeSource; sig: string }> = [];
    const unchanged: string[] = [];
    for (const source of sources) {
      const sig = await signature(source);
      if (sig === undefined) continue; // no outputs yet
      if (this.streams.get(source.stream)?.sig === sig) unchanged.push(source.stream);
      else changed.push({ source, sig });
    }
    if (changed.length === 0) return undefined;
    const n = this.n + 1;
    const at = join(this.dir, String(n));
    const copied: string[] = [];
    const failed: CheckpointTaken['failed'] = [];
    for (const { source, sig } of changed) {
      // Each stream's copy is staged and renamed into place, so a checkpoint is whole or absent;
      // a file the stream replaced meanwhile makes the copy fail, and the next checkpoint tries again.
      try {
        await mergeAll(join(at, source.stream), [{ stream: source.stream, dir: source.dir, outputs: source.outputs }], 'fail');
      } catch (e) {
        failed.push({ stream: source.stream, error: e instanceof Error ? e.message : String(e) });
        continue;
      }
      copied.push(source.stream);
      const entry = this.streams.get(source.stream) ?? { sig, copies: [] };
      entry.sig = sig;
      entry.copies.push(n);
      this.streams.set(source.stream, entry);
    }
    if (copied.length === 0) {
      rmSync(at, { recursive: true, force: true });
      return { n: this.n, copied, unchanged, failed, removed: [] };
    }
    this.n = n;
    return { n, copied, unchanged, failed, removed: await this.prune() };
  }

  /** Keeps the newest `keep` copies of each stream; removes checkpoints left empty. */
  private async prune(): Promise<number[]> {
    const touched = new Set<number>();
    for (const [stream, e] of this.streams) {
      while (e.copies.length > this.keep) {
        const old = e.copies.shift()!;
        await rm(join(this.dir, String(old), stream), { recursive: true, force: true });
        touched.add(old);
      }
    }
    const removed: number[] = [];
    for (const k of [...touched].sort((a, b) => a - b)) {
      try {
        rmdirSync(join(this.dir, String(k)));
        removed.push(k);
      } catch {
        // still holds another stream's copy
      }
    }
    return removed;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The newest `<target>/checkpoints/<n>/<stream>/` among the given point targets. */
export function lastCheckpoint(stream: string, pointTargets: string[]): string | undefined {
  let best: { n: number; dir: string } | undefined;
  for (const target of pointTargets) {
    const root = join(target, 'checkpoints');
    for (const name of listDir(root)) {
      const n = Number(name);
      const dir = join(root, name, stream);
      if (Number.isInteger(n) && (!best || n > best.n) && existsSync(dir)) best = { n, dir };
    }
  }
  return best?.dir;
}

/** Empties `workspace` (but for its repository data, `.git`, which checkpoints leave out) and copies `checkpoint` into it. */
export async function restoreCheckpoint(workspace: string, checkpoint: string): Promise<void> {
  for (const name of await readdir(workspace)) if (name !== '.git') await rm(join(workspace, name), { recursive: true, force: true });
  await cp(checkpoint, workspace, { recursive: true, verbatimSymlinks: true });
}
