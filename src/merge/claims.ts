/**
 * Builds the planner's input (resolve.ts): one claim per source entry and per directory its
 * paths imply, the target's current content where a source touches it, and the content
 * facts (sizes, digests, link texts) needed to tell identical from conflicting.
 */
import fs from 'node:fs';
import path from 'node:path';
import { digestFile } from '../workspace/content.js';
import type { Claim, ClaimKind } from './resolve.js';
import { fsErrorCode } from '../workspace/root.js';
import type { Ticker } from '../workspace/ticker.js';
import type { FileEntry } from '../workspace/walk.js';

/** Folded key → claims, in completion order. */
export type Groups = Map<string, Claim[]>;

const join = (parent: string, name: string): string => (parent === '' ? name : `${parent}/${name}`);

function push(groups: Groups, key: string, claim: Claim): void {
  const list = groups.get(key);
  if (list === undefined) groups.set(key, [claim]);
  else list.push(claim);
}

/** Adds source `src`'s entries, and one `dir` claim per directory their paths imply. */
export function addSourceClaims(groups: Groups, src: number, entries: readonly FileEntry[], fold: (n: string) => string): void {
  const dirKeys = new Map<string, string>([['', '']]);
  for (const e of entries) {
    const cut = e.rel.lastIndexOf('/');
    const parentRel = cut < 0 ? '' : e.rel.slice(0, cut);
    let parentKey = dirKeys.get(parentRel);
    if (parentKey === undefined) {
      let own = '';
      let key = '';
      for (const part of parentRel.split('/')) {
        own = join(own, part);
        key = join(key, fold(part));
        if (!dirKeys.has(own)) {
          dirKeys.set(own, key);
          push(groups, key, { src, rel: own, kind: 'dir' });
        }
      }
      parentKey = key;
    }
    const claim: Claim = { src, rel: e.rel, kind: e.kind, entry: e, size: e.size };
    if (e.linkTarget !== undefined) claim.linkTarget = e.linkTarget;
    push(groups, join(parentKey, fold(e.rel.slice(cut + 1))), claim);
  }
}

function kindOf(d: fs.Dirent | fs.Stats): ClaimKind {
  if (d.isDirectory()) return 'dir';
  if (d.isFile()) return 'file';
  if (d.isSymbolicLink()) return 'symlink';
  return 'special';
}

/** A target directory's names: folded name → actual name and kind. */
export type Listing = Map<string, { name: string; kind: ClaimKind }>;

/**
 * Adds, at the front of each group a source touches, what the target already holds there
 * (found by listing the target's directories, so case-folded names are found on any file
 * system). Returns the listings read, keyed by the directory's path relative to the target.
 * With `keep`, only keys it accepts are claimed (a change-set merge claims only what earlier
 * merges wrote: the rest of the target is the base, which any change replaces).
 */
export function addTargetClaims(groups: Groups, target: string, fold: (n: string) => string, keep?: (key: string) => boolean): Map<string, Listing> {
  const listings = new Map<string, Listing>();
  const list = (rel: string): Listing => {
    let l = listings.get(rel);
    if (l !== undefined) return l;
    l = new Map();
    try {
      const dirents = fs.readdirSync(path.join(target, rel), { withFileTypes: true });
      dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const d of dirents) {
        const k = fold(d.name);
        if (!l.has(k)) l.set(k, { name: d.name, kind: kindOf(d) });
      }
    } catch (e) {
      if (fsErrorCode(e) !== 'ENOENT' && fsErrorCode(e) !== 'ENOTDIR') throw e;
    }
    listings.set(rel, l);
    return l;
  };
  const found = new Map<string, Claim>();
  for (const key of [...groups.keys()].sort()) {
    const cut = key.lastIndexOf('/');
    let parentRel = '';
    if (cut >= 0) {
      const parent = found.get(key.slice(0, cut));
      if (parent === undefined || parent.kind !== 'dir') continue;
      parentRel = parent.rel;
    }
    const hit = list(parentRel).get(key.slice(cut + 1));
    if (hit === undefined || (keep !== undefined && !keep(key))) continue;
    const rel = join(parentRel, hit.name);
    const claim: Claim = { src: -1, rel, kind: hit.kind, abs: path.join(target, rel) };
    found.set(key, claim);
    groups.get(key)?.unshift(claim);
  }
  return listings;
}

/**
 * Fills in what equality needs where a key has more than one claim: target files' sizes and
 * links' texts, and digests of files that share a key and a size (nothing else is read).
 */
export async function settleContent(groups: Groups, ticker: Ticker): Promise<void> {
  for (const claims of groups.values()) {
    if (claims.length < 2) continue;
    for (const c of claims) {
      if (c.src >= 0 || c.abs === undefined || (c.kind !== 'file' && c.kind !== 'symlink')) continue;
      const st = fs.lstatSync(c.abs);
      c.kind = kindOf(st);
      if (c.kind === 'file') c.size = st.size;
      if (c.kind === 'symlink') c.linkTarget = fs.readlinkSync(c.abs);
    }
    const files = claims.filter((c) => c.kind === 'file');
    if (files.length < 2) continue;
    const perSize = new Map<number, number>();
    for (const f of files) perSize.set(f.size ?? -1, (perSize.get(f.size ?? -1) ?? 0) + 1);
    for (const f of files) {
      const size = f.size ?? -1;
      if (size <= 0 || (perSize.get(size) ?? 0) < 2 || f.digest !== undefined) continue;
      const abs = f.entry?.abs ?? f.abs;
      if (abs !== undefined) f.digest = await digestFile(abs, f.entry ?? {}, ticker);
    }
  }
}
