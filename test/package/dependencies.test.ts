/**
 * Every runtime dependency in package.json is imported by coord's own source, and the
 * architecture page (docs/architecture.md) says what it does: no package stays a dependency
 * once nothing uses it.
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../rig.js';

const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
const SRC = join(ROOT, 'src');
const sources = readdirSync(SRC, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts'))
  .map((f) => readFileSync(join(SRC, f), 'utf8'));

/** Whether some source file imports `name` (or a subpath of it), statically or with import(). */
const imported = (name: string): boolean => {
  const spec = `'${name}(/[^']*)?'`;
  const pattern = new RegExp(`(from\\s+${spec}|import\\(${spec}\\))`);
  return sources.some((text) => pattern.test(text));
};

/** docs/architecture.md, the page the README's Architecture section moved to. */
function architecture(): string {
  const page = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
  const start = page.indexOf('# Architecture\n');
  expect(start).toBeGreaterThanOrEqual(0);
  return page.slice(start);
}

describe('runtime dependencies', () => {
  const names = Object.keys(PKG.dependencies);

  it.each(names)('%s is imported by src/', (name) => {
    expect(imported(name)).toBe(true);
  });

  it('each is named on the architecture page (docs/architecture.md)', () => {
    const text = architecture().toLowerCase();
    expect(names.filter((n) => !text.includes(`**${n.toLowerCase()}**`))).toEqual([]);
  });
});
