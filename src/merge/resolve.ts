/**
 * The conflict planner: given every claim on every path (the target's current content and
 * each source's entries, in completion order), decides what ends up where under a policy.
 * Pure and synchronous: content equality is settled beforehand (sizes, digests, link texts).
 *
 * The result is what merging the sources one after another would give:
 *
 *   claims on key k, in order ──► occupant = first claim
 *        each later claim c:  same as occupant ──► joins it (directories merge, identical files dedupe)
 *                             differs ──► conflict:  fail/first  c is dropped (with its subtree)
 *                                                    last        the occupants are dropped, c occupies
 *                                                    keep-both   c is renamed `name.<stream>.ext`
 *                                                    three-way   both text files: c joins the versions
 *                                                                folded into one merged file (merge.ts
 *                                                                runs the merge, textmerge.ts); else
 *                                                                c is dropped (an unmergeable conflict)
 *
 * The policy is asked per conflicting path (per-path rules), so one merge can mix them. A
 * conflict that leaves the merge unresolved (`fail`, or `three-way` on something that is not
 * two text files, unless conflicts are allowed) is listed in `blocked`.
 *
 * Keys are paths whose components are folded (lower-cased) on case-insensitive targets.
 * Parents sort before children, so a dropped or renamed directory is settled before its
 * contents are looked at.
 */
import path from 'node:path';
import { unreachable } from '../core/unreachable.js';
import type { ConflictPolicy } from '../plan/types.js';
import type { FileEntry } from '../workspace/walk.js';

/** What a claim is: a source entry's kind, or `special` for a FIFO/socket/device found in the target. */
export type ClaimKind = 'file' | 'symlink' | 'dir' | 'special';

/** One source's (or the target's) wish to have something at a path. */
export interface Claim {
  /** Index of the source in completion order; -1 for what is already in the target. */
  src: number;
  /** The claimant's own path, in its own case. */
  rel: string;
  kind: ClaimKind;
  /** The source entry to write; undefined for implied parent directories and target content. */
  entry?: FileEntry;
  /** Files: bytes. */
  size?: number;
  /** Files that share a key and a size with another claim: content hash. */
  digest?: string;
  /** Symbolic links: the normalized link text. */
  linkTarget?: string;
  /** Target content only: the absolute path. */
  abs?: string;
}

/** A source entry to write, and where (relative to the target). */
export interface PlannedWrite {
  entry: FileEntry;
  outRel: string;
  src: number;
  /** A merged file: write these bytes (with {@link PlannedWrite.mode}) instead of copying `entry`. */
  data?: Buffer;
  /** Permission bits for `data`. */
  mode?: number;
  /** A base file of a check tree: hard-link `entry.abs` (a pool's copy of the base) instead of copying it; copied when linking fails. */
  link?: boolean;
}

/** A path two or more claims disagree on (before any renaming), and who claimed it. */
export interface PlannedConflict {
  path: string;
  streams: string[];
}

/** A path whose differing text files are folded into one (the `three-way` policy). */
export interface PlannedTextMerge {
  /** The write that carries the result (its `data` is filled in by the merge). */
  write: PlannedWrite;
  /** The versions in order: what the path holds first, then each later differing one. */
  inputs: Claim[];
  /** The path's conflict entry: dropped again when the text merges cleanly, unless `hard`. */
  conflict: PlannedConflict;
  /** Something else claimed the path and could not be merged (a directory, a binary file). */
  hard: boolean;
}

/** Everything the planner decided. */
export interface MergePlan {
  writes: PlannedWrite[];
  /** Target paths to delete before writing (`last` replacing a directory by a file or back). */
  removals: string[];
  conflicts: PlannedConflict[];
  renamed: Array<{ path: string; stream: string; as: string }>;
  /** Conflicting paths that leave the merge unresolved: with any, nothing may be written. */
  blocked: string[];
  textMerges: PlannedTextMerge[];
}

/** What the planner needs to know besides the claims. */
export interface PlanContext {
  /** Folded key → claims in completion order (target first). */
  groups: Map<string, Claim[]>;
  /** The policy for conflicts at a path (relative to the target, `/`-separated). */
  policyOf: (path: string) => ConflictPolicy;
  /** `three-way`: an unmergeable conflict keeps the earlier version instead of blocking the merge. */
  allowConflicts?: boolean;
  /** `three-way`: can these two file claims at `path` be merged as text? */
  canMergeText?: (path: string, a: Claim, b: Claim) => boolean;
  fold: (name: string) => string;
  /** Stream ids of a claim, for conflict lists and renamed names ([] when unknown). */
  streamsOf: (claim: Claim) => string[];
  /** Is a name (folded) already used in this target directory (by content not in `groups`)? */
  nameTaken: (parentOutRel: string, foldedName: string) => boolean;
}

/** Is `b` the same thing as `a` (so no conflict)? Files need equal sizes and equal digests. */
export function sameContent(a: Claim, b: Claim): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'dir':
      return true;
    case 'special':
      return false;
    case 'symlink':
      return a.linkTarget === b.linkTarget;
    case 'file':
      if (a.size !== b.size) return false;
      if (a.size === 0) return true;
      return a.digest !== undefined && a.digest === b.digest;
    default:
      return unreachable(a.kind);
  }
}

const parentOf = (p: string): string => {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
};
const baseOf = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
const join = (parent: string, name: string): string => (parent === '' ? name : `${parent}/${name}`);

/** `b.txt` + `s2` → `b.s2.txt`; `Makefile`, `.env` and directories → `name.s2`. */
export function taggedName(name: string, tag: string, isDir: boolean): string {
  const ext = isDir ? '' : path.posix.extname(name);
  return ext === '' ? `${name}.${tag}` : `${name.slice(0, -ext.length)}.${tag}${ext}`;
}

/** Decides the merge (see the module comment). */
export function planMerge(ctx: PlanContext): MergePlan {
  const { groups, fold } = ctx;
  const plan: MergePlan = { writes: [], removals: [], conflicts: [], renamed: [], blocked: [], textMerges: [] };
  const dropped = new Map<number, Set<string>>();
  const renamedAt = new Map<number, Map<string, string>>();
  const canonical = new Map<string, string>();
  const freshKeys = new Set<string>();

  const outRel = (c: Claim): string => {
    const parts = c.rel.split('/');
    const ren = renamedAt.get(c.src);
    let out = '';
    let key = '';
    let own = '';
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] ?? '';
      own = join(own, part);
      key = join(key, fold(part));
      const to = ren?.get(own);
      if (to !== undefined) return [to, ...parts.slice(i + 1)].join('/');
      out = join(out, canonical.get(key) ?? part);
    }
    return out;
  };
  const underAny = (rel: string, set: Map<string, unknown> | Set<string> | undefined): boolean => {
    if (set === undefined || set.size === 0) return false;
    for (let p = parentOf(rel); p !== ''; p = parentOf(p)) if (set.has(p)) return true;
    return false;
  };
  const drop = (c: Claim): void => {
    let set = dropped.get(c.src);
    if (set === undefined) dropped.set(c.src, (set = new Set()));
    set.add(c.rel);
  };
  const emit = (c: Claim, renamed: boolean): void => {
    if (c.entry === undefined || c.src < 0) return;
    const to = outRel(c);
    plan.writes.push({ entry: c.entry, outRel: to, src: c.src });
    if (renamed) for (const stream of ctx.streamsOf(c)) plan.renamed.push({ path: c.rel, stream, as: to });
  };
  const rename = (c: Claim, key: string): void => {
    const parentOut = parentOf(outRel(c));
    const tag = (ctx.streamsOf(c)[0] ?? `source${c.src}`).replace(/[^A-Za-z0-9_.-]/g, '_');
    for (let n = 1; ; n++) {
      const name = taggedName(baseOf(c.rel), n === 1 ? tag : `${tag}.${n}`, c.kind === 'dir');
      const newKey = join(parentOf(key), fold(name));
      if (groups.has(newKey) || freshKeys.has(newKey) || ctx.nameTaken(parentOut, fold(name))) continue;
      freshKeys.add(newKey);
      let ren = renamedAt.get(c.src);
      if (ren === undefined) renamedAt.set(c.src, (ren = new Map()));
      ren.set(c.rel, join(parentOut, name));
      emit(c, true);
      return;
    }
  };

  for (const key of [...groups.keys()].sort()) {
    const live: Claim[] = [];
    for (const c of groups.get(key) ?? []) {
      if (underAny(c.rel, dropped.get(c.src))) continue;
      if (underAny(c.rel, renamedAt.get(c.src))) emit(c, true);
      else live.push(c);
    }
    const first = live[0];
    if (first === undefined) continue;
    let occupants: Claim[] = [first];
    const replacedTarget: Claim[] = [];
    const versions: Claim[] = [first];
    let conflicted = false;
    let hard = false;
    let policy: ConflictPolicy | undefined;
    for (const c of live.slice(1)) {
      const occ = occupants[0] ?? first;
      if (sameContent(occ, c) || (versions.length > 1 && versions.some((v) => sameContent(v, c)))) {
        occupants.push(c);
        continue;
      }
      conflicted = true;
      policy ??= ctx.policyOf(outRel(first));
      switch (policy) {
        case 'fail':
        case 'first':
          drop(c);
          break;
        case 'three-way':
          if (first.kind === 'file' && c.kind === 'file' && ctx.canMergeText?.(outRel(first), first, c) === true) {
            versions.push(c);
          } else {
            drop(c);
            hard = true;
          }
          break;
        case 'last':
          for (const o of occupants) {
            drop(o);
            if (o.src < 0) replacedTarget.push(o);
          }
          occupants = [c];
          break;
        case 'keep-both':
          rename(c, key);
          break;
        default:
          return unreachable(policy);
      }
    }
    const winner = occupants[0] ?? first;
    if (conflicted) {
      const conflict = { path: outRel(first), streams: [...new Set(live.flatMap((c) => ctx.streamsOf(c)))] };
      plan.conflicts.push(conflict);
      if (policy === 'fail' || (hard && ctx.allowConflicts !== true)) plan.blocked.push(conflict.path);
      const last = versions[versions.length - 1];
      if (versions.length > 1 && last?.entry !== undefined) {
        const write: PlannedWrite = { entry: last.entry, outRel: conflict.path, src: last.src };
        plan.writes.push(write);
        plan.textMerges.push({ write, inputs: versions, conflict, hard });
      }
    }
    canonical.set(key, baseOf(first.rel)); // a path keeps the name it was first given
    if (versions.length > 1) continue;
    for (const t of replacedTarget) {
      if ((t.kind === 'dir') !== (winner.kind === 'dir')) plan.removals.push(t.rel);
    }
    if (winner.kind !== 'dir') emit(winner, false);
    else if (!occupants.some((o) => o.src < 0)) {
      const explicit = occupants.find((o) => o.entry !== undefined);
      if (explicit !== undefined) emit(explicit, false);
    }
  }
  return plan;
}
