// Change-set merges at scale: a base of 10,000 files, 8 streams each changing 20 files and
// deleting 2. Measured in the same run, the two sides alternating after a `sync`:
// - seeding: the run's snapshot of the base plus 8 seeded workspaces, beside `cp -r` of the
//   base 8 times;
// - change detection and merge: coord's 8 change sets and the merge decision, beside
//   `git status` in 8 worktrees holding the same edits plus `git merge` of 8 equivalent
//   branches (a merge of trees git already knows);
// - the whole thing a point does: detection, merge and publishing the merged tree (base plus
//   changes, 10,000 files written), beside git's equivalent: `git status` x 8, a fresh
//   worktree of the base (`git worktree add`: 10,000 files written) and `git merge` of the 8
//   branches into it; and publishing alone beside `cp -r` of the base.
// Nothing is removed between rounds (see merge.js: ext4 without a journal slows file creation
// for minutes after mass removals).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { snapshotBase } from '../dist/workspace/basetree.js';
import { seedWorkspace } from '../dist/workspace/seed.js';
import { detectChanges } from '../dist/workspace/changes.js';
import { mergeAll } from '../dist/merge/merge.js';
import { fmt, median, ratio, tempDir, timed } from './util.js';

const FILES = Number(process.env.BENCH_BASE_FILES ?? 10_000);
const STREAMS = 8;
const CHANGED = 20;
const DELETED = 2;
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);

const git = (cwd, args, env = {}) =>
  execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@localhost', '-c', 'commit.gpgsign=false', '-c', 'core.hooksPath=/dev/null', ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  }).toString();

function makeBase(dir) {
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, `pkg-${i % 50}`, `mod-${Math.floor(i / 50) % 20}`);
    if (i < 1000) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `file-${i}.js`), `// file ${i}\n${'export const x = 1;\n'.repeat(10 + (i % 150))}`);
  }
  git(dir, ['init', '--quiet', '-b', 'main']);
  git(dir, ['add', '-A']);
  git(dir, ['commit', '--quiet', '-m', 'base']);
}

const fileOf = (i) => `pkg-${i % 50}/mod-${Math.floor(i / 50) % 20}/file-${i}.js`;

/** Stream s's edits: 20 files changed in place (its own), 2 deleted (its own). */
function applyEdits(dir, s) {
  for (let k = 0; k < CHANGED; k++) {
    const f = join(dir, fileOf(s * 100 + k));
    writeFileSync(f, readFileSync(f, 'utf8').replace('// file', `// changed by s${s}, file`));
  }
  for (let k = 0; k < DELETED; k++) rmSync(join(dir, fileOf(s * 100 + 50 + k)));
}

async function sync() {
  await timed('sync', []);
}

export async function run() {
  const { dir, cleanup } = tempDir('changeset');
  try {
    const base = join(dir, 'base');
    mkdirSync(base);
    makeBase(base);
    // git's side: a worktree per stream holding its edits uncommitted (for git status), and a
    // branch per stream with the same edits committed (through a private index, so the
    // worktree's own index stays at the base)
    for (let s = 0; s < STREAMS; s++) {
      const wt = join(dir, `git-s${s}`);
      git(base, ['worktree', 'add', '--quiet', '-b', `wt-s${s}`, wt, 'main']);
      applyEdits(wt, s);
      const index = { GIT_INDEX_FILE: join(dir, `index-s${s}`) };
      git(wt, ['read-tree', 'HEAD'], index);
      git(wt, ['add', '-A'], index);
      const tree = git(wt, ['write-tree'], index).trim();
      const commit = git(wt, ['commit-tree', tree, '-p', 'main', '-m', `s${s}`]).trim();
      git(wt, ['update-ref', `refs/heads/s${s}`, commit]);
      git(wt, ['status', '--porcelain']); // the index's stat data refreshed once, as an agent's own git use would
    }
    const seedT = [];
    const cpT = [];
    const detectT = [];
    const gitDetectT = [];
    const wholeT = [];
    const gitWholeT = [];
    const publishT = [];
    const cpOneT = [];
    let last;
    for (let round = 0; round < REPEAT; round++) {
      const coordSide = async () => {
        const t0 = performance.now();
        const tree = await snapshotBase(base, join(dir, `run-${round}`, 'bases', 'b'));
        const sources = [];
        const seeds = [];
        for (let s = 0; s < STREAMS; s++) {
          const ws = join(dir, `run-${round}`, `ws-${s}`);
          mkdirSync(ws, { recursive: true });
          seeds.push(await seedWorkspace(tree, ws));
          sources.push({ stream: `s${s}`, dir: ws, outputs: [] });
        }
        seedT.push(performance.now() - t0);
        for (let s = 0; s < STREAMS; s++) applyEdits(sources[s].dir, s);
        await sync();
        const t1 = performance.now();
        for (let s = 0; s < STREAMS; s++) sources[s].changes = await detectChanges(sources[s], tree, seeds[s]);
        const detected = performance.now() - t1;
        const t2 = performance.now();
        const r = await mergeAll(join(dir, `run-${round}`, 'converged'), sources, 'fail', { baseTree: tree });
        const merged = performance.now() - t2;
        if (!r.ok) throw new Error('bench merge conflicted');
        detectT.push(detected);
        wholeT.push(detected + merged);
        publishT.push(merged);
        last = { changed: sources.reduce((n, s) => n + s.changes.changes.length, 0), deleted: r.deleted.length };
      };
      const baselineSide = async () => {
        const t0 = performance.now();
        for (let s = 0; s < STREAMS; s++) await timed('cp', ['-r', base, join(dir, `cp-${round}-${s}`)]);
        cpT.push(performance.now() - t0);
        await sync();
        const one = performance.now();
        await timed('cp', ['-r', base, join(dir, `cp1-${round}`)]);
        cpOneT.push(performance.now() - one);
        await sync();
        const t1 = performance.now();
        for (let s = 0; s < STREAMS; s++) await timed('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: join(dir, `git-s${s}`) });
        const statused = performance.now() - t1;
        const scratch = join(dir, `git-merge-${round}`);
        const t2 = performance.now();
        await timed('git', ['worktree', 'add', '--quiet', '--detach', scratch, 'main'], { cwd: base });
        const added = performance.now() - t2;
        const t3 = performance.now();
        for (let s = 0; s < STREAMS; s++) {
          await timed('git', ['-c', 'user.name=b', '-c', 'user.email=b@localhost', 'merge', '--quiet', '--no-edit', `s${s}`], { cwd: scratch });
        }
        const merged = performance.now() - t3;
        gitDetectT.push(statused + merged);
        gitWholeT.push(statused + added + merged);
      };
      const sides = round % 2 === 0 ? [coordSide, baselineSide] : [baselineSide, coordSide];
      for (const side of sides) {
        await sync();
        await side();
      }
    }
    const m = (xs) => median(xs);
    console.log(
      `\n## Change sets: a base of ${FILES.toLocaleString('en')} files, ${STREAMS} streams each changing ${CHANGED} files and deleting ${DELETED} (medians of ${REPEAT}; ${last.changed} changes found, ${last.deleted} deletions merged)`,
    );
    console.log('| step | baseline | baseline time | coord | coord time | vs baseline | target |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    console.log(
      `| seeding | cp -r of the base x ${STREAMS} | ${fmt(m(cpT))} | snapshot + ${STREAMS} seeded workspaces (stat records) | ${fmt(m(seedT))} | ${ratio(m(seedT), m(cpT))} | ≤ 1.5x |`,
    );
    console.log(
      `| detection + merge | git status x ${STREAMS} + git merge of ${STREAMS} branches (work tree there) | ${fmt(m(gitDetectT))} | ${STREAMS} change sets + merge into a published tree | ${fmt(m(wholeT))} | ${ratio(m(wholeT), m(gitDetectT))} | ≤ 2x |`,
    );
    console.log(
      `| the same, each side building its merged tree from scratch | + git worktree add of the base | ${fmt(m(gitWholeT))} | (as above) | ${fmt(m(wholeT))} | ${ratio(m(wholeT), m(gitWholeT))} | |`,
    );
    console.log(`| change detection alone | git status x ${STREAMS} (part of the above) | | ${STREAMS} change sets | ${fmt(m(detectT))} | | |`);
    console.log(
      `| publishing (merge, base + changes written) | cp -r of the base once | ${fmt(m(cpOneT))} | mergeAll with the base | ${fmt(m(publishT))} | ${ratio(m(publishT), m(cpOneT))} | |`,
    );
  } finally {
    cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
