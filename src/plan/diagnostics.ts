/**
 * Plan errors as compilers print them: `FILE:LINE:COL: message`, the offending source line and
 * a caret under the column. Every check of the plan loader reports through this one shape.
 */

/** One problem found in a plan file, at a 1-based line and column. */
export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  message: string;
  /** The offending source line, printed under the message with a caret. */
  source?: string;
}

/** Orders diagnostics by file, then line, then column (stable; returns a new array). */
export function sortDiagnostics(diags: readonly Diagnostic[]): Diagnostic[] {
  return diags
    .map((d, i) => ({ d, i }))
    .sort((a, b) => (a.d.file < b.d.file ? -1 : a.d.file > b.d.file ? 1 : 0) || a.d.line - b.d.line || a.d.col - b.d.col || a.i - b.i)
    .map((x) => x.d);
}

/**
 * Renders diagnostics sorted by line then column, each as
 * ```
 * plan.yaml:12:11: streams[1].id: duplicate id "build" (first defined at 8:11)
 *    12 |     - id: build
 *       |           ^
 * ```
 * Lines are joined with `\n`, without a trailing newline. No colours.
 */
export function formatDiagnostics(diags: Diagnostic[]): string {
  const sorted = sortDiagnostics(diags);
  const width = Math.max(1, ...sorted.filter((d) => d.source !== undefined).map((d) => String(d.line).length));
  const out: string[] = [];
  for (const d of sorted) {
    out.push(`${d.file}:${d.line}:${d.col}: ${d.message}`);
    if (d.source === undefined) continue;
    const src = d.source.replace(/\r$/, '');
    out.push(`   ${String(d.line).padStart(width)} | ${src}`);
    // Keep tabs so the caret lines up however the terminal expands them.
    const lead = src.slice(0, Math.max(0, d.col - 1)).replace(/[^\t]/g, ' ');
    const pad = lead.length < d.col - 1 ? lead + ' '.repeat(d.col - 1 - lead.length) : lead;
    out.push(`   ${' '.repeat(width)} | ${pad}^`);
  }
  return out.join('\n');
}
