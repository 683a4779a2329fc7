/** The package's version, read from package.json (no other import: `coord --version` loads only this). */
import { readFileSync } from 'node:fs';

/** The `version` field of coord's package.json. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
