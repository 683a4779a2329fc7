/**
 * The `three-way` policy's file side: which files can be merged as text, what the common
 * base holds, and folding each path's versions into one text (threeway.ts).
 *
 * - Text: a regular file under {@link MAX_TEXT_BYTES} with no NUL byte in its first 8 KiB.
 * - Bytes are merged as they are: content is read as latin1 (one character per byte), so
 *   any encoding survives unchanged; labels are written in UTF-8.
 * - The base version of a path is `<base>/<path>`. Symbolic links inside the base are
 *   followed only while they stay inside it; a path that is missing there, leads outside,
 *   or is not a regular file counts as absent (both sides added it: the base is empty). A
 *   base file that is not text makes the conflict unmergeable. Without a base directory
 *   every base is empty, so only what both sides have in the same place merges cleanly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openVerified } from '../workspace/content.js';
import type { Claim, MergePlan } from './resolve.js';
import { fsErrorCode, WorkspaceError } from '../workspace/root.js';
import { mergeLines } from './threeway.js';
import type { Ticker } from '../workspace/ticker.js';

/** Files of this size or larger are never merged as text (8 MiB). */
export const MAX_TEXT_BYTES = 8 * 1024 * 1024;
/** How much of a file is searched for a NUL byte. */
const SNIFF_BYTES = 8192;

/** What the base holds at a path: text to merge against, nothing, or something unmergeable. */
type BaseVersion = { kind: 'text'; data: Buffer } | { kind: 'absent' } | { kind: 'binary' };

const isInside = (root: string, p: string): boolean => {
  const r = path.relative(root, p);
  return r === '' || (!path.isAbsolute(r) && r !== '..' && !r.startsWith(`..${path.sep}`));
};

/** Reads an opened file whole (it is small enough: the caller checked its size). */
function readAll(fd: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let n = 0;
  for (let got: number; n < size && (got = fs.readSync(fd, buf, n, size - n, null)) > 0; ) n += got;
  return n === size ? buf : buf.subarray(0, n);
}

/** Text as the merge and `coord diff` take it: under {@link MAX_TEXT_BYTES}, no NUL byte in its first 8 KiB. */
export const looksText = (head: Buffer, size: number): boolean => size < MAX_TEXT_BYTES && !head.subarray(0, SNIFF_BYTES).includes(0);

/**
 * Text facts and contents for one merge, cached per claim and per base path. File access
 * goes through {@link openVerified}: no final symbolic link is followed, and a file swapped
 * since the walk is refused.
 */
export class TextSource {
  private readonly baseRoot: string | undefined;
  private readonly text = new WeakMap<Claim, boolean>();
  private readonly bases = new Map<string, BaseVersion>();

  /**
   * `base`: the common ancestor directory, or undefined for none (see the module comment).
   * Throws a WorkspaceError when it is given but is not a directory.
   */
  constructor(base: string | undefined) {
    if (base === undefined) return;
    const abs = path.resolve(base);
    try {
      this.baseRoot = fs.realpathSync.native(abs);
      if (!fs.statSync(this.baseRoot).isDirectory()) throw new Error('not a directory');
    } catch (e) {
      throw new WorkspaceError(`merge base ${abs} is not a readable directory: ${(e as Error).message}`, abs);
    }
  }

  /** Can the versions `a` and `b` of `rel` be merged as text? (Both text, and the base not binary.) */
  canMerge(rel: string, a: Claim, b: Claim): boolean {
    return this.isText(a) && this.isText(b) && this.base(rel).kind !== 'binary';
  }

  /** Is the file of this claim text (see the module comment)? */
  isText(c: Claim): boolean {
    let known = this.text.get(c);
    if (known === undefined) {
      const { fd, stat } = this.open(c);
      try {
        const head = Buffer.alloc(Math.min(SNIFF_BYTES, stat.size));
        known = looksText(head.subarray(0, fs.readSync(fd, head, 0, head.length, 0)), stat.size);
      } finally {
        fs.closeSync(fd);
      }
      this.text.set(c, known);
    }
    return known;
  }

  /** The content of a claim's file, and its permission bits. */
  read(c: Claim): { data: Buffer; mode: number } {
    const { fd, stat } = this.open(c);
    try {
      return { data: readAll(fd, stat.size), mode: stat.mode & 0o777 };
    } finally {
      fs.closeSync(fd);
    }
  }

  /** What the base holds at `rel` (see the module comment). */
  base(rel: string): BaseVersion {
    let known = this.bases.get(rel);
    if (known === undefined) this.bases.set(rel, (known = this.readBase(rel)));
    return known;
  }

  private open(c: Claim): { fd: number; stat: fs.Stats } {
    if (c.entry !== undefined) return openVerified(c.entry.abs, c.entry);
    if (c.abs !== undefined) return openVerified(c.abs);
    throw new Error(`internal: claim on ${c.rel} has no file to read`);
  }

  private readBase(rel: string): BaseVersion {
    if (this.baseRoot === undefined) return { kind: 'absent' };
    let real: string;
    try {
      real = fs.realpathSync.native(path.join(this.baseRoot, ...rel.split('/')));
    } catch (e) {
      const code = fsErrorCode(e);
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return { kind: 'absent' };
      throw e;
    }
    if (!isInside(this.baseRoot, real)) return { kind: 'absent' };
    const st = fs.lstatSync(real);
    if (!st.isFile()) return { kind: 'absent' };
    const { fd, stat } = openVerified(real, { dev: st.dev, ino: st.ino });
    try {
      if (stat.size >= MAX_TEXT_BYTES) return { kind: 'binary' };
      const data = readAll(fd, stat.size);
      return looksText(data, stat.size) ? { kind: 'text', data } : { kind: 'binary' };
    } finally {
      fs.closeSync(fd);
    }
  }
}

const latin1 = (label: string): string => Buffer.from(label, 'utf8').toString('latin1');

/**
 * Runs the plan's text merges: each path's versions are folded left, `merged = mergeLines(base,
 * merged, next)`, and the result becomes the data of its write (with the first version's
 * permission bits). A clean merge is no conflict (its entry leaves `plan.conflicts`, unless
 * something unmergeable also claimed the path); returns the paths whose text has conflict
 * markers. `labelOf` names a version in the markers.
 */
export async function runTextMerges(plan: MergePlan, source: TextSource, labelOf: (c: Claim) => string, ticker: Ticker): Promise<string[]> {
  const markers: string[] = [];
  const clean = new Set<object>();
  for (const m of plan.textMerges) {
    const [first, ...rest] = m.inputs;
    if (first === undefined) continue;
    const base = source.base(m.write.outRel);
    const baseText = base.kind === 'text' ? base.data.toString('latin1') : '';
    const start = source.read(first);
    let text = start.data.toString('latin1');
    let conflicts = 0;
    const names = [labelOf(first)];
    for (const c of rest) {
      await ticker.tick();
      const label = labelOf(c);
      const out = mergeLines(baseText, text, source.read(c).data.toString('latin1'), {
        ours: latin1([...new Set(names)].join('+')),
        theirs: latin1(label),
      });
      text = out.text;
      conflicts += out.conflicts;
      names.push(label);
    }
    m.write.data = Buffer.from(text, 'latin1');
    m.write.mode = start.mode;
    if (conflicts > 0) markers.push(m.write.outRel);
    else if (!m.hard) clean.add(m.conflict);
  }
  if (clean.size > 0) plan.conflicts = plan.conflicts.filter((c) => !clean.has(c));
  return markers;
}
