/**
 * Jest for `npm run mutate`: the unit tests of the modules Stryker mutates, nothing that
 * spawns the built dist/ (a subprocess runs unmutated code and costs seconds per mutant): so
 * not test/locks/registry-trust.test.ts, whose one in-process case the store's own tests cover.
 */
import base from './jest.config.js';

export default {
  ...base,
  testMatch: [
    '<rootDir>/test/consensus/*.test.ts',
    '<rootDir>/test/locks/manager.test.ts',
    '<rootDir>/test/locks/state.test.ts',
    '<rootDir>/test/locks/*.mutants.test.ts',
    '<rootDir>/test/state/store.test.ts',
    '<rootDir>/test/state/*.mutants.test.ts',
    '<rootDir>/test/queue/queue.test.ts',
    '<rootDir>/test/queue/*.mutants.test.ts',
    '<rootDir>/test/supervise/*.test.ts',
    '<rootDir>/test/orchestrator/*.mutants.test.ts',
    '<rootDir>/test/orchestrator/exit-decision.test.ts',
    '<rootDir>/test/core/failures.test.ts',
    '<rootDir>/test/workspace/changes.test.ts',
    '<rootDir>/test/merge/merge-*.test.ts',
    '<rootDir>/test/merge/threeway.test.ts',
    '<rootDir>/test/merge/*.mutants.test.ts',
    '<rootDir>/test/workspace/walk.test.ts',
    '<rootDir>/test/workspace/*.mutants.test.ts',
  ],
  reporters: ['default'],
  maxWorkers: 1,
  // a test awaiting a promise a mutant never settles fails (killed) instead of timing out the worker
  testTimeout: 3000,
};
