/**
 * Plain lines for logs and CI: every line starts with a time; stream output is prefixed by
 * the stream id. Events go to stderr-free stdout in order, so a CI log reads top to bottom.
 */
import type { CoordEvent } from '../events/types.js';
import type { RunOutcome } from '../orchestrator/coordinator.js';
import { describeEvent, planStreamUnits } from './describe.js';
import type { Colors } from './color.js';
import type { Reporter, ReporterOptions } from './types.js';
import { formatSummary } from './summary.js';

const QUIET_TYPES = new Set(['stream-skipped', 'point-failed', 'point-conflict', 'point-excluded', 'warning']);

/** Events no line is printed for: registrations, heartbeats, and a plan stream's own units (its start and exit say as much). */
export function unprinted(e: CoordEvent): boolean {
  return e.type === 'stream-registered' || e.type === 'stream-beat' || planStreamUnits(e);
}

/** Whether `--quiet` prints `e`: failures, skips, conflicts and warnings only. */
export function quietShows(e: CoordEvent): boolean {
  return (e.type === 'stream-ended' && e.state === 'failed') || QUIET_TYPES.has(e.type);
}

/** An event's line as the plain reporters print it: its time (to the millisecond), then its text, coloured by outcome. */
export function eventLine(e: CoordEvent, c: Colors): string {
  return `${c.dim(e.time.slice(11, 23))} ${paint(e, describeEvent(e), c)}`;
}

function paint(e: CoordEvent, text: string, c: Colors): string {
  if (e.type === 'stream-ended') return e.state === 'succeeded' ? c.green(text) : c.red(text);
  if (e.type === 'point-failed' || e.type === 'point-conflict') return c.red(text);
  if (e.type === 'point-done') return c.green(text);
  if (e.type === 'point-verified') return e.outcome === 'passed' ? c.green(text) : e.outcome === 'cancelled' ? c.dim(text) : c.red(text);
  if (e.type === 'point-excluded') return c.red(text);
  if (e.type === 'warning' || e.type === 'stream-skipped' || e.type === 'resource-timeout') return c.yellow(text);
  if (e.type === 'proposal-decided') return e.decision === 'accepted' ? c.green(text) : c.red(text);
  return text;
}

/** The reporter of logs and CI other than GitHub Actions: one timestamped line an event or output line. */
export class PlainReporter implements Reporter {
  private readonly c: Colors;
  private readonly opts: ReporterOptions;

  constructor(opts: ReporterOptions, colors: Colors) {
    this.opts = opts;
    this.c = colors;
  }

  onEvent(e: CoordEvent): void {
    if (unprinted(e)) return;
    if (this.opts.quiet && !quietShows(e)) return;
    if (e.type === 'stream-output') {
      const out = e.fd === 'stderr' ? this.opts.stderr : this.opts.stdout;
      out.write(`${this.c.dim(e.time.slice(11, 23))} ${this.c.cyan(`[${e.stream}]`)} ${e.line}\n`);
      return;
    }
    this.opts.stdout.write(eventLine(e, this.c) + '\n');
  }

  done(outcome: RunOutcome): void {
    this.opts.stdout.write('\n' + formatSummary(outcome, this.c));
  }
}
