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
  it('keeps every stream record in streams.json and a final status.json per ended stream', async () => {
    const { existsSync, readFileSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'coord-backend-'));
    const b = new FileBackend(join(dir, '.coord'));
    await b.createRun(runRecord('r1', '2026-01-01T00:00:00.000Z'), 'x');
    const rec = (id: string, state: 'running' | 'succeeded') => ({
      id, state, attempt: 1, pid: 1, pgid: 1, procStartTime: null, exitCode: state === 'succeeded' ? 0 : null, signal: null, reason: null,
      workspace: '/w', capabilities: [], dependsOn: [], resources: {}, startedAt: null, endedAt: null, lastHeartbeat: null,
    });
    await b.putStreams('r1', [rec('a', 'running'), rec('b', 'succeeded')]);
    expect(existsSync(join(b.runDir('r1'), 'streams', 'a', 'status.json'))).toBe(false);
    expect(JSON.parse(readFileSync(join(b.runDir('r1'), 'streams', 'b', 'status.json'), 'utf8'))).toMatchObject({ id: 'b', state: 'succeeded' });
    // a second reader sees what the writer wrote
    expect((await new FileBackend(join(dir, '.coord')).listStreams('r1')).map((s) => s.state)).toEqual(['running', 'succeeded']);
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

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
