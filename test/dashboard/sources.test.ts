/** The dashboard's view of the shared state: the newest change-log entries, oldest first. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStateVersions } from '../../src/dashboard/sources.js';
import { FileBackend } from '../../src/backend/file/file-backend.js';
import { StateStore } from '../../src/state/store.js';
import { runRecord } from '../backend/contract.js';

let dir: string;
let backend: FileBackend;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coord-dash-'));
  backend = new FileBackend(join(dir, '.coord'));
  await backend.createRun(runRecord('r', new Date().toISOString()), '');
});
afterEach(async () => {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('dashboard sources', () => {
  it('shows nothing for a run whose state never changed', async () => {
    expect(await readStateVersions(backend, 'r', 0)).toEqual([]);
  });

  it('reads the newest 200 versions from the change log, oldest first', async () => {
    const s = new StateStore(backend, 'r', { stream: 'a', onEvent: () => undefined });
    for (let i = 1; i <= 205; i++) await s.set('x.y', i);
    const v = await readStateVersions(backend, 'r', 205);
    expect(v).toHaveLength(200);
    expect(v[0]).toMatchObject({ version: 6, stream: 'a', op: 'set', keys: ['x.y'] });
    expect(v.at(-1)?.version).toBe(205);
  });
});
