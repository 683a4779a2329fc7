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

const QUIET_TYPES = new Set(['stream-skipped', 'point-failed', 'point-conflict', 'warning']);

export class PlainReporter implements Reporter {
  private readonly c: Colors;
  private readonly opts: ReporterOptions;

  constructor(opts: ReporterOptions, colors: Colors) {
    this.opts = opts;
    this.c = colors;
  }

  onEvent(e: CoordEvent): void {
    if (e.type === 'stream-registered' || e.type === 'stream-beat' || planStreamUnits(e)) return;
    if (this.opts.quiet) {
      const failed = e.type === 'stream-ended' && e.state === 'failed';
      if (!failed && !QUIET_TYPES.has(e.type)) return;
    }
    const time = this.c.dim(e.time.slice(11, 23));
    if (e.type === 'stream-output') {
      const out = e.fd === 'stderr' ? this.opts.stderr : this.opts.stdout;
      out.write(`${time} ${this.c.cyan(`[${e.stream}]`)} ${e.line}\n`);
      return;
    }
    this.opts.stdout.write(`${time} ${this.paint(e, describeEvent(e))}\n`);
  }

  done(outcome: RunOutcome): void {
    this.opts.stdout.write('\n' + formatSummary(outcome, this.c));
  }

  private paint(e: CoordEvent, text: string): string {
    if (e.type === 'stream-ended') return e.state === 'succeeded' ? this.c.green(text) : this.c.red(text);
    if (e.type === 'point-failed' || e.type === 'point-conflict') return this.c.red(text);
    if (e.type === 'point-done') return this.c.green(text);
    if (e.type === 'warning' || e.type === 'stream-skipped' || e.type === 'resource-timeout') return this.c.yellow(text);
    if (e.type === 'proposal-decided') return e.decision === 'accepted' ? this.c.green(text) : this.c.red(text);
    return text;
  }
}
