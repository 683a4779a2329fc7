// Makes the launcher executable after a build (npm does it on install, a git checkout may not).
import { chmodSync } from 'node:fs';
chmodSync(new URL('../bin/coord.js', import.meta.url), 0o755);
