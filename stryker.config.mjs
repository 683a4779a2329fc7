// `npm run mutate`: StrykerJS over the modules whose bugs cost a run its result: locks,
// shared state, the queue, the merge, consensus, liveness and the exit policy.
// One group at a time: `npm run mutate -- --mutate 'src/consensus/*.ts'`.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  // Jest runs the tests as ESM; a mutant that loops and allocates dies at 1 GiB, not the machine.
  testRunnerNodeArgs: ['--experimental-vm-modules', '--max-old-space-size=1024'],
  jest: { configFile: 'jest.stryker.config.js', enableFindRelatedTests: true },
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // An endless loop is a Timeout: the test's own time x 1.5 + 5 s, then the worker is killed.
  timeoutMS: 5000,
  timeoutFactor: 1.5,
  ignoreStatic: true,
  mutate: [
    'src/locks/{manager,access,deadlock,files,ledger,state,store,view}.ts',
    'src/state/store.ts',
    'src/queue/{queue,engine,cursors}.ts',
    'src/workspace/{merge,merge-work,threeway,deletions,changes}.ts',
    'src/consensus/{tally,board}.ts',
    'src/supervise/liveness.ts',
    'src/orchestrator/exit-policy.ts',
  ],
  ignorePatterns: ['coverage', '.coord', 'reports', 'test/e2e', 'bench', 'docs', 'examples'],
  tempDirName: '.stryker-tmp',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: true },
  thresholds: { high: 90, low: 80, break: null },
};
