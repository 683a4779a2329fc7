/**
 * The command line is the top layer: nothing below src/cli/ imports it, and the modules of the
 * command line, the reporters and the context they share import each other without cycles.
 * Imports are read from the sources (static and dynamic `import('…')` alike).
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from '../rig.js';

const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The src-relative files `file` imports (relative specifiers only; `.js` is the `.ts` source). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^import\s+)'(\.[^']+)'/gm)].map((m) => m[1]!);
  return specs.map((s) => relative(SRC, resolve(dirname(file), s.replace(/\.js$/, '.ts'))));
}

const graph = new Map(sources(SRC).map((f) => [relative(SRC, f), importsOf(f)]));

describe('layers', () => {
  it('nothing outside src/cli imports src/cli', () => {
    const upward = [...graph].flatMap(([file, deps]) =>
      file.startsWith('cli/') ? [] : deps.filter((d) => d.startsWith('cli/')).map((d) => `${file} -> ${d}`),
    );
    expect(upward).toEqual([]);
    expect(graph.get('locks/env.ts')).toEqual(expect.arrayContaining(['context/backend.ts']));
  });

  it('src/cli, src/report and src/context import each other without a cycle', () => {
    const mine = (f: string) => f.startsWith('cli/') || f.startsWith('report/') || f.startsWith('context/');
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') return void cycles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
      state.set(f, 'open');
      for (const d of graph.get(f) ?? []) if (mine(d)) visit(d, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of graph.keys()) if (mine(f)) visit(f, []);
    expect(cycles).toEqual([]);
    expect([...graph.keys()].filter(mine).length).toBeGreaterThan(50);
  });

  it('every file of src/cli is under 400 lines', () => {
    const long = [...graph.keys()]
      .filter((f) => f.startsWith('cli/'))
      .map((f) => [f, readFileSync(join(SRC, f), 'utf8').split('\n').length] as const)
      .filter(([, n]) => n > 400);
    expect(long).toEqual([]);
  });

  it('only the command line and the reporters print: no console, stdout or stderr write elsewhere in src/', () => {
    // src/locks/watchdog.ts is a process of its own (coord lock's watchdog), whose stderr is its report
    const own = new Set(['locks/watchdog.ts']);
    const printing = [...graph.keys()]
      .filter((f) => !f.startsWith('cli/') && !f.startsWith('report/') && !own.has(f))
      .flatMap((f) =>
        readFileSync(join(SRC, f), 'utf8')
          .split('\n')
          .flatMap((line, i) => (/\bconsole\.|process\.(stdout|stderr)\.write|emitWarning/.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
      );
    expect(printing).toEqual([]);
  });
});
