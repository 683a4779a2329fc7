/** Modify/delete settling: which deletions happen, which entries a winning deletion drops, per policy. */
import { describe, expect, it } from '@jest/globals';
import { settleDeletions, type DeletionInput, type PriorPaths } from '../../src/merge/deletions.js';
import type { FileEntry } from '../../src/workspace/walk.js';
import type { ConflictPolicy } from '../../src/plan/types.js';

const entry = (rel: string): FileEntry => ({ rel, abs: `/ws/${rel}`, kind: 'file', size: 1 }) as FileEntry;
const src = (stream: string, entries: string[], deleted: string[] = []): DeletionInput => ({ stream, entries: entries.map(entry), deleted });
const same = (rel: string): string => rel;
const lower = (rel: string): string => rel.toLowerCase();
const prior = (written: Record<string, string[]> = {}, deleted: Record<string, string[]> = {}): PriorPaths => ({
  written: new Map(Object.entries(written).map(([rel, streams]) => [rel, { rel, streams }])),
  deleted: new Map(Object.entries(deleted).map(([rel, streams]) => [rel, { rel, streams }])),
});
const settle = (sources: DeletionInput[], policy: ConflictPolicy, p?: PriorPaths, allow = false, fold = same) =>
  settleDeletions(sources, p, () => policy, fold, allow);
const dropped = (o: { dropped: Array<Set<string>> }) => o.dropped.map((s) => [...s].sort());

describe('uncontested deletions', () => {
  it('happen, once per path, sorted by path, with every stream that deleted them', () => {
    const o = settle([src('a', ['keep.txt'], ['m.txt', 'z.txt', 'b.txt']), src('b', [], ['m.txt'])], 'fail');
    expect(o.effective).toEqual([
      { rel: 'b.txt', key: 'b.txt', streams: ['a'] },
      { rel: 'm.txt', key: 'm.txt', streams: ['a', 'b'] },
      { rel: 'z.txt', key: 'z.txt', streams: ['a'] },
    ]);
    expect(o.conflicts).toEqual([]);
    expect(o.blocked).toEqual([]);
    expect(dropped(o)).toEqual([[], []]);
  });

  it('sort by folded key whatever order the sources list them in', () => {
    const o = settle([src('a', [], ['c', 'a']), src('b', [], ['d', 'b'])], 'first');
    expect(o.effective.map((e) => e.key)).toEqual(['a', 'b', 'c', 'd']);
  });

  it("name only this merge's deleters when an earlier merge deleted the path too", () => {
    const o = settle([src('a', [], ['x.txt'])], 'first', prior({}, { 'x.txt': ['p'] }));
    expect(o.effective).toEqual([{ rel: 'x.txt', key: 'x.txt', streams: ['a'] }]);
    expect(o.conflicts).toEqual([]);
  });

  it("an earlier merge's deletion of a path nobody touches now changes nothing", () => {
    const o = settle([src('a', ['y.txt'], ['x.txt'])], 'first', prior({}, { 'other.txt': ['p'] }));
    expect(o.effective).toEqual([{ rel: 'x.txt', key: 'x.txt', streams: ['a'] }]);
    expect(o.conflicts).toEqual([]);
    expect(dropped(o)).toEqual([[]]);
  });

  it('a write elsewhere in the tree does not contest a deletion', () => {
    const o = settle([src('a', [], ['x.txt']), src('b', ['x.txt.bak', 'dir/x.txt'])], 'fail');
    expect(o.blocked).toEqual([]);
    expect(o.effective.map((e) => e.rel)).toEqual(['x.txt']);
  });
});

describe('a deletion against a write in the same merge', () => {
  const delFirst = () => [src('a', [], ['x.txt']), src('b', ['x.txt', 'other.txt'])];
  const writeFirst = () => [src('a', ['x.txt']), src('b', [], ['x.txt'])];

  it('fail blocks and records the conflict with both streams', () => {
    const o = settle(delFirst(), 'fail');
    expect(o.blocked).toEqual(['x.txt']);
    expect(o.conflicts).toEqual([{ path: 'x.txt', streams: ['a', 'b'] }]);
    expect(o.effective).toEqual([]);
    expect(dropped(o)).toEqual([[], []]);
  });

  it('three-way blocks without allowConflicts', () => {
    const o = settle(delFirst(), 'three-way');
    expect(o.blocked).toEqual(['x.txt']);
    expect(o.effective).toEqual([]);
  });

  it.each([
    ['first', true],
    ['three-way', true],
    ['last', false],
    ['keep-both', false],
  ] as const)('deleter first, %s: the deletion wins = %s', (policy, wins) => {
    const o = settle(delFirst(), policy, undefined, true);
    expect(o.blocked).toEqual([]);
    expect(o.conflicts).toEqual([{ path: 'x.txt', streams: ['a', 'b'] }]);
    if (wins) {
      expect(o.effective).toEqual([{ rel: 'x.txt', key: 'x.txt', streams: ['a'] }]);
      expect(dropped(o)).toEqual([[], ['x.txt']]);
    } else {
      expect(o.effective).toEqual([]);
      expect(dropped(o)).toEqual([[], []]);
    }
  });

  it.each([
    ['first', false],
    ['three-way', false],
    ['last', true],
    ['keep-both', false],
  ] as const)('writer first, %s: the deletion wins = %s', (policy, wins) => {
    const o = settle(writeFirst(), policy, undefined, true);
    expect(o.conflicts).toEqual([{ path: 'x.txt', streams: ['a', 'b'] }]);
    if (wins) {
      expect(o.effective).toEqual([{ rel: 'x.txt', key: 'x.txt', streams: ['b'] }]);
      expect(dropped(o)).toEqual([['x.txt'], []]);
    } else {
      expect(o.effective).toEqual([]);
      expect(dropped(o)).toEqual([[], []]);
    }
  });

  it("a winning deletion drops the writer's entry under its own spelling when paths fold", () => {
    const o = settle([src('a', [], ['readme.md']), src('b', ['notes.md', 'README.md'])], 'first', undefined, false, lower);
    expect(o.conflicts).toEqual([{ path: 'readme.md', streams: ['a', 'b'] }]);
    expect(o.effective).toEqual([{ rel: 'readme.md', key: 'readme.md', streams: ['a'] }]);
    expect(dropped(o)).toEqual([[], ['README.md']]);
  });

  it('agreeing deleters and a later writer: the deletion wins under first, all deleters named', () => {
    const o = settle([src('a', [], ['x']), src('b', [], ['x']), src('c', ['x'])], 'first');
    expect(o.conflicts).toEqual([{ path: 'x', streams: ['a', 'b', 'c'] }]);
    expect(o.effective).toEqual([{ rel: 'x', key: 'x', streams: ['a', 'b'] }]);
    expect(dropped(o)).toEqual([[], [], ['x']]);
  });
});

describe('against earlier merges into a progressive target', () => {
  it('an earlier deletion of the path counts first in completion order', () => {
    const sources = [src('a', ['x.txt']), src('b', [], ['x.txt'])];
    const o = settle(sources, 'first', prior({}, { 'x.txt': ['p'] }));
    expect(o.conflicts).toEqual([{ path: 'x.txt', streams: ['p', 'a', 'b'] }]);
    // p's deletion is earliest: the writer loses its entry, the path is deleted for b's deletion
    expect(o.effective).toEqual([{ rel: 'x.txt', key: 'x.txt', streams: ['b'] }]);
    expect(dropped(o)).toEqual([['x.txt'], []]);
  });

  it('an earlier write of a deleted path contests the deletion', () => {
    const first = settle([src('a', [], ['x.txt'])], 'first', prior({ 'x.txt': ['p'] }));
    expect(first.conflicts).toEqual([{ path: 'x.txt', streams: ['p', 'a'] }]);
    expect(first.effective).toEqual([]); // the earlier write is first and stays
    const last = settle([src('a', [], ['x.txt'])], 'last', prior({ 'x.txt': ['p'] }));
    expect(last.conflicts).toEqual([{ path: 'x.txt', streams: ['p', 'a'] }]);
    expect(last.effective).toEqual([{ rel: 'x.txt', key: 'x.txt', streams: ['a'] }]);
    expect(dropped(last)).toEqual([[]]);
  });

  it('an earlier write under fail blocks the deletion', () => {
    const o = settle([src('a', [], ['x.txt'])], 'fail', prior({ 'x.txt': ['p'] }));
    expect(o.blocked).toEqual(['x.txt']);
    expect(o.effective).toEqual([]);
  });

  it('re-creating a path an earlier merge deleted: first keeps it deleted, last and keep-both keep the write', () => {
    const p = prior({}, { 'x.txt': ['p'] });
    const sources = () => [src('a', ['other.txt']), src('b', ['x.txt'])];
    const first = settle(sources(), 'first', p);
    expect(first.conflicts).toEqual([{ path: 'x.txt', streams: ['p', 'b'] }]);
    expect(dropped(first)).toEqual([[], ['x.txt']]);
    expect(first.effective).toEqual([]); // already deleted in the target
    for (const policy of ['last', 'keep-both'] as const) {
      const o = settle(sources(), policy, p);
      expect(o.conflicts).toEqual([{ path: 'x.txt', streams: ['p', 'b'] }]);
      expect(dropped(o)).toEqual([[], []]);
      expect(o.effective).toEqual([]);
    }
    const blocked = settle(sources(), 'fail', p);
    expect(blocked.blocked).toEqual(['x.txt']);
  });

  it("an earlier deletion first and this merge's writer at position 0 loses its entry", () => {
    const o = settle([src('a', ['x']), src('b', [], ['x'])], 'three-way', prior({ x: ['w'] }, { x: ['p'] }), true);
    // claims in order: p (deleted earlier), w (written earlier), a (writes), b (deletes)
    expect(o.conflicts).toEqual([{ path: 'x', streams: ['p', 'w', 'a', 'b'] }]);
    expect(o.effective).toEqual([{ rel: 'x', key: 'x', streams: ['b'] }]);
    expect(dropped(o)).toEqual([['x'], []]);
  });
});
