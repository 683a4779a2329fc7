/**
 * Where runs live and which run a command means. A process inside a stream has
 * COORD_RUN_DIR (`<home>/runs/<id>`); otherwise runs are under COORD_HOME or `./.coord`.
 */
import { basename, dirname, resolve } from 'node:path';
import { FileBackend } from '../backend/file/file-backend.js';
import type { RunRecord } from '../backend/types.js';
import { UsageError } from '../util/result.js';

export function coordHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.COORD_HOME) return resolve(env.COORD_HOME);
  if (env.COORD_RUN_DIR) return dirname(dirname(resolve(env.COORD_RUN_DIR)));
  return resolve('.coord');
}

export function openBackend(env: NodeJS.ProcessEnv = process.env): FileBackend {
  return new FileBackend(coordHome(env));
}

/**
 * The run a command is about: RUN_ID when given, else the run of the calling stream
 * (COORD_RUN_DIR), else the newest run.
 */
export async function resolveRun(backend: FileBackend, runId: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<RunRecord> {
  const id = runId ?? (env.COORD_RUN_DIR ? basename(resolve(env.COORD_RUN_DIR)) : undefined);
  if (id) {
    const run = await backend.getRun(id);
    if (!run) throw new UsageError(`no run "${id}" in ${backend.home}`);
    return run;
  }
  const [newest] = await backend.listRuns();
  if (!newest) throw new UsageError(`no runs yet in ${backend.home} (start one with: coord run PLAN.yaml)`);
  return newest;
}
