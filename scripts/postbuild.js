// After `tsc`: makes the launcher executable (npm does it on install, a git checkout may not),
// and removes what an older build left in dist/ for a source file since moved or deleted, so
// that no stale module (or a source map whose source is gone) is published. dist/ is pruned
// rather than emptied before the build, so a coord running from this checkout meanwhile keeps
// its files.
import { chmodSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

chmodSync(new URL('../bin/coord.js', import.meta.url), 0o755);

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const src = join(root, 'src');
const OUTPUT = /\.(js|js\.map|d\.ts|d\.ts\.map)$/;
let pruned = 0;
for (const rel of existsSync(dist) ? readdirSync(dist, { recursive: true, encoding: 'utf8' }) : []) {
  const base = rel.replace(OUTPUT, '');
  if (base === rel || existsSync(join(src, `${base}.ts`))) continue;
  rmSync(join(dist, rel), { force: true });
  pruned++;
}
if (pruned > 0) console.log(`postbuild: removed ${pruned} file(s) of sources no longer in src/`);
