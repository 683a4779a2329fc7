/**
 * The import rules of src/ (`npm run deps`, part of `npm test`): no cycles, and layers that only
 * point down — the command line on top, the engine below it, storage below the engine, the
 * event schema and core/ at the bottom. See the architecture in the README. Type-only imports
 * count: a layer that names an upper layer's types depends on it all the same.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'A cycle of imports in src/: the modules of a cycle cannot be understood, tested or loaded one without the others.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'cli-on-top',
      severity: 'error',
      comment: 'src/cli/ is the top layer: nothing outside it imports it.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'core-is-a-leaf',
      severity: 'error',
      comment: 'src/core/ imports nothing else of src/.',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'event-schema-is-a-leaf',
      severity: 'error',
      comment: 'src/events/types.ts, the event union every layer emits, imports nothing.',
      from: { path: '^src/events/types\\.ts$' },
      to: {},
    },
    {
      name: 'storage-below-the-engine',
      severity: 'error',
      comment: 'src/backend/ (storage) is below the run engine, the command line, the reporters and the dashboard.',
      from: { path: '^src/backend/' },
      to: { path: '^src/(orchestrator|cli|report|dashboard)/' },
    },
    {
      name: 'engine-does-not-print',
      severity: 'error',
      comment: 'The run engine (src/orchestrator/) does not print: the command line and the reporters are above it.',
      from: { path: '^src/orchestrator/' },
      to: { path: '^src/(cli|report)/' },
    },
    {
      name: 'merge-below-convergence',
      severity: 'error',
      comment:
        'The merge engine (src/merge/) and workspaces (src/workspace/) know nothing of points or of the run: convergence/ and the engine use them, never the reverse.',
      from: { path: '^src/(merge|workspace)/' },
      to: { path: '^src/(convergence|orchestrator|cli|report|dashboard|distribute)/' },
    },
    {
      name: 'workspace-below-merge',
      severity: 'error',
      comment: 'Workspaces (seeding, change sets, walks) are what merges read: src/workspace/ does not import src/merge/.',
      from: { path: '^src/workspace/' },
      to: { path: '^src/merge/' },
    },
    {
      name: 'verify-below-convergence',
      severity: 'error',
      comment:
        "A point's checks (src/verify/: scratch trees, the culprit search) are built on the merge engine and workspaces; they import only those, util/ and core/, and the merge engine and workspaces never import them.",
      from: { path: '^src/verify/' },
      to: { path: '^src/', pathNot: '^src/(verify|merge|workspace|util|core)/' },
    },
    {
      name: 'merge-below-verify',
      severity: 'error',
      comment: 'The merge engine (src/merge/) and workspaces (src/workspace/) know nothing of the checks built on them (src/verify/).',
      from: { path: '^src/(merge|workspace)/' },
      to: { path: '^src/verify/' },
    },
    {
      name: 'convergence-below-the-engine',
      severity: 'error',
      comment:
        'A convergence point (src/convergence/) gets what it needs of the run through its PointHost; it imports nothing of the run engine, not even its types.',
      from: { path: '^src/convergence/' },
      to: { path: '^src/(orchestrator|cli|report|dashboard)/' },
    },
    {
      name: 'workers-below-the-engine',
      severity: 'error',
      comment:
        "The run engine drives remote attempts (src/distribute/); a worker never imports the engine: what both need (a stream's environment, processes, lines) is below them, in supervise/ and util/.",
      from: { path: '^src/distribute/' },
      to: { path: '^src/(orchestrator|convergence|cli|report|dashboard)/' },
    },
    {
      name: 'processes-below-the-engine',
      severity: 'error',
      comment: 'src/supervise/ (one stream = one process group) knows nothing of the run engine or of workers.',
      from: { path: '^src/supervise/' },
      to: { path: '^src/(orchestrator|convergence|distribute|cli|report|dashboard)/' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to no file and no installed package.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-dev-dependency-in-src',
      severity: 'error',
      comment: 'src/ is what the package ships: it imports dependencies, never devDependencies.',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'no-undeclared-package',
      severity: 'error',
      comment: 'src/ imports only the packages package.json lists as dependencies (and node: builtins).',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // keep type-only imports (marked as such): they are dependencies between layers too
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts', '.json'],
    },
    skipAnalysisNotInRules: true,
  },
};
