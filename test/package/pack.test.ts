/**
 * What `npm pack` would publish (its file list, from `npm pack --dry-run --json`, scripts not
 * run): the LICENSE that package.json names, every file `exports` and `bin` point at, no
 * TypeScript source, and source maps that carry their sources (`inlineSources`), so that a
 * stack trace under `node --enable-source-maps`, or a debugger, shows the TypeScript lines
 * although src/ is not in the package.
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../rig.js';

const run = promisify(execFile);
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  license: string;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
};

async function packedFiles(): Promise<string[]> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  const [pack] = JSON.parse(stdout) as Array<{ name: string; files: Array<{ path: string }> }>;
  expect(pack!.name).toBe(PKG.name);
  return pack!.files.map((f) => f.path);
}

describe('the published package', () => {
  it('holds its LICENSE (the license package.json names), what exports and bin point at, the docs its help points at, and no TypeScript source', async () => {
    const files = await packedFiles();
    expect(PKG.license).toBe('MIT');
    expect(files).toContain('LICENSE');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} the coord authors\n/);
    const targets = [...Object.values(PKG.bin), ...Object.values(PKG.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)))];
    for (const t of targets) expect(files).toContain(relative(ROOT, join(ROOT, t)));
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    // `--json`'s help names docs/cli.md: the page is where the help says, in the package too
    expect(files).toContain('docs/cli.md');
    expect(files).toContain('README.md');
  });

  it('ships source maps whose sources are inside them, equal to the TypeScript they were built from', async () => {
    const maps = (await packedFiles()).filter((f) => f.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(0);
    const wrong: string[] = [];
    for (const f of maps) {
      const map = JSON.parse(readFileSync(join(ROOT, f), 'utf8')) as { sources: string[]; sourcesContent?: Array<string | null> };
      map.sources.forEach((s, i) => {
        // (`npm run build` removes the files of an older build whose source is gone: none is left to ship)
        const source = resolve(ROOT, dirname(f), s);
        if (!existsSync(source) || map.sourcesContent?.[i] !== readFileSync(source, 'utf8')) wrong.push(`${f}: ${s}`);
      });
    }
    expect(wrong).toEqual([]);
  });
});
