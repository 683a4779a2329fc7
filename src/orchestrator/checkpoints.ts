/** Finding and restoring a stream's checkpoints (`resume_from: checkpoint`). */
import { existsSync, readdirSync } from 'node:fs';
import { cp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** The newest `<target>/checkpoints/<n>/<stream>/` among the given point targets. */
export function lastCheckpoint(stream: string, pointTargets: string[]): string | undefined {
  let best: { n: number; dir: string } | undefined;
  for (const target of pointTargets) {
    const root = join(target, 'checkpoints');
    let names: string[] = [];
    try {
      names = readdirSync(root);
    } catch {
      continue;
    }
    for (const name of names) {
      const n = Number(name);
      const dir = join(root, name, stream);
      if (Number.isInteger(n) && (!best || n > best.n) && existsSync(dir)) best = { n, dir };
    }
  }
  return best?.dir;
}

/** Empties `workspace` and copies `checkpoint` into it. */
export async function restoreCheckpoint(workspace: string, checkpoint: string): Promise<void> {
  for (const name of await readdir(workspace)) await rm(join(workspace, name), { recursive: true, force: true });
  await cp(checkpoint, workspace, { recursive: true, verbatimSymlinks: true });
}
