/**
 * What a stream gets (SPEC §3): its environment, its workspace, its inputs. The workspace
 * layer (src/workspace) checks and creates directories; this file decides which ones.
 */
import { symlinkSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StreamSpec } from '../plan/types.js';

/** The `coord` launcher of this package (bin/coord.js). */
export const COORD_LAUNCHER = fileURLToPath(new URL('../../bin/coord.js', import.meta.url));

/** Paths of one stream inside its run. */
export interface StreamPaths {
  workspace: string;
  /** True when the plan named the directory: coord never removes it. */
  explicitWorkspace: boolean;
  shared: string | null;
  logDir: string;
  heartbeatFile: string;
  inputs: string;
}

/**
 * Every path absolute, whatever the caller passed (a library user's `home: '.coord'`, a plan
 * object built by hand): streams get them in their environment and may `cd` anywhere.
 */
export function streamPaths(spec: StreamSpec, runDir: string, workspaceDir: string): StreamPaths {
  const logDir = resolve(runDir, 'streams', spec.id);
  const sharedDir = resolve(workspaceDir, 'shared');
  const workspace = spec.workspace !== undefined ? resolve(spec.workspace) : spec.isolation === 'shared' ? sharedDir : resolve(workspaceDir, spec.id);
  return {
    workspace,
    explicitWorkspace: spec.workspace !== undefined,
    shared: spec.isolation === 'shared' || spec.isolation === 'hybrid' ? sharedDir : null,
    logDir,
    heartbeatFile: join(logDir, 'heartbeat'),
    inputs: join(logDir, 'inputs'),
  };
}

/**
 * The directory to put first on a stream's PATH so that `coord` there is this coord: the
 * directory of the launcher the user ran when it is called `coord` (npx, a global install),
 * else a `bin/` in the run directory holding a `coord` link to this package's launcher.
 */
export function coordBinDir(runDir: string): string {
  const invoked = process.argv[1];
  if (invoked && basename(invoked) === 'coord') return dirname(resolve(invoked));
  const dir = join(runDir, 'bin');
  const link = join(dir, 'coord');
  if (!existsSync(link)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    symlinkSync(COORD_LAUNCHER, link);
  }
  return dir;
}

export interface EnvInput {
  runId: string;
  runDir: string;
  spec: Pick<StreamSpec, 'id' | 'env'>;
  paths: Pick<StreamPaths, 'workspace' | 'shared' | 'heartbeatFile' | 'inputs'>;
  attempt: number;
  binDir: string;
  base?: NodeJS.ProcessEnv;
  /** The plan's `isolation.file_access`, applied by `coord write`/`append`/`lock`. */
  fileAccess?: string;
}

/**
 * The environment of one attempt: the caller's, the plan's `env`, then the COORD_* variables.
 * Their paths (and the PATH entry of `coord`) are made absolute here, as the last step before
 * the stream: a relative one breaks as soon as the stream changes directory.
 */
export function streamEnv(input: EnvInput): NodeJS.ProcessEnv {
  const env = runEnv(input, input.spec.env);
  env.COORD_STREAM_ID = input.spec.id;
  env.COORD_ATTEMPT = String(input.attempt);
  env.COORD_WORKSPACE = resolve(input.paths.workspace);
  env.COORD_HEARTBEAT_FILE = resolve(input.paths.heartbeatFile);
  env.COORD_INPUTS = resolve(input.paths.inputs);
  if (input.paths.shared) env.COORD_SHARED = resolve(input.paths.shared);
  else delete env.COORD_SHARED;
  if (input.fileAccess) env.COORD_FILE_ACCESS = input.fileAccess;
  return env;
}

/** The variables that name a stream's own paths and attempt (set by {@link streamEnv} only). */
const STREAM_VARS = ['COORD_STREAM_ID', 'COORD_ATTEMPT', 'COORD_WORKSPACE', 'COORD_HEARTBEAT_FILE', 'COORD_INPUTS', 'COORD_SHARED'];

/**
 * What every process a run starts gets (a stream's attempt, a point's check): the caller's
 * environment and `extra`, `coord` first on PATH, `COORD_RUN_ID` and `COORD_RUN_DIR`; no
 * stream's variables nor the locks of whoever started the run.
 */
export function runEnv(input: Pick<EnvInput, 'runId' | 'runDir' | 'binDir' | 'base'>, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base = input.base ?? process.env;
  const env: NodeJS.ProcessEnv = { ...base, ...extra };
  env.PATH = [resolve(input.binDir), base.PATH ?? ''].filter(Boolean).join(':');
  env.COORD_RUN_ID = input.runId;
  env.COORD_RUN_DIR = resolve(input.runDir);
  for (const k of [...STREAM_VARS, 'COORD_LOCK_TOKEN', 'COORD_LOCK_PATH', 'COORD_LOCK_CHAIN', 'COORD_LOCK_OWNER']) delete env[k];
  return env;
}

/**
 * Fills `$COORD_INPUTS` with one link per dependency: `<point>` → the point's merged output,
 * `<stream>` → the finished stream's workspace.
 */
export function linkInputs(inputs: string, links: Array<{ name: string; target: string }>): void {
  if (links.length === 0) return; // a stream without dependencies has no inputs directory
  mkdirSync(inputs, { recursive: true, mode: 0o700 });
  for (const { name, target } of links) {
    const at = join(inputs, name);
    if (!existsSync(at)) symlinkSync(target, at);
  }
}

/**
 * `--rm`: removes the workspaces coord made for streams that succeeded (their outputs are
 * merged by then); the shared directory goes when every stream using it succeeded. A
 * workspace the plan named is the user's and stays.
 */
export function removeSucceededWorkspaces(streams: Array<{ paths: StreamPaths; succeeded: boolean }>): void {
  const sharedUsers = streams.filter((s) => s.paths.shared);
  for (const { paths, succeeded } of streams) {
    if (!succeeded || paths.explicitWorkspace || paths.workspace === paths.shared) continue;
    rmSync(paths.workspace, { recursive: true, force: true });
  }
  const shared = sharedUsers[0]?.paths.shared;
  if (shared && sharedUsers.every((s) => s.succeeded)) rmSync(shared, { recursive: true, force: true });
}
