/**
 * One digest of what a stream contributes (its `outputs`, walked as a merge walks them: no
 * link followed, special files left out), so that replicas' results can be compared: two
 * workspaces with the same paths, kinds, link targets and file contents have the same digest,
 * whatever their timestamps or permission bits.
 */
import { createHash } from 'node:crypto';
import { collectOutputs } from '../workspace/walk.js';
import { digestFile } from '../workspace/content.js';
import { Ticker } from '../workspace/ticker.js';
import type { MergeSource } from './collect.js';

/** The SHA-256 (hex) of `source`'s selected outputs. */
export async function resultDigest(source: MergeSource): Promise<string> {
  const { entries } = await collectOutputs(source.dir, source.outputs);
  const hash = createHash('sha256');
  const ticker = new Ticker();
  for (const e of entries) {
    const body =
      e.kind === 'file'
        ? await digestFile(e.abs, { ...(e.dev !== undefined ? { dev: e.dev } : {}), ...(e.ino !== undefined ? { ino: e.ino } : {}) }, ticker)
        : e.kind === 'symlink'
          ? (e.linkTarget ?? '')
          : '';
    hash.update(`${e.kind}\0${e.rel}\0${body}\n`);
  }
  return hash.digest('hex');
}
