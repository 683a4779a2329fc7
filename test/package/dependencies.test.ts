/**
 * Every runtime dependency in package.json is imported by coord's own source, and the README's
 * Architecture section says what it does: no package stays a dependency once nothing uses it.
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

function architecture(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Architecture\n');
  expect(start).toBeGreaterThanOrEqual(0);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

describe('runtime dependencies', () => {
  const names = Object.keys(PKG.dependencies);

  it.each(names)('%s is imported by src/', (name) => {
    expect(imported(name)).toBe(true);
  });

  it("each is named in the README's Architecture section", () => {
    const text = architecture().toLowerCase();
    expect(names.filter((n) => !text.includes(`**${n.toLowerCase()}**`))).toEqual([]);
  });
});
