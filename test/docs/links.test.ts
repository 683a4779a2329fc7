/**
 * Every relative link of README.md and docs/*.md points at a file of the repository and, with
 * an anchor, at a heading of that page (GitHub's anchors), so a page moved or a heading
 * renamed cannot leave a link behind.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ROOT } from '../rig.js';
import { anchors, docFiles, links, readDoc } from './markdown.js';

/** What is wrong with `target`, linked from `file`, or undefined when nothing is. */
function broken(file: string, target: string): string | undefined {
  const hash = target.indexOf('#');
  const path = hash < 0 ? target : target.slice(0, hash);
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved = path === '' ? join(ROOT, file) : join(ROOT, dirname(file), decodeURIComponent(path));
  if (relative(ROOT, resolved).startsWith('..')) return 'leaves the repository';
  if (!existsSync(resolved)) return `no file ${relative(ROOT, resolved)}`;
  if (anchor === undefined) return undefined;
  if (!resolved.endsWith('.md') || statSync(resolved).isDirectory()) return 'an anchor on a page that is not markdown';
  if (!anchors(readFileSync(resolved, 'utf8')).has(anchor)) return `no heading with the anchor #${anchor} in ${relative(ROOT, resolved)}`;
  return undefined;
}

describe('links of the docs', () => {
  const files = docFiles();

  it('finds the pages the README maps, each linked from it', () => {
    const mapped = links(readDoc('README.md'))
      .map((l) => l.target)
      .filter((t) => /^docs\/[^#]+\.md$/.test(t));
    expect(files.filter((f) => f !== 'README.md')).toEqual([...new Set(mapped)].sort());
  });

  it.each(files)('%s: every relative link points at a file and a heading that exist', (file) => {
    const found = links(readDoc(file)).filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l.target));
    const bad = found.flatMap((l) => {
      const why = broken(file, l.target);
      return why === undefined ? [] : [`${file}:${l.line}: ${l.target}: ${why}`];
    });
    expect(bad).toEqual([]);
  });
});
