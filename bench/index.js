// `npm run bench`: every benchmark, each printing its figures beside a baseline measured in the same run.
import { cpus } from 'node:os';
const only = process.argv[2];
console.log(`# coord benchmarks — Node ${process.version}, ${cpus().length} cores, ${new Date().toISOString()}`);
for (const name of ['coldstart', 'streams', 'merge', 'changeset', 'guardian', 'locks', 'resources', 'state', 'queue', 'redis', 'workers', 'verify']) {
  if (only && only !== name) continue;
  const mod = await import(`./${name}.js`);
  await mod.run();
}
