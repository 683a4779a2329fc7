/**
 * src/ as Node.js loads it (`npm run deps`, part of `npm test`): type-only imports gone (compiled
 * away) and `import('…')` not followed (it loads only when it runs). On that graph: no cycle
 * (.dependency-cruiser.cjs already allows none, of types either), and the library's entry points
 * but /redis load no Redis client.
 * test/package/exports.test.ts checks the same of dist/ by importing it; this names the import
 * that broke it.
 */
const base = require('./.dependency-cruiser.cjs');

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle-when-loaded',
      severity: 'error',
      comment: 'A cycle of the imports that stay once compiled: the order its modules load in decides what each of them sees.',
      from: { path: '^src/' },
      to: { circular: true },
    },
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
  },
};
