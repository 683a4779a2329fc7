/** What every reporter is (a leaf: the reporters and their factory both import it). */
import type { CoordEvent } from '../events/types.js';
import type { RunOutcome } from '../orchestrator/coordinator.js';

/** Turns a run's events into output; the only code that prints during a run. */
export interface Reporter {
  onEvent(e: CoordEvent): void;
  /** Called once at the end, with what the run came to. */
  done(outcome: RunOutcome): void;
}

/**
 * The reporters `--reporter` names: plain timestamped lines, the live view of a terminal, and
 * GitHub Actions' folded groups. `--json` is the fourth reporter and is chosen by its own flag.
 */
export const REPORTER_NAMES = ['plain', 'tty', 'github'] as const;
/** One of {@link REPORTER_NAMES}. */
export type ReporterName = (typeof REPORTER_NAMES)[number];

/** What a reporter is made from: the flags of the command, its environment and its two output streams. */
export interface ReporterOptions {
  quiet: boolean;
  json: boolean;
  /** `--reporter`: chosen explicitly, over what the environment suggests (`--json` still wins). */
  reporter?: ReporterName;
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}
