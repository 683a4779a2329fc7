/** Reporters turn events into output; they are the only code that prints during a run. */
import type { Reporter, ReporterName, ReporterOptions } from './types.js';
import { colorsFor } from './color.js';

export type { Reporter, ReporterName, ReporterOptions } from './types.js';

/** A live view on a TTY (with columns to draw in, and not under CI); plain lines otherwise. */
export function wantsLiveView(opts: ReporterOptions): boolean {
  const isCI = opts.env.CI !== undefined && opts.env.CI !== '' && opts.env.CI !== 'false' && opts.env.CI !== '0';
  return !opts.json && !opts.quiet && !isCI && opts.stdout.isTTY === true && (opts.stdout.columns ?? 0) > 0 && opts.env.TERM !== 'dumb';
}

/**
 * The reporter a run gets, or 'json': `--json` always; then an explicit `--reporter`; then
 * GitHub Actions' groups when GITHUB_ACTIONS=true (the variable every GitHub runner sets);
 * then the live view on a terminal; plain lines otherwise.
 */
export function chooseReporter(opts: ReporterOptions): ReporterName | 'json' {
  if (opts.json) return 'json';
  if (opts.reporter) return opts.reporter;
  if (opts.env.GITHUB_ACTIONS === 'true') return 'github';
  return wantsLiveView(opts) ? 'tty' : 'plain';
}

/** Makes the reporter {@link chooseReporter} picks; each one's module is loaded only when chosen. */
export async function createReporter(opts: ReporterOptions): Promise<Reporter> {
  const name = chooseReporter(opts);
  if (name === 'json') return new (await import('./json.js')).JsonReporter(opts);
  const colors = await colorsFor(opts.stdout, opts.env);
  if (name === 'tty') return new (await import('./tty.js')).TtyReporter(opts, colors);
  if (name === 'github') return new (await import('./github.js')).GithubReporter(opts, colors);
  return new (await import('./plain.js')).PlainReporter(opts, colors);
}
