/**
 * The `outputs:` globs of a stream (SPEC §2), relative to its workspace, matched with
 * picomatch (`dot: true`, so `.env` and `.github/` are ordinary names).
 *
 * - An empty list selects everything.
 * - A pattern that matches a directory selects everything below it, so `notes` and `notes/`
 *   mean the same as `notes/**` (the way `.gitignore` and `files:` in package.json read).
 * - A pattern starting with `!` excludes what it matches (and everything below it).
 * - A leading `./` is ignored.
 */
import picomatch from 'picomatch';

/** What {@link outputMatcher} answers about one relative path. */
export interface OutputMatcher {
  /** Is `rel` (posix, relative) selected, given that none of its ancestors was? */
  selects(rel: string): boolean;
  /** Is `rel` excluded by a `!` pattern (which then excludes its whole subtree)? */
  excludes(rel: string): boolean;
  /** Could anything below directory `rel` be selected? (false = the walk skips it) */
  mayContain(rel: string): boolean;
  /** True when every path is selected unless excluded. */
  readonly all: boolean;
}

function normalize(pattern: string): string {
  let p = pattern.trim();
  while (p.startsWith('./')) p = p.slice(2);
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

/** Compiles `outputs` into a matcher (see the module comment for the rules). */
export function outputMatcher(outputs: readonly string[]): OutputMatcher {
  const positive: string[] = [];
  const negative: string[] = [];
  for (const raw of outputs) {
    if (raw.trim().startsWith('!')) negative.push(normalize(raw.trim().slice(1)));
    else positive.push(normalize(raw));
  }
  const all = positive.length === 0 || positive.some((p) => p === '**' || p === '' || p === '.');
  const opts = { dot: true };
  const isPositive = positive.length > 0 ? picomatch(positive, opts) : () => true;
  const isNegative = negative.length > 0 ? picomatch(negative, opts) : () => false;
  // Static prefixes ("notes" of "notes/**/*.md"): a directory off every prefix holds nothing selected.
  const bases = positive.map((p) => normalize(picomatch.scan(p).base));
  const anywhere = all || bases.some((b) => b === '' || b === '.');
  return {
    all,
    selects: (rel) => all || isPositive(rel),
    excludes: (rel) => isNegative(rel),
    mayContain: (rel) => anywhere || bases.some((b) => b === rel || b.startsWith(`${rel}/`) || rel.startsWith(`${b}/`)),
  };
}
