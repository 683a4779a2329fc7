/** `--json`: every event, output lines included, as one JSON object a line on stdout; the summary on stderr. */
import type { CoordEvent } from '../events/types.js';
import type { RunOutcome } from '../orchestrator/coordinator.js';
import { colorsFor } from './color.js';
import type { Reporter, ReporterOptions } from './types.js';
import { formatSummary } from './summary.js';

export class JsonReporter implements Reporter {
  private readonly opts: ReporterOptions;
  constructor(opts: ReporterOptions) {
    this.opts = opts;
  }
  onEvent(e: CoordEvent): void {
    if (e.type === 'stream-beat') return;
    this.opts.stdout.write(JSON.stringify(e) + '\n');
  }
  done(outcome: RunOutcome): void {
    if (this.opts.quiet) return;
    void colorsFor(this.opts.stderr, this.opts.env).then((c) => this.opts.stderr.write(formatSummary(outcome, c)));
  }
}
