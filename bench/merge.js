// Merge throughput: 8 streams x 2,000 files of 4 KB merged (barrier, all-or-nothing) beside
// `cp -r` of the same trees into one directory; and the original design's "typical" merge,
// 8 streams x 50 files, on the temp directory's disk and, where /dev/shm is a tmpfs, in
// memory (the merge's own cost without the disk's). Medians, measured in the same run.
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mergeAll } from '../dist/merge/merge.js';
import { tmpdir } from 'node:os';
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
  return ms;
}

async function cpr(dir, sources, round) {
  const target = join(dir, `cp-${round}`);
  mkdirSync(target);
  return timed('cp', ['-r', ...sources.map((s) => `${s.dir}/.`), target]);
}

const TMPFS_MAGIC = 0x01021994;

/**
 * Whether `dir` is on ext4 without a journal. There, creating a file skips every free inode
 * of its group whose deletion time is under 60 s old, or 360 s while the inode table block is
 * dirty (ext4's recently_deleted(); only checked without a journal). So for minutes after
 * many files were removed nearby (earlier sections, the test suite), every creation scans
 * thousands of inodes: `perf record` of such a merge showed ext4_create → recently_deleted at
 * ~70% of the time, and of `cp -r` the same. Nothing is removed between rounds here, so the
 * bench does not slow itself down; what others removed before it still counts.
 */
function unjournaledExt4(dir) {
  try {
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' '));
    let best = null;
    for (const f of mounts) {
      const at = f[4];
      if (at && (dir === at || dir.startsWith(at === '/' ? '/' : `${at}/`)) && (!best || at.length > best[4].length)) best = f;
    }
    if (!best) return false;
    const [fstype, source] = best.slice(best.indexOf('-') + 1);
    if (fstype !== 'ext4' || !source?.startsWith('/dev/')) return false;
    const dev = source.slice('/dev/'.length);
    return !readdirSync('/proc/fs/jbd2').some((j) => j.startsWith(`${dev}-`));
  } catch {
    return false;
  }
}

/** A temp directory in memory (/dev/shm when it is a tmpfs), else null. */
function memoryDir() {
  try {
    if (statfsSync('/dev/shm').type !== TMPFS_MAGIC) return null;
    const dir = mkdtempSync('/dev/shm/coord-bench-merge-');
    return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  } catch {
    return null;
  }
}

/**
 * One round of both sides, each after a sync (so neither pays for the other's writes still in
 * the page cache), in alternating order (so neither always follows the other's deletions).
 */
async function pair(round, a, onA, b, onB) {
  const sides =
    round % 2 === 0
      ? [
          [a, onA],
          [b, onB],
        ]
      : [
          [b, onB],
          [a, onA],
        ];
  for (const [f, on] of sides) {
    await timed('sync', []);
    on(await f());
  }
}

/** The typical merge in `dir`, beside cp -r of the same trees: medians over `rounds`. */
async function typical(dir, rounds) {
  const small = makeTrees(join(dir, 'small'), 50);
  const t = [];
  const tc = [];
  for (let i = 0; i < rounds; i++)
    await pair(
      i,
      () => cpr(dir, small, `tc${i}`),
      (ms) => tc.push(ms),
      () => merge(dir, small, `t${i}`),
      (ms) => t.push(ms),
    );
  return { merge: median(t), cp: median(tc), rounds };
}

/** The big merge in `dir`, beside cp -r of the same trees: medians of REPEAT rounds. */
async function big(dir) {
  const trees = makeTrees(join(dir, 'big'), 2000);
  const m = [];
  const c = [];
  for (let i = 0; i < REPEAT; i++)
    await pair(
      i,
      () => cpr(dir, trees, i),
      (ms) => c.push(ms),
      () => merge(dir, trees, i),
      (ms) => m.push(ms),
    );
  return { merge: median(m), cp: median(c) };
}

export async function run() {
  const { dir, cleanup } = tempDir('merge');
  try {
    // the typical merges first, before the big trees exist
    const onDisk = await typical(dir, Math.max(REPEAT, 5));
    const mem = memoryDir();
    let inMemory = null;
    let bigInMemory = null;
    if (mem) {
      try {
        inMemory = await typical(mem.dir, Math.max(REPEAT, 5));
        bigInMemory = await big(mem.dir);
      } finally {
        mem.cleanup();
      }
    }
    const bigOnDisk = await big(dir);
    console.log(`\n## Merge: ${STREAMS} streams x 2,000 files of 4 KB (medians of ${REPEAT}; target: within 2x of cp -r)`);
    console.log('| where | cp -r of the same trees (baseline) | coord barrier merge (conflict checks, staged, renamed into place) | vs cp -r |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| the temp directory's disk (${tmpdir()}) | ${fmt(bigOnDisk.cp)} | ${fmt(bigOnDisk.merge)} | ${ratio(bigOnDisk.merge, bigOnDisk.cp)} |`);
    if (bigInMemory)
      console.log(`| in memory (tmpfs /dev/shm) | ${fmt(bigInMemory.cp)} | ${fmt(bigInMemory.merge)} | ${ratio(bigInMemory.merge, bigInMemory.cp)} |`);
    console.log(`\n## The "typical" merge: ${STREAMS} streams x 50 files of 4 KB (medians of ${onDisk.rounds}, measured first; target: under 100 ms)`);
    console.log('| where | cp -r of the same trees (baseline) | coord barrier merge | vs cp -r |');
    console.log('| --- | --- | --- | --- |');
    console.log(`| the temp directory's disk (${tmpdir()}) | ${fmt(onDisk.cp)} | ${fmt(onDisk.merge)} | ${ratio(onDisk.merge, onDisk.cp)} |`);
    if (inMemory) console.log(`| in memory (tmpfs /dev/shm) | ${fmt(inMemory.cp)} | ${fmt(inMemory.merge)} | ${ratio(inMemory.merge, inMemory.cp)} |`);
    if (unjournaledExt4(dir))
      console.log(
        `\n${tmpdir()} is ext4 without a journal: for up to 6 minutes after many files were removed nearby, each file creation there is slower (ext4's recently_deleted() scan), for cp -r as for the merge.`,
      );
  } finally {
    cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
