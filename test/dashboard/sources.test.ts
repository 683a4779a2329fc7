/** The dashboard's readers of `locks/` and `state/`: what they understand, and "none" for the rest. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLocks, readStateVersions } from '../../src/dashboard/sources.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'coord-dash-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('dashboard sources', () => {
  it('shows nothing for a run without locks/ or state/', () => {
    expect(readLocks(dir)).toEqual([]);
    expect(readStateVersions(dir)).toEqual([]);
  });

  it('reads locks one a file or as a whole document, skipping what it cannot read', () => {
    mkdirSync(join(dir, 'locks'));
    const since = '2026-01-01T00:00:00.000Z';
    writeFileSync(join(dir, 'locks', 'b.json'), JSON.stringify({ path: 'src/b.ts', mode: 'read', holders: [{ owner: 'x', pid: 5, since, token: 2 }, 'junk'], waiters: [{ owner: 'y', mode: 'write', since }] }));
    writeFileSync(join(dir, 'locks', 'all.json'), JSON.stringify({ locks: [{ path: 'a.txt', holders: [], waiters: [] }] }));
    writeFileSync(join(dir, 'locks', 'torn.json'), '{"path":');
    writeFileSync(join(dir, 'locks', 'notes.txt'), 'not a lock');
    symlinkSync('/etc/hostname', join(dir, 'locks', 'link.json'));
    expect(readLocks(dir)).toEqual([
      { path: 'a.txt', mode: null, holders: [], waiters: [] },
      {
        path: 'src/b.ts',
        mode: 'read',
        holders: [{ owner: 'x', pid: 5, since, token: 2 }],
        waiters: [{ owner: 'y', pid: null, mode: 'write', since }],
      },
    ]);
  });

  it('reads state versions from change logs and records, oldest first, merged by version', () => {
    mkdirSync(join(dir, 'state'));
    const line = (v: Record<string, unknown>): string => JSON.stringify(v) + '\n';
    writeFileSync(join(dir, 'state', 'changes.jsonl'), line({ version: 2, stream: 'a', time: 't2', keys: ['x.y'] }) + 'torn{\n' + line({ version: 1, stream: 'b', time: 't1', keys: ['z'] }));
    writeFileSync(join(dir, 'state', 'current.json'), JSON.stringify({ version: 2, data: { x: { y: 1 } } }));
    writeFileSync(join(dir, 'state', 'other.json'), JSON.stringify({ name: 'no version' }));
    expect(readStateVersions(dir)).toEqual([
      { version: 1, stream: 'b', time: 't1', keys: ['z'] },
      { version: 2, stream: 'a', time: 't2', keys: ['x.y'] },
    ]);
  });
});
