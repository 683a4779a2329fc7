import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { FileBackend } from '../../src/backend/file/file-backend.js';
import { backendContract, runRecord } from './contract.js';

backendContract('file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'coord-backend-'));
  return { backend: new FileBackend(join(dir, '.coord')), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

describe('FileBackend specifics', () => {
  it('creates run directories private (0700) and refuses unsafe run ids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coord-backend-'));
    const b = new FileBackend(join(dir, '.coord'));
    await b.createRun(runRecord('r1', '2026-01-01T00:00:00.000Z'), 'x');
    expect(statSync(b.runDir('r1')).mode & 0o777).toBe(0o700);
    expect(() => b.runDir('../evil')).toThrow();
    expect(await b.getRun('../evil')).toBeUndefined();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
