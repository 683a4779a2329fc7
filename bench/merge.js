// Merge throughput: 8 streams x 2,000 files of 4 KB merged (barrier, all-or-nothing) beside
// `cp -r` of the same trees into one directory; and the original design's "typical" merge,
// 8 streams x 50 files. Medians of 3 rounds, measured in the same run.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mergeAll } from '../dist/workspace/merge.js';
import { fmt, median, ratio, tempDir, timed } from './util.js';

const STREAMS = 8;
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);

function makeTrees(dir, files) {
  const content = Buffer.alloc(4096, 'x');
  const sources = [];
  for (let s = 0; s < STREAMS; s++) {
    const src = join(dir, `s${s}`);
    for (let f = 0; f < files; f++) {
      const sub = join(src, `d${f % 20}`);
      if (f < 20) mkdirSync(sub, { recursive: true });
      writeFileSync(join(sub, `s${s}-f${f}.txt`), content);
    }
    sources.push({ stream: `s${s}`, dir: src, outputs: [] });
  }
  return sources;
}

async function merge(dir, sources, round) {
  const target = join(dir, `merged-${round}`);
  const t0 = performance.now();
  const r = await mergeAll(target, sources, 'fail');
  const ms = performance.now() - t0;
  if (!r.ok) throw new Error('bench merge conflicted');
  rmSync(target, { recursive: true, force: true });
  return ms;
}

async function cpr(dir, sources, round) {
  const target = join(dir, `cp-${round}`);
  mkdirSync(target);
  const ms = await timed('cp', ['-r', ...sources.map((s) => `${s.dir}/.`), target]);
  rmSync(target, { recursive: true, force: true });
  return ms;
}

export async function run() {
  const { dir, cleanup } = tempDir('merge');
  try {
    const small = makeTrees(join(dir, 'small'), 50);
    const m = [];
    const c = [];
    const t = [];
    const tc = [];
    // the typical merges first, before the big trees exist: behind 64 MB of writes (and
    // deletions, every round) both sides mostly time the disk catching up, not the merge
    await timed('sync', []);
    for (let i = 0; i < Math.max(REPEAT, 5); i++) {
      tc.push(await cpr(dir, small, `tc${i}`));
      t.push(await merge(dir, small, `t${i}`));
    }
    const big = makeTrees(join(dir, 'big'), 2000);
    for (let i = 0; i < REPEAT; i++) {
      c.push(await cpr(dir, big, i));
      m.push(await merge(dir, big, i));
    }
    const cp = median(c);
    const mm = median(m);
    console.log(`\n## Merge: ${STREAMS} streams x 2,000 files of 4 KB (median of ${REPEAT})`);
    console.log('| merge | time | vs cp -r |');
    console.log('| --- | --- | --- |');
    console.log(`| cp -r of the same trees (baseline) | ${fmt(cp)} | 1.00x |`);
    console.log(`| coord barrier merge (conflict checks, staged, renamed into place) | ${fmt(mm)} | ${ratio(mm, cp)} |`);
    console.log(`\n## The "typical" merge: ${STREAMS} streams x 50 files (median of ${t.length}, measured first; target: under 100 ms)`);
    console.log('| merge | time | vs cp -r |');
    console.log('| --- | --- | --- |');
    console.log(`| cp -r of the same trees (baseline) | ${fmt(median(tc))} | 1.00x |`);
    console.log(`| coord barrier merge | ${fmt(median(t))} | ${ratio(median(t), median(tc))} |`);
  } finally {
    cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
