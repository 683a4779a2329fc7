// Shared helpers of the benchmark scripts: timing, child processes, temp dirs, median.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const COORD = join(ROOT, 'bin', 'coord.js');

export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `coord-bench-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs a command to its end; resolves with the wall time in ms. Throws on a non-zero exit. */
export function timed(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], ...opts });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.slice(-500)}`));
      else resolve(ms);
    });
  });
}

export function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export const fmt = (ms) => `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
export const ratio = (a, b) => `${(a / b).toFixed(2)}x`;

/** The environment for coord in benchmarks: plain output, no colour. */
export function benchEnv(extra = {}) {
  return { ...process.env, CI: 'true', NO_COLOR: '1', ...extra };
}
