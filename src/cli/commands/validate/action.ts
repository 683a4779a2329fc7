/**
 * `coord validate PLAN [--json]`: `ok`, or every error with its place; exit 2 on errors. With
 * --json: `{"ok","errors":[{"file","line","col","message"}],"warnings":[…]}` on stdout (the
 * same exit codes).
 */
import { loadPlanFile } from '../../../plan/load.js';
import { formatDiagnostics, type Diagnostic } from '../../../plan/diagnostics.js';
import { planWarnings } from '../../../plan/warnings.js';
import { EXIT } from '../../errors.js';

const shape = (d: Diagnostic) => ({ file: d.file, line: d.line, col: d.col, message: d.message });

export async function validateCommand(planPath: string, flags: { json?: boolean } = {}): Promise<void> {
  const loaded = await loadPlanFile(planPath);
  const errors = loaded.ok ? [] : loaded.error;
  const warnings = loaded.ok ? planWarnings(loaded.value) : [];
  if (flags.json) {
    process.stdout.write(JSON.stringify({ ok: loaded.ok, errors: errors.map(shape), warnings: warnings.map(shape) }) + '\n');
  } else if (!loaded.ok) {
    process.stderr.write(formatDiagnostics(errors) + '\n');
  } else {
    if (warnings.length > 0) process.stderr.write(formatDiagnostics(warnings) + '\n');
    process.stdout.write('ok\n');
  }
  if (!loaded.ok) process.exitCode = EXIT.usage;
}
