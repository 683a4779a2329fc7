/** What every reporter is (a leaf: the reporters and their factory both import it). */
import type { CoordEvent } from '../events/types.js';
import type { RunOutcome } from '../orchestrator/coordinator.js';

/** Turns a run's events into output; the only code that prints during a run. */
export interface Reporter {
  onEvent(e: CoordEvent): void;
  /** Called once at the end, with what the run came to. */
  done(outcome: RunOutcome): void;
}

export interface ReporterOptions {
  quiet: boolean;
  json: boolean;
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}
