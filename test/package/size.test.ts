/** One file a unit: no source file over 400 lines (the Lua scripts of the Redis backend are source of another language, and exempt). */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from '../rig.js';

const LIMIT = 400;
const EXEMPT = new Set(['src/backend/redis/scripts.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('source files', () => {
  it(`are at most ${LIMIT} lines each`, () => {
    const over = sources(join(ROOT, 'src'))
      .map((f) => ({ file: relative(ROOT, f), lines: readFileSync(f, 'utf8').split('\n').length - 1 }))
      .filter((x) => x.lines > LIMIT && !EXEMPT.has(x.file));
    expect(over).toEqual([]);
  });
});
