// Cold start: `coord --version`, `coord status` and the library's `import()` beside `node -e 0`,
// in the same environment.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COORD, ROOT, benchEnv, fmt, median, ratio, tempDir, timed } from './util.js';

/** The package's own name: imported by it from inside the package folder, through its `exports`. */
const NAME = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).name;
/** The entry points timed: the index, and the subpaths a library user would load alone. */
const IMPORTS = [NAME, `${NAME}/locks`, `${NAME}/state`, `${NAME}/queue`];

const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 20);

async function sample(args, opts) {
  const xs = [];
  await timed(process.execPath, args, opts); // warm the file cache
  for (let i = 0; i < RUNS; i++) xs.push(await timed(process.execPath, args, opts));
  return median(xs);
}

export async function run() {
  const { dir, cleanup } = tempDir('cold');
  try {
    const env = benchEnv({ COORD_HOME: join(dir, '.coord') });
    writeFileSync(join(dir, 'plan.yaml'), `agent_coordination:\n  workspace_root: ${join(dir, 'ws')}\nstreams:\n  - id: a\n    command: "true"\n`);
    await timed(process.execPath, [COORD, 'run', 'plan.yaml', '--quiet'], { cwd: dir, env });
    const base = await sample(['-e', '0'], { cwd: dir, env });
    const rows = [
      ['node -e 0 (baseline)', base],
      ['coord --version', await sample([COORD, '--version'], { cwd: dir, env })],
      ['coord status', await sample([COORD, 'status'], { cwd: dir, env })],
    ];
    for (const spec of IMPORTS) {
      if (!exported(spec)) continue; // a subpath this build does not have
      rows.push([`import('${spec}')`, await sample(['--input-type=module', '-e', `await import(${JSON.stringify(spec)})`], { cwd: ROOT, env })]);
    }
    console.log(`\n## Cold start (median of ${RUNS})`);
    console.log('| command | time | vs node -e 0 |');
    console.log('| --- | --- | --- |');
    for (const [label, ms] of rows) console.log(`| ${label} | ${fmt(ms)} | ${ratio(ms, base)} |`);
  } finally {
    cleanup();
  }
}

function exported(spec) {
  const sub = spec === NAME ? '.' : `.${spec.slice(NAME.length)}`;
  return Object.hasOwn(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).exports ?? {}, sub);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
