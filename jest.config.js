/**
 * Jest runs the TypeScript tests as ESM through ts-jest. ts-jest only transpiles, file by file
 * (`isolatedModules`): the type check is `tsc -p tsconfig.test.json` in `npm test`, so a
 * type-checking language service in every worker would only check the same code again.
 */
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.test.json', isolatedModules: true, diagnostics: false }],
  },
  testTimeout: 60000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/scripts/jest-summary-reporter.js'],
};
