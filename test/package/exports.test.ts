/**
 * The package from outside, as a library user loads it: dist/ (what `npm run build` made)
 * imported in child `node` processes by the package's own name, through its `exports`
 * (self-reference from inside the package folder). The index and every subpath but `/redis`
 * load without ioredis or BullMQ, even when a resolve hook makes any import of them fail;
 * `/redis` is where they load. Every name the library examples of the README and docs/ import
 * is there, and a TypeScript user's imports of each entry point type-check against dist/'s
 * declarations.
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ROOT } from '../rig.js';

const run = promisify(execFile);
const HERE = join(ROOT, 'test', 'package');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string | { types: string; default: string }>;
};

type Probe = { spec: string; url: string; names?: string[]; error?: string; redisFiles: number };

/** Imports `specs` in one child process, in order; `blockRedis`: under the hook that fails any import of ioredis or BullMQ. */
async function probe(specs: string[], blockRedis: boolean): Promise<Probe[]> {
  const args = [...(blockRedis ? ['--import', join(HERE, 'block-redis.mjs')] : []), join(HERE, 'import-probe.mjs'), ...specs];
  const { stdout } = await run(process.execPath, args, { cwd: ROOT });
  return JSON.parse(stdout) as Probe[];
}

/** Every entry point of `exports` but package.json: [specifier, its files]. */
const entries = Object.entries(PKG.exports)
  .filter(([sub]) => sub !== './package.json')
  .map(([sub, target]) => {
    if (typeof target === 'string') throw new Error(`exports["${sub}"] has no "types"`);
    return [sub === '.' ? PKG.name : `${PKG.name}${sub.slice(1)}`, target] as const;
  });
const REDIS = `${PKG.name}/redis`;
const light = entries.filter(([spec]) => spec !== REDIS);

/** `import { a, b, type C } from '<the package>…'` in the ts blocks of the README and docs/. */
function documentedImports(): Array<{ spec: string; names: string[]; file: string }> {
  const docs = join(ROOT, 'docs');
  const files = [
    join(ROOT, 'README.md'),
    ...(existsSync(docs)
      ? readdirSync(docs, { recursive: true, encoding: 'utf8' })
          .filter((f) => f.endsWith('.md'))
          .map((f) => join(docs, f))
      : []),
  ];
  const found: Array<{ spec: string; names: string[]; file: string }> = [];
  const pattern = /import\s*\{([^}]*)\}\s*from\s*'([^']+)'/g;
  for (const file of files) {
    for (const block of readFileSync(file, 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)) {
      for (const m of block[1]!.matchAll(pattern)) {
        const spec = m[2]!;
        if (spec !== PKG.name && !spec.startsWith(`${PKG.name}/`)) continue;
        const names = m[1]!
          .split(',')
          .map((n) => n.trim())
          .filter((n) => n && !n.startsWith('type '));
        found.push({ spec, names, file });
      }
    }
  }
  return found;
}

describe(`${PKG.name} from outside`, () => {
  it('has an entry point with types for the index and each subpath, /redis among them', () => {
    expect(entries.map(([spec]) => spec)).toEqual(expect.arrayContaining([PKG.name, `${PKG.name}/locks`, `${PKG.name}/state`, `${PKG.name}/queue`, REDIS]));
    for (const [, target] of entries) {
      expect(existsSync(join(ROOT, target.default))).toBe(true);
      expect(existsSync(join(ROOT, target.types))).toBe(true);
    }
  });

  it('loads the index and every subpath but /redis through its exports, without ioredis or BullMQ', async () => {
    const got = await probe(
      light.map(([spec]) => spec),
      true,
    );
    expect(got.map((p) => ({ spec: p.spec, url: p.url, error: p.error, redisFiles: p.redisFiles }))).toEqual(
      light.map(([spec, target]) => ({ spec, url: pathToFileURL(join(ROOT, target.default)).href, error: undefined, redisFiles: 0 })),
    );
    for (const p of got) expect(p.names!.length).toBeGreaterThan(0);
  });

  it('loads ioredis behind /redis, which the blocking hook makes fail', async () => {
    const [blocked] = await probe([REDIS], true);
    expect(blocked!.error).toMatch(/^blocked import of ioredis from /);
    const [loaded] = await probe([REDIS], false);
    expect(loaded!.error).toBeUndefined();
    expect(loaded!.names).toEqual(expect.arrayContaining(['RedisBackend', 'RedisLockStore']));
    expect(loaded!.redisFiles).toBeGreaterThan(0);
  });

  it('gives a TypeScript user the types of every entry point, through exports by name', async () => {
    // fixtures/package-consumer/consumer.ts imports from the index and each subpath; tsc resolves
    // them as a user's NodeNext project would, through the "types" of `exports`
    const consumer = join(ROOT, 'fixtures', 'package-consumer', 'consumer.ts');
    const text = readFileSync(consumer, 'utf8');
    for (const [spec] of entries) expect(text).toContain(`from '${spec}'`);
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [
      '--noEmit',
      '--strict',
      '--skipLibCheck',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      consumer,
    ];
    const r = await run(process.execPath, [tsc, ...args], { cwd: ROOT }).then(
      () => ({ code: 0, stdout: '' }),
      (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
    );
    expect(r).toEqual({ code: 0, stdout: '' });
  });

  it('exports every name the library examples (README, docs/) import, from the specifier they import it from', async () => {
    const documented = documentedImports();
    expect(documented.length).toBeGreaterThan(0);
    const specs = [...new Set(documented.map((d) => d.spec))];
    const withoutRedis = await probe(
      specs.filter((s) => s !== REDIS),
      true,
    );
    const withRedis = specs.includes(REDIS) ? await probe([REDIS], false) : [];
    const names = new Map([...withoutRedis, ...withRedis].map((p) => [p.spec, p.names ?? [p.error]]));
    for (const d of documented)
      expect({ file: d.file, spec: d.spec, names: d.names.filter((n) => !names.get(d.spec)?.includes(n)) }).toEqual({ file: d.file, spec: d.spec, names: [] });
  });
});
