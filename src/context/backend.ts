/**
 * Where runs live and which run a command means. A process inside a stream has
 * COORD_RUN_DIR (`<home>/runs/<id>`); otherwise runs are under COORD_HOME or `./.coord`.
 * With COORD_BACKEND (set by `--backend` too) the runs are stored on that server, and
 * `<home>/runs/<id>` keeps only this host's local files of them.
 */
import { basename, dirname, resolve } from 'node:path';
import { FileBackend } from '../backend/file/file-backend.js';
import type { HostBackend, RunRecord } from '../backend/types.js';
import { parseBackendUrl } from '../backend/url.js';
import { CoordError } from '../core/errors.js';
import { durationMs } from '../util/duration.js';
import { openedBackends } from './opened.js';
import { printConnection } from '../report/connection.js';

export { closeBackends } from './opened.js';

export function coordHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.COORD_HOME) return resolve(env.COORD_HOME);
  if (env.COORD_RUN_DIR) return dirname(dirname(resolve(env.COORD_RUN_DIR)));
  return resolve('.coord');
}

/**
 * Checks a `--backend` or COORD_BACKEND value (a CoordError `invalid` naming `where` when it is bad)
 * and returns it; undefined for an empty value (the embedded file backend).
 */
export function checkBackendUrl(value: string | undefined, where: string): string | undefined {
  if (!value) return undefined;
  try {
    return parseBackendUrl(value, where).url;
  } catch (e) {
    throw new CoordError('invalid', e instanceof Error ? e.message : String(e));
  }
}

/** A new backend: the server named by COORD_BACKEND, else the embedded file backend under `home`. The caller closes it. */
export async function newBackend(env: NodeJS.ProcessEnv = process.env, home: string = coordHome(env)): Promise<HostBackend> {
  const url = checkBackendUrl(env.COORD_BACKEND, 'COORD_BACKEND');
  if (!url) return new FileBackend(home);
  // loaded only when used: short commands on the file backend start without it
  const { RedisBackend } = await import('../backend/redis/redis-backend.js');
  const wait = env.COORD_BACKEND_WAIT ? durationMs(env.COORD_BACKEND_WAIT, 'COORD_BACKEND_WAIT') : undefined;
  return new RedisBackend(url, { home, onConnection: printConnection(), ...(wait !== undefined ? { giveUpMs: wait } : {}) });
}

/** The backend of a command: newBackend(), one per place for the whole process; closeBackends() ends them. */
export async function openBackend(env: NodeJS.ProcessEnv = process.env, home: string = coordHome(env)): Promise<HostBackend> {
  const id = `${env.COORD_BACKEND ?? ''}\0${home}`;
  let b = openedBackends.get(id) as HostBackend | undefined;
  if (!b) {
    b = await newBackend(env, home);
    openedBackends.set(id, b);
  }
  return b;
}

/**
 * The run a command is about: RUN_ID when given, else the run of the calling stream
 * (COORD_RUN_DIR), else the newest run.
 */
export async function resolveRun(backend: HostBackend, runId: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<RunRecord> {
  const id = runId ?? (env.COORD_RUN_DIR ? basename(resolve(env.COORD_RUN_DIR)) : undefined);
  if (id) {
    const run = await backend.getRun(id);
    if (!run) throw new CoordError('not-found', `no run "${id}" in ${backend.where}`);
    return run;
  }
  const [newest] = await backend.listRuns();
  if (!newest) throw new CoordError('not-found', `no runs yet in ${backend.where} (start one with: coord run PLAN.yaml)`);
  return newest;
}
