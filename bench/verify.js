// A point's checks (`verify:`), measured in the same run:
// - the overhead of one check on a 5,000-file base (250 dirs x 20 files): a check tree built
//   from the pool (base files hard-linked, the streams' changed files copied) plus its tamper
//   check, beside `cp -a` of the same tree (what a full copy per check costs) and beside the
//   same merge copying the base (mergeAll with baseTree); on the temp directory's disk and,
//   where /dev/shm is a tmpfs, in memory (the cost without the disk's);
// - the culprit search: 16 streams, one of which breaks a real check command, 4 checks at a
//   time: check runs and rounds beside the ideal 1 + ⌈log₅ 16⌉, and the wall time beside
//   rounds x one check's time.
// Each round's tree goes in a new directory; nothing is removed until the end (see merge.js:
// ext4 without a journal slows file creation for minutes after mass removals).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, tmpdir } from 'node:os';
import { snapshotBase } from '../dist/workspace/basetree.js';
import { seedWorkspace } from '../dist/workspace/seed.js';
import { detectChanges } from '../dist/workspace/changes.js';
import { mergeAll } from '../dist/merge/merge.js';
import { buildCheckTree, checkPool } from '../dist/verify/scratch.js';
import { findCulprits } from '../dist/verify/search.js';
import { fmt, median, ratio, tempDir, timed } from './util.js';

const REPEAT = Math.max(5, Number(process.env.BENCH_REPEAT ?? 5));
const STREAMS = 16;
const PARALLEL = 4;
const CULPRIT = Number(process.env.BENCH_CULPRIT ?? 11);

function makeBase(dir, dirs, perDir) {
  for (let d = 0; d < dirs; d++) {
    const sub = join(dir, `pkg-${d % 25}`, `mod-${d}`);
    mkdirSync(sub, { recursive: true });
    for (let f = 0; f < perDir; f++) writeFileSync(join(sub, `file-${f}.js`), `// ${d}/${f}\n${'export const x = 1;\n'.repeat(10 + ((d * perDir + f) % 150))}`);
  }
}

/** Streams seeded from `base`, stream i running `edit(ws, i)`, as merge sources. */
async function seededStreams(dir, base, n, edit) {
  const sources = [];
  for (let i = 1; i <= n; i++) {
    const stream = `s${i}`;
    const ws = join(dir, stream);
    mkdirSync(ws, { recursive: true });
    const seed = await seedWorkspace(base, ws);
    edit(ws, i);
    sources.push({ stream, dir: ws, outputs: [], changes: await detectChanges({ stream, dir: ws, outputs: [] }, base, seed) });
  }
  return sources;
}

/** Each side after a sync, in alternating order (neither always follows the other's writes). */
async function rounds(n, sides) {
  const out = sides.map(() => []);
  for (let r = 0; r < n; r++) {
    const order = sides.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) {
      await timed('sync', []);
      out[i].push(await sides[i](r));
    }
  }
  return out.map(median);
}

const TMPFS_MAGIC = 0x01021994;

/** A temp directory in memory (/dev/shm when it is a tmpfs), else null: the check tree's own cost without the disk's. */
function memoryDir() {
  try {
    if (statfsSync('/dev/shm').type !== TMPFS_MAGIC) return null;
    const dir = mkdtempSync('/dev/shm/coord-bench-verify-');
    return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch {
    return null;
  }
}

async function overhead(dir) {
  const repo = join(dir, 'repo');
  makeBase(repo, 250, 20);
  const base = await snapshotBase(repo, join(dir, 'run', 'bases', 'b'));
  const sources = await seededStreams(join(dir, 'ws'), base, 2, (ws, i) => {
    writeFileSync(join(ws, 'pkg-1', 'mod-1', `file-${i}.js`), `// changed by s${i}\n`);
    writeFileSync(join(ws, 'pkg-2', 'mod-2', `file-${i}.js`), `// changed by s${i}\n`);
    writeFileSync(join(ws, `new-${i}.js`), `// added by s${i}\n`);
  });
  const pool = checkPool(base, join(dir, 'run', 'verify', 'pool', 'b'));
  const t0 = performance.now();
  await pool.open();
  const poolMs = performance.now() - t0;
  const trees = join(dir, 'run', 'verify', 'trees');
  let linked = 0;
  mkdirSync(join(dir, 'cp'));
  const [cp, check, copied] = await rounds(REPEAT, [
    (r) => timed('cp', ['-a', base.tree, join(dir, 'cp', `c${r}`)], { cwd: dir }),
    async (r) => {
      const t = performance.now();
      const tree = await buildCheckTree(join(trees, `t${r}`), sources, 'fail', { pool });
      const tampered = tree.tamperCheck();
      const ms = performance.now() - t;
      if (!tree.result.ok || tampered.length > 0) throw new Error('bench check tree is wrong');
      linked = tree.linked.length;
      return ms;
    },
    async (r) => {
      const t = performance.now();
      const res = await mergeAll(join(dir, 'merged', `m${r}`), sources, 'fail', { baseTree: base });
      if (!res.ok) throw new Error('bench merge conflicted');
      return performance.now() - t;
    },
  ]);
  return { cp, check, copied, poolMs, linked, files: base.entries.length };
}

/** Runs the check command in `cwd`; true when it exits 0. Killed when `signal` aborts. */
function runCheck(cwd, signal) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', CHECK], { cwd, stdio: 'ignore', signal });
    child.on('error', () => {}); // an abort: 'close' follows
    child.on('close', (code) => resolve(code === 0 && !signal?.aborted));
  });
}

// The check: reads every file of the tree (as a test run reads its sources) and fails when BROKEN is there.
const CHECK = `
const fs = require('fs'), path = require('path');
let n = 0;
const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) { const p = path.join(d, e.name); if (e.isDirectory()) walk(p); else { fs.readFileSync(p); n++; } } };
walk('.');
process.exit(fs.existsSync('BROKEN') ? 1 : 0);
`;

async function search(dir) {
  const repo = join(dir, 'repo');
  makeBase(repo, 50, 20);
  const base = await snapshotBase(repo, join(dir, 'run', 'bases', 'b'));
  const sources = await seededStreams(join(dir, 'ws'), base, STREAMS, (ws, i) => {
    writeFileSync(join(ws, `s${i}.js`), `// added by s${i}\n`);
    if (i === CULPRIT) writeFileSync(join(ws, 'BROKEN'), 'x\n');
  });
  const byName = new Map(sources.map((s) => [s.stream, s]));
  const pool = checkPool(base, join(dir, 'run', 'verify', 'pool', 'b'));
  await pool.open();
  let n = 0;
  // trees are built one at a time (the building is this process's work): the first check starts while the next tree is built
  let building = Promise.resolve();
  const build = (set) => {
    const next = building.then(() =>
      buildCheckTree(
        join(dir, 'trees', `t${n++}`),
        set.map((s) => byName.get(s)),
        'fail',
        { pool },
      ),
    );
    building = next.catch(() => {});
    return next;
  };
  const check = async (set, signal) => {
    const tree = await build(set);
    if (!tree.result.ok) throw new Error('bench merge conflicted');
    const ok = signal?.aborted ? false : await runCheck(tree.dir, signal);
    if (tree.tamperCheck().length > 0) throw new Error('the bench check wrote into the pool');
    return ok;
  };
  const all = sources.map((s) => s.stream);
  // one check's time: the check of all the streams (it fails), as round 1 of the search
  const single = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    if (await check(all)) throw new Error('the culprit did not break the check');
    single.push(performance.now() - t);
  }
  let named = 0;
  const t0 = performance.now();
  const roundMs = [single[single.length - 1]];
  let last = t0;
  const r = await findCulprits(all, {
    parallel: PARALLEL,
    maxRuns: 50,
    check,
    onRound: (x) => {
      if (x.culprit !== undefined) named = x.n;
      if (x.kind === 'initial') return;
      const now = performance.now();
      roundMs.push(now - last);
      last = now;
    },
  });
  const wall = single[single.length - 1] + (performance.now() - t0);
  if (r.culprits.join() !== `s${CULPRIT}`) throw new Error(`the search found ${r.culprits.join()} instead of s${CULPRIT}`);
  return { r, named, wall, one: median(single), roundMs };
}

export async function run() {
  const { dir, cleanup } = tempDir('verify');
  try {
    const o = await overhead(join(dir, 'overhead'));
    const s = await search(join(dir, 'search'));
    const mem = memoryDir();
    let m = null;
    if (mem) {
      try {
        m = await overhead(join(mem.dir, 'overhead'));
      } finally {
        mem.cleanup();
      }
    }
    const ideal = 1 + Math.ceil(Math.log(STREAMS) / Math.log(PARALLEL + 1) - 1e-9);
    console.log(
      `\n## Verify: one check tree on a ${o.files.toLocaleString('en')}-file base, 2 streams changing 3 files each (medians of ${REPEAT}; target: under 100 ms)`,
    );
    console.log(
      '| where | cp -a of the base (baseline) | check tree: pool links + changed files copied + tamper check | vs cp -a | the same merge copying the base (mergeAll) | vs cp -a |',
    );
    console.log('| --- | --- | --- | --- | --- | --- |');
    const row = (where, x) =>
      console.log(
        `| ${where} | ${fmt(x.cp)} | ${fmt(x.check)} (${x.linked.toLocaleString('en')} files linked) | ${ratio(x.check, x.cp)} | ${fmt(x.copied)} | ${ratio(x.copied, x.cp)} |`,
      );
    row(`the temp directory's disk (${tmpdir()})`, o);
    if (m) row('in memory (tmpfs /dev/shm)', m);
    console.log(`\nThe pool (one copy of the base per run, made on first use): ${fmt(o.poolMs)} on disk${m ? `, ${fmt(m.poolMs)} in memory` : ''}.`);
    console.log(`\n## Verify: finding the stream that broke the check — ${STREAMS} streams, s${CULPRIT} breaks it, ${PARALLEL} checks at a time`);
    console.log('| | measured | ideal |');
    console.log('| --- | --- | --- |');
    console.log(`| round that named the culprit (round 1: the failed check of all) | ${s.named} | 1 + ⌈log₅ ${STREAMS}⌉ = ${ideal} |`);
    console.log(`| rounds in all (with the check of the rest on top of what was accepted) | ${s.r.rounds} | ${ideal + 1} |`);
    console.log(
      `| check runs (after the failed one; cancelled ones included) | ${s.r.runs} (${s.r.cancelled} cancelled) | at most ${PARALLEL * (ideal - 1) + 1} |`,
    );
    console.log(
      `| wall time, from the failed check of all to the verdict | ${fmt(s.wall)} | ${s.r.rounds} rounds x one check (${fmt(s.one)}, tree + check + tamper check) = ${fmt(s.r.rounds * s.one)} (${ratio(s.wall, s.r.rounds * s.one)}) |`,
    );
    console.log(`
Rounds took ${s.roundMs.map(fmt).join(', ')}, on ${cpus().length} cores (up to ${PARALLEL} checks at once share them).`);
  } finally {
    cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
