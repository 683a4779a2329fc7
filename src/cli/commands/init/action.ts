/**
 * `coord init [TEMPLATE] [--list] [-o FILE] [--force]`: writes a starter plan from the
 * package's `templates/`. The template's `# yaml-language-server: $schema=` line is pointed
 * at the package's JSON Schema, relative to the written file, so editors validate the plan.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../errors.js';

const TEMPLATES = fileURLToPath(new URL('../../../../templates/', import.meta.url));
const SCHEMA = fileURLToPath(new URL('../../../../schema/plan.schema.json', import.meta.url));
/** The template `coord init` writes when none is named. */
export const DEFAULT_TEMPLATE = 'fork-join';

/** Template names with the first line of their description. */
export function listTemplates(): Array<{ name: string; summary: string }> {
  return readdirSync(TEMPLATES)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const lines = readFileSync(resolve(TEMPLATES, f), 'utf8').split('\n');
      const summary = lines.find((l) => l.startsWith('# ') && !l.includes('yaml-language-server'))?.slice(2) ?? '';
      return { name: f.replace(/\.yaml$/, ''), summary };
    });
}

export async function initCommand(template: string | undefined, flags: { list?: boolean; output?: string; force?: boolean; json?: boolean }): Promise<void> {
  const templates = listTemplates();
  if (flags.list && flags.json) return void process.stdout.write(JSON.stringify({ templates }) + '\n');
  if (flags.list) {
    const width = Math.max(...templates.map((t) => t.name.length));
    for (const t of templates) process.stdout.write(`${t.name.padEnd(width)}  ${t.summary}\n`);
    return;
  }
  const name = template ?? DEFAULT_TEMPLATE;
  if (!templates.some((t) => t.name === name)) {
    throw new UsageError(`no template "${name}" (templates: ${templates.map((t) => t.name).join(', ')})`);
  }
  const out = resolve(flags.output ?? 'plan.yaml');
  if (existsSync(out) && !flags.force) throw new UsageError(`${out} exists (use --force to overwrite)`);
  const schemaRef = relative(dirname(out), SCHEMA) || SCHEMA;
  const text = readFileSync(resolve(TEMPLATES, `${name}.yaml`), 'utf8').replace(
    /^# yaml-language-server: \$schema=.*$/m,
    `# yaml-language-server: $schema=${schemaRef}`,
  );
  writeFileSync(out, text, { flag: flags.force ? 'w' : 'wx' });
  if (flags.json) return void process.stdout.write(JSON.stringify({ wrote: out, template: name }) + '\n');
  process.stdout.write(`wrote ${relative(process.cwd(), out) || out} from the ${name} template (run it: coord run ${relative(process.cwd(), out) || out})\n`);
}
