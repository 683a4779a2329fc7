/**
 * `coord diff STREAM [RUN] [--stat] [--json]`: a stream's change set against the base it was
 * seeded from (what a convergence point would merge of it), as a patch in git's format
 * (`git apply` takes it), a `--stat` summary, or JSON. A stream without a base shows every
 * file it has as added. Read from the workspace as it is now, so it works while the stream runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openBackend, resolveRun } from '../../../context/backend.js';
import { UsageError } from '../../errors.js';
import { loadBaseTree, type BaseTree } from '../../../workspace/basetree.js';
import { detectChanges, type Change } from '../../../workspace/changes.js';
import { loadSeed, seedFileOf } from '../../../workspace/seed.js';
import { looksText } from '../../../merge/textmerge.js';
import { diffText } from '../../../merge/unified.js';

export interface DiffFlags {
  stat?: boolean;
  json?: boolean;
}

/** One side of a changed path: its bytes (files, link texts) and git-style mode. */
interface Side {
  data: Buffer;
  mode: string;
  text: boolean;
}

function gitMode(kind: string, mode: number): string {
  if (kind === 'symlink') return '120000';
  return (mode & 0o111) !== 0 ? '100755' : '100644';
}

function readSide(abs: string | undefined, kind: string, mode: number): Side | undefined {
  if (abs === undefined || kind === 'dir') return undefined;
  try {
    const st = fs.lstatSync(abs);
    const data = st.isSymbolicLink() ? Buffer.from(fs.readlinkSync(abs)) : st.isFile() ? fs.readFileSync(abs) : undefined;
    if (data === undefined) return undefined;
    return { data, mode: st.isSymbolicLink() ? '120000' : gitMode(kind, st.mode & 0o777), text: looksText(data, data.length) };
  } catch {
    return { data: Buffer.alloc(0), mode: gitMode(kind, mode), text: true };
  }
}

/** One changed path with both sides and its line counts. */
interface Shown {
  change: Change;
  before: Side | undefined;
  after: Side | undefined;
  insertions: number;
  deletions: number;
  binary: boolean;
  hunks: string;
}

function show(change: Change, base: BaseTree | undefined, workspace: string): Shown {
  const rel = change.rel.split('/');
  const baseEntry = base?.entries[base.index.get(change.rel) ?? -1];
  const before =
    change.change === 'added' || baseEntry === undefined || base === undefined
      ? undefined
      : readSide(path.join(base.tree, ...rel), baseEntry.kind, baseEntry.mode);
  const after = change.change === 'deleted' ? undefined : readSide(path.join(workspace, ...rel), change.kind, change.entry?.mode ?? 0o644);
  const binary = (before !== undefined && !before.text) || (after !== undefined && !after.text);
  if (binary || (before === undefined && after === undefined)) return { change, before, after, insertions: 0, deletions: 0, binary, hunks: '' };
  const d = diffText(before?.data.toString('latin1') ?? '', after?.data.toString('latin1') ?? '');
  return { change, before, after, insertions: d.insertions, deletions: d.deletions, binary, hunks: d.hunks };
}

/** The patch of one path, in git's format (headers in UTF-8, the lines as the files' own bytes). */
function patch(s: Shown): Buffer {
  const p = s.change.rel;
  if (s.before === undefined && s.after === undefined) return Buffer.alloc(0); // an empty directory: git has no word for it
  let head = `diff --git a/${p} b/${p}\n`;
  if (s.before === undefined) head += `new file mode ${s.after?.mode}\n`;
  else if (s.after === undefined) head += `deleted file mode ${s.before.mode}\n`;
  else if (s.before.mode !== s.after.mode) head += `old mode ${s.before.mode}\nnew mode ${s.after.mode}\n`;
  if (s.binary) head += `Binary files ${s.before ? `a/${p}` : '/dev/null'} and ${s.after ? `b/${p}` : '/dev/null'} differ\n`;
  else if (s.hunks !== '') head += `--- ${s.before ? `a/${p}` : '/dev/null'}\n+++ ${s.after ? `b/${p}` : '/dev/null'}\n`;
  return Buffer.concat([Buffer.from(head, 'utf8'), s.binary ? Buffer.alloc(0) : Buffer.from(s.hunks, 'latin1')]);
}

function stat(shown: Shown[]): string {
  const width = Math.min(60, Math.max(0, ...shown.map((s) => s.change.rel.length)));
  const most = Math.max(1, ...shown.map((s) => s.insertions + s.deletions));
  const scale = most > 40 ? 40 / most : 1;
  let ins = 0;
  let del = 0;
  const lines = shown.map((s) => {
    ins += s.insertions;
    del += s.deletions;
    const name = s.change.rel.padEnd(width);
    if (s.binary) return ` ${name} | Bin ${s.before?.data.length ?? 0} -> ${s.after?.data.length ?? 0} bytes`;
    const n = s.insertions + s.deletions;
    const bar = '+'.repeat(Math.round(s.insertions * scale)) + '-'.repeat(Math.round(s.deletions * scale));
    return ` ${name} | ${String(n).padStart(String(most).length)} ${bar}`.trimEnd();
  });
  const files = shown.length;
  const parts = [`${files} file${files === 1 ? '' : 's'} changed`];
  if (ins > 0 || del === 0) parts.push(`${ins} insertion${ins === 1 ? '' : 's'}(+)`);
  if (del > 0) parts.push(`${del} deletion${del === 1 ? '' : 's'}(-)`);
  return `${lines.join('\n')}\n ${parts.join(', ')}\n`;
}

export async function diffCommand(stream: string, runId: string | undefined, flags: DiffFlags): Promise<void> {
  const backend = await openBackend();
  const run = await resolveRun(backend, runId);
  const rec = (await backend.listStreams(run.id)).find((s) => s.id === stream);
  if (!rec) throw new UsageError(`no stream "${stream}" in run ${run.id}`);
  if (rec.branch) {
    throw new UsageError(
      `"${stream}" works in a git worktree: its changes are the commits of branch ${rec.branch} (git diff HEAD...${rec.branch} in the base repository)`,
    );
  }
  if (!fs.existsSync(rec.workspace)) throw new UsageError(`the workspace of "${stream}" (${rec.workspace}) is gone (removed by --rm or coord clean)`);
  const base = rec.base ? loadBaseTree(rec.base) : undefined;
  if (rec.base && !base) throw new UsageError(`the base snapshot of "${stream}" (${rec.base}) is gone`);
  const seed = base ? loadSeed(seedFileOf(backend.runDir(run.id), rec.workspace)) : undefined;
  const changes = await detectChanges({ stream, dir: rec.workspace, outputs: rec.outputs ?? [] }, base, seed);
  const shown = changes.changes.map((c) => show(c, base, rec.workspace));
  if (flags.json) {
    process.stdout.write(
      JSON.stringify({
        run: run.id,
        stream,
        workspace: rec.workspace,
        base: base?.source ?? null,
        changes: shown.map((s) => ({
          path: s.change.rel,
          change: s.change.change,
          kind: s.change.kind,
          insertions: s.insertions,
          deletions: s.deletions,
          binary: s.binary,
        })),
      }) + '\n',
    );
    return;
  }
  if (shown.length === 0) return;
  if (flags.stat) {
    process.stdout.write(stat(shown));
    return;
  }
  for (const s of shown) process.stdout.write(patch(s));
}
