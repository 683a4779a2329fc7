// `npm run mutate`: StrykerJS over the modules whose bugs cost a run its result: locks,
// shared state, the queue, the merge, consensus, liveness and the exit policy. Scores per
// module: `node scripts/mutation-scores.js` after a run.
//
// One group at a time: `COORD_MUTATE=consensus npm run mutate` (groups below, comma-separated),
// or any files: `npm run mutate -- --mutate 'src/consensus/*.ts'`.
const groups = {
  locks: ['src/locks/{manager,grant,access,deadlock,files,journal,ledger,state,store,view}.ts'],
  state: ['src/state/store.ts'],
  queue: ['src/queue/{queue,engine,cursors}.ts'],
  merge: ['src/merge/{merge,merge-work,threeway,deletions}.ts', 'src/workspace/changes.ts'],
  consensus: ['src/consensus/{tally,board}.ts'],
  liveness: ['src/supervise/liveness.ts'],
  exit: ['src/orchestrator/exit-policy.ts'],
};
const chosen = (process.env.COORD_MUTATE ?? '').split(',').filter(Boolean);
for (const g of chosen) if (!groups[g]) throw new Error(`COORD_MUTATE: no group "${g}" (groups: ${Object.keys(groups).join(', ')})`);
const name = chosen.length ? chosen.join('+') : 'all';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  // Jest runs the tests as ESM; a mutant that loops and allocates dies at 1 GiB, not the machine.
  testRunnerNodeArgs: ['--experimental-vm-modules', '--max-old-space-size=1024'],
  // the unit tests of these modules; each mutant runs only the tests that cover it
  jest: { configFile: 'jest.stryker.config.js', enableFindRelatedTests: true },
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // An endless loop is a Timeout: the covering tests' own time x 1.5 + 5 s, then the worker
  // is killed and replaced. (A test awaiting what a mutant never resolves fails at Jest's
  // 3 s testTimeout in jest.stryker.config.js first.)
  timeoutMS: 5000,
  timeoutFactor: 1.5,
  ignoreStatic: true,
  mutate: (chosen.length ? chosen : Object.keys(groups)).flatMap((g) => groups[g]),
  ignorePatterns: ['coverage', '.coord', 'reports', 'test/e2e', 'bench', 'docs', 'examples'],
  tempDirName: '.stryker-tmp',
  incremental: true,
  incrementalFile: `reports/stryker-incremental-${name}.json`,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
  thresholds: { high: 90, low: 80, break: null },
};
