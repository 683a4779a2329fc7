// node [--import ./block-redis.mjs] import-probe.mjs SPEC…
//
// Imports each SPEC in turn, from inside the package folder (so `@coord-run/coord/…` resolves
// through the package's own `exports`, by self-reference), and prints one JSON line: for each
// SPEC the URL it resolved to, the names it exports, and the ioredis / BullMQ files loaded
// so far (ioredis is CommonJS, so its files are in the CommonJS loader's cache once loaded,
// whether BullMQ or coord imported it). A SPEC that fails to import gives its error instead.
import { createRequire } from 'node:module';

const cache = createRequire(import.meta.url).cache;
const redisFiles = () => Object.keys(cache).filter((f) => /[\\/]node_modules[\\/](ioredis|bullmq)[\\/]/.test(f));
const out = [];
for (const spec of process.argv.slice(2)) {
  const url = import.meta.resolve(spec);
  try {
    const m = await import(spec);
    out.push({ spec, url, names: Object.keys(m).sort(), redisFiles: redisFiles().length });
  } catch (e) {
    out.push({ spec, url, error: String(e instanceof Error ? e.message : e), redisFiles: redisFiles().length });
  }
}
process.stdout.write(JSON.stringify(out) + '\n');
