/** Reporters turn events into output; they are the only code that prints during a run. */
import type { Reporter, ReporterOptions } from './types.js';
import { colorsFor } from './color.js';

export type { Reporter, ReporterOptions } from './types.js';

/** A live view on a TTY (with columns to draw in, and not under CI); plain lines otherwise. */
export function wantsLiveView(opts: ReporterOptions): boolean {
  const isCI = opts.env.CI !== undefined && opts.env.CI !== '' && opts.env.CI !== 'false' && opts.env.CI !== '0';
  return !opts.json && !opts.quiet && !isCI && opts.stdout.isTTY === true && (opts.stdout.columns ?? 0) > 0 && opts.env.TERM !== 'dumb';
}

export async function createReporter(opts: ReporterOptions): Promise<Reporter> {
  if (opts.json) return new (await import('./json.js')).JsonReporter(opts);
  const colors = await colorsFor(opts.stdout, opts.env);
  if (wantsLiveView(opts)) return new (await import('./tty.js')).TtyReporter(opts, colors);
  return new (await import('./plain.js')).PlainReporter(opts, colors);
}
