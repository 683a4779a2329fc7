/**
 * The live view on a terminal: one ora spinner whose text holds a line per running stream
 * (id, elapsed time, attempt); stream output and events scroll above it; the summary at the end.
 */
import ora, { type Ora } from 'ora';
import type { Colors } from './color.js';
import type { CoordEvent } from '../events/types.js';
import type { RunOutcome } from '../orchestrator/coordinator.js';
import { formatDuration } from '../util/duration.js';
import { describeEvent, planStreamUnits } from './describe.js';
import type { Reporter, ReporterOptions } from './types.js';
import { formatSummary } from './summary.js';

interface Live {
  since: number;
  attempt: number;
  beat?: number;
  progress?: number | null;
  message?: string | null;
}

export class TtyReporter implements Reporter {
  private readonly c: Colors;
  private readonly opts: ReporterOptions;
  private readonly spinner: Ora;
  private readonly live = new Map<string, Live>();
  private readonly ticker: NodeJS.Timeout;

  constructor(opts: ReporterOptions, colors: Colors) {
    this.opts = opts;
    this.c = colors;
    // ora colours its spinner whatever NO_COLOR says: it follows coord's colour decision instead.
    this.spinner = ora({ stream: opts.stdout, discardStdin: false, hideCursor: true, color: this.c.level > 0 ? 'cyan' : false });
    this.ticker = setInterval(() => this.refresh(), 1000);
    this.ticker.unref();
  }

  onEvent(e: CoordEvent): void {
    if (e.type === 'stream-registered' || planStreamUnits(e)) return;
    if (e.type === 'stream-started') this.live.set(e.stream, { since: Date.now(), attempt: e.attempt });
    if (e.type === 'stream-exited') this.live.delete(e.stream);
    if (e.type === 'stream-beat') {
      const l = this.live.get(e.stream);
      if (l) Object.assign(l, { beat: Date.now(), progress: e.progress, message: e.message });
      return;
    }
    if (e.type === 'stream-output') {
      this.print(`${this.c.cyan(`[${e.stream}]`)} ${e.line}`);
      return;
    }
    if (e.type !== 'point-waiting' && e.type !== 'point-merging') this.print(this.c.dim('›') + ' ' + describeEvent(e));
    this.refresh();
  }

  done(outcome: RunOutcome): void {
    clearInterval(this.ticker);
    this.spinner.stop();
    this.opts.stdout.write('\n' + formatSummary(outcome, this.c));
  }

  private print(line: string): void {
    const spinning = this.spinner.isSpinning;
    if (spinning) this.spinner.clear();
    this.opts.stdout.write(line + '\n');
    if (spinning) this.spinner.render();
  }

  private refresh(): void {
    if (this.live.size === 0) {
      if (this.spinner.isSpinning) this.spinner.stop();
      return;
    }
    const now = Date.now();
    const lines = [...this.live].map(([id, l]) => {
      const parts = [id, this.c.dim(formatDuration(now - l.since))];
      if (l.attempt > 1) parts.push(this.c.yellow(`attempt ${l.attempt}`));
      if (l.beat !== undefined) parts.push(this.c.dim(`♥ ${formatDuration(now - l.beat)} ago`));
      if (l.progress !== undefined && l.progress !== null) parts.push(`${l.progress}%`);
      if (l.message) parts.push(l.message.slice(0, 60));
      return parts.join('  ');
    });
    this.spinner.text = `${this.live.size} running\n  ${lines.join('\n  ')}`;
    // ora spins only on a terminal outside CI; elsewhere (`--reporter tty` into a pipe) its start()
    // would print the text anew on each refresh, so the view goes on without a spinner
    if (!this.spinner.isSpinning && this.spinner.isEnabled) this.spinner.start();
  }
}
