import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { FileBackend } from '../../src/backend/file/file-backend.js';
import { VersionedDir } from '../../src/primitives/versioned-dir.js';
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
      id,
      state,
      attempt: 1,
      pid: 1,
      pgid: 1,
      procStartTime: null,
      exitCode: state === 'succeeded' ? 0 : null,
      signal: null,
      reason: null,
      workspace: '/w',
      capabilities: [],
      dependsOn: [],
      resources: {},
      startedAt: null,
      endedAt: null,
      lastHeartbeat: null,
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

  it('log entries of writers that died right after their commit are written by the next commit, or before their versions are removed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'coord-backend-'));
    const b = new FileBackend(join(dir, '.coord'));
    await b.createRun(runRecord('r', '2026-01-01T00:00:00.000Z'), 'x');
    const opts = (i: number) => ({ keep: 4, logs: { changes: { i }, 'topic/state': { body: `m${i}` } } });
    // what a writer killed between its commit and its log entries leaves: versions only
    const dead = new VersionedDir<{ n: number }>(join(b.runDir('r'), 'state', 'versions'), { initial: () => ({ n: 0 }), keep: 1000 });
    const dies = (i: number) => expect(dead.commit(i - 1, { n: i }, undefined, opts(i).logs)?.version).toBe(i);
    const entries = async () => (await b.logRange<{ i: number }>('r', 'changes')).map((e) => e.body.i);
    for (let i = 1; i <= 3; i++) dies(i);
    expect(await entries()).toEqual([]);
    expect((await b.docCommit('r', 'state', 3, { n: 4 }, opts(4)))?.version).toBe(4);
    expect(await entries()).toEqual([1, 2, 3, 4]);
    // more dead writers than versions are kept: the entries are written before their versions go
    for (let i = 5; i <= 40; i++) dies(i);
    expect((await b.docCommit('r', 'state', 40, { n: 41 }, opts(41)))?.version).toBe(41);
    expect((await b.docVersions('r', 'state')).length).toBeLessThanOrEqual(4);
    expect(await entries()).toEqual(Array.from({ length: 41 }, (_, i) => i + 1));
    expect((await b.logRange<{ body: string }>('r', 'topic/state')).map((e) => e.body.body)).toEqual(Array.from({ length: 41 }, (_, i) => `m${i + 1}`));
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
