/**
 * What the library's entry points load when imported (`npm run deps`, part of `npm test`): the
 * graph as Node.js runs it — type-only imports gone (compiled away) and `import('…')` not
 * followed (it loads only when it runs). test/package/exports.test.ts checks the same of dist/
 * by importing it; this says which import is the one that broke it.
 */
const base = require('./.dependency-cruiser.cjs');

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'entries-load-no-redis-client',
      severity: 'error',
      comment: 'The index and every entry point but src/entry/redis.ts load without ioredis or BullMQ: a library user loads what they use.',
      from: { path: ['^src/index\\.ts$', '^src/entry/'], pathNot: '^src/entry/redis\\.ts$' },
      to: { path: '(^|/)node_modules/(ioredis|bullmq)/', reachable: true },
    },
  ],
  options: {
    ...base.options,
    // the graph of the compiled code: no type-only imports, no dynamic imports
    tsPreCompilationDeps: false,
    exclude: { dynamic: true },
    doNotFollow: { path: 'node_modules', dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg'] },
  },
};
