/**
 * What the run engine is given (CoordinatorOptions) and what it gives back (RunOutcome):
 * the public face of StreamCoordinator, exported from src/index.ts.
 */
import type { Plan } from '../plan/types.js';
import type { Backend, PointRecord, StreamRecord } from '../backend/types.js';
import type { RunState } from '../events/types.js';
import type { Spawner } from '../supervise/spawner.js';
import type { Resolution } from '../merge/conflicts.js';

/** Streams started at once unless `--concurrency` says otherwise (Turborepo's default too). */
export const DEFAULT_CONCURRENCY = 10;

export interface CoordinatorOptions {
  plan: Plan;
  /** The `.coord` directory (COORD_HOME); runs live in `<home>/runs/<id>`. */
  home: string;
  backend?: Backend;
  concurrency?: number;
  /** How stream processes are created (default: a launcher process, see src/supervise/launcher.ts). */
  spawner?: Spawner;
  /** Whether listeners get `stream-output` events with each line (default true; `--quiet` turns it off). */
  outputLines?: boolean;
  runId?: string;
  /** `--rm`: remove the workspaces of succeeded streams once the run has merged them. */
  removeWorkspaces?: boolean;
  /** `--keep-workspaces`: keep git worktrees after the run (they are removed by default). */
  keepWorkspaces?: boolean;
  /** The environment streams inherit (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /**
   * Continue the run `runId` whose coordinator died: succeeded streams and published points
   * are kept; streams it left running are stopped and run again, or with `adopt` watched to
   * their end; the rest run.
   */
  resume?: { adopt: boolean; resolutions?: ReadonlyMap<string, Resolution> };
  /**
   * `--workers`: streams run on `coord worker` hosts through this Redis server (streams that
   * need this host's file system still run here: see runsRemote).
   */
  workers?: { url: string; leaseMs?: number };
  /**
   * On a backend that expires keys (Redis): how long the run's lease lasts unless renewed
   * (every third of it), default 10 s. Other hosts judge the coordinator dead once it lapses.
   */
  runLeaseMs?: number;
}

export interface RunOutcome {
  runId: string;
  runDir: string;
  state: RunState;
  /** 0 all succeeded, 1 a stream or point failed, 130 interrupted or cancelled (SPEC §1). */
  exitCode: number;
  streams: StreamRecord[];
  points: PointRecord[];
  /**
   * The run met a full disk (`message`: `disk full: <path>`, the first file it could not
   * write) and failed; `stored`: whether its final state (what was printed) is stored all
   * the same, written from the space the run set aside at its start (see reserveSpace);
   * `runStored`: whether at least the run record (its state and end) is.
   */
  diskFull?: { message: string; stored: boolean; runStored: boolean };
}
