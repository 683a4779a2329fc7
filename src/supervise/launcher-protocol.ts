/** Messages between the coordinator and its launcher process (Node's IPC channel, JSON). */
import type { ExitInfo } from './spawner.js';

export interface LaunchRequest {
  t: 'spawn';
  id: number;
  command: string | string[];
  cwd: string;
  /** The environment as changes to the launcher's base (the first request's full env): set, then unset. */
  env: { base?: Record<string, string>; set: Record<string, string>; unset: string[] };
  stdoutFile: string;
  stderrFile: string;
  /** Where the launcher records the exit if the coordinator is gone by then. */
  exitFile?: string;
  /** Forward each output line. */
  lines: boolean;
  /** Report that output happened (throttled), for liveness. */
  output: boolean;
}

export type LaunchReply =
  | { t: 'spawned'; id: number; pid: number; procStartTime: number | null }
  | { t: 'line'; id: number; fd: 'stdout' | 'stderr'; line: string }
  | { t: 'output'; id: number }
  | ({ t: 'exit'; id: number } & ExitInfo);

/** At most one `output` message per stream in this many ms. */
export const OUTPUT_PING_MS = 100;

/** What an orphaned launcher records when a stream it started ends (read by `--resume --adopt`). */
export interface ExitRecord {
  exitCode: number | null;
  signal: string | null;
  time: string;
}
