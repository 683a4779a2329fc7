/** `coord validate PLAN`: `ok`, or every error with its place; exit 2 on errors. */
import { loadPlanFile } from '../../plan/load.js';
import { formatDiagnostics } from '../../plan/diagnostics.js';
import { planWarnings } from '../../plan/warnings.js';

export async function validateCommand(planPath: string): Promise<void> {
  const loaded = await loadPlanFile(planPath);
  if (!loaded.ok) {
    process.stderr.write(formatDiagnostics(loaded.error) + '\n');
    process.exitCode = 2;
    return;
  }
  const warnings = planWarnings(loaded.value);
  if (warnings.length > 0) process.stderr.write(formatDiagnostics(warnings) + '\n');
  process.stdout.write('ok\n');
}
