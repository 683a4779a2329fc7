/** The dashboard's reader of `state/`: what it understands, and "none" for the rest. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStateVersions } from '../../src/dashboard/sources.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'coord-dash-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('dashboard sources', () => {
  it('shows nothing for a run without state/', () => {
    expect(readStateVersions(dir)).toEqual([]);
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
