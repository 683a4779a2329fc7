import { describe, expect, it } from '@jest/globals';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPlanFile, parsePlan } from '../../src/plan/load.js';
import { DEFAULTS } from '../../src/plan/types.js';
import { valid, yaml } from './helpers.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../../fixtures/plans/${name}`, import.meta.url));

describe('valid plans', () => {
  it('loads the plan of SPEC §2 exactly as written', async () => {
    const r = await loadPlanFile(fixture('spec-example.yaml'));
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    const plan = r.value;
    expect(plan.file).toBe(fixture('spec-example.yaml'));
    expect(plan.dir).toBe(dirname(fixture('spec-example.yaml')));
    expect(plan.text).toContain('name: feature-x');
    expect(plan.name).toBe('feature-x');
    expect(plan.coordination).toEqual({
      convergenceType: 'progressive',
      isolation: { workspace: 'isolated', fileAccess: 'exclusive_write' },
      stateManagement: { type: 'centralized' },
      protocols: ['registration', 'heartbeat', 'negotiation', 'consensus'],
    });
    expect(plan.workspaceRoot).toBe('/tmp/streams');
    expect(plan.points).toEqual([
      {
        name: 'initial_analysis',
        type: 'barrier',
        streams: ['research', 'planning'],
        timeoutMs: 300_000,
        onConflict: 'fail',
        allowConflicts: false,
        keepGoing: false,
        checkpointKeep: 10,
        pos: { line: 16, col: 7 },
      },
    ]);
    expect(plan.stateManagement).toEqual({ manager: 'centralized', checkpointIntervalMs: 300_000, keepVersions: 100, durable: false });
    expect(plan.heartbeat).toEqual({ intervalMs: 60_000, timeoutMs: 600_000, source: 'any' });
    expect(plan.guardian).toEqual({ autoInvoke: true, graceMs: 30_000, maxRestarts: 1, soft: 'SIGTERM', command: null });
    expect({ ...plan.resources }).toEqual({ api_slots: 3, gpu: 1 });
    expect(plan.streams.map((s) => s.id)).toEqual(['research', 'planning', 'code_stream']);
    const [research, planning, code] = plan.streams;
    expect(research?.command).toBe('claude -p "Survey the code base and write notes/analysis.md"');
    expect(research?.capabilities).toEqual(['research']);
    expect({ ...research?.resources }).toEqual({ api_slots: 1 });
    expect(research?.outputs).toEqual(['notes/**']);
    expect(research?.pos).toEqual({ line: 34, col: 5 });
    expect(planning?.command).toEqual(['node', 'plan.js']);
    expect(planning?.dependsOn).toEqual([]);
    expect(code).toMatchObject({
      command: './implement.sh',
      workspace: '/tmp/streams/code',
      dependsOn: ['initial_analysis'],
      convergence: 'progressive',
      timeoutMs: 1_800_000,
      retries: 2,
      isolation: 'isolated',
    });
  });

  it("loads the original design's two template sections", async () => {
    const r = await loadPlanFile(fixture('original-templates.yaml'));
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    const plan = r.value;
    expect(plan.coordination.convergenceType).toBe('barrier');
    expect(plan.coordination.stateManagement.type).toBe('immutable');
    expect(plan.stateManagement).toEqual({ manager: 'centralized', checkpointIntervalMs: 300_000, keepVersions: 100, durable: false });
    expect(plan.guardian.autoInvoke).toBe(true);
    // A point without `streams` gathers every stream that does not wait for it.
    expect(plan.points).toEqual([
      expect.objectContaining({ name: 'initial_analysis', type: 'barrier', timeoutMs: 300_000, streams: ['code_stream', 'test_stream'] }),
    ]);
  });

  it('fills every default for a minimal plan', () => {
    const plan = valid(yaml('streams:', '  - id: only', '    command: echo hi'));
    expect(plan).toMatchObject({
      version: 1,
      name: DEFAULTS.name,
      file: '/work/p/plan.yaml',
      dir: '/work/p',
      coordination: {
        convergenceType: DEFAULTS.convergenceType,
        isolation: { workspace: DEFAULTS.workspace, fileAccess: DEFAULTS.fileAccess },
        stateManagement: { type: DEFAULTS.stateType },
        protocols: DEFAULTS.protocols,
      },
      workspaceRoot: DEFAULTS.workspaceRoot,
      points: [],
      stateManagement: { manager: DEFAULTS.stateType, checkpointIntervalMs: DEFAULTS.checkpointIntervalMs },
      heartbeat: { intervalMs: DEFAULTS.heartbeatIntervalMs, timeoutMs: DEFAULTS.heartbeatTimeoutMs, source: DEFAULTS.heartbeatSource },
      guardian: { autoInvoke: DEFAULTS.guardianAutoInvoke, graceMs: DEFAULTS.guardianGraceMs, maxRestarts: DEFAULTS.guardianMaxRestarts, command: null },
    });
    expect(Object.keys(plan.resources)).toEqual([]);
    const s = plan.streams[0];
    expect(s).toMatchObject({ id: 'only', command: 'echo hi', dependsOn: [], capabilities: [], outputs: [], isolation: 'isolated', retries: 0 });
    expect(s?.workspace).toBeUndefined();
    expect(s?.timeoutMs).toBeUndefined();
    expect(s?.convergence).toBeUndefined();
    expect(s?.pos).toEqual({ line: 2, col: 5 });
  });

  it('resolves relative paths against the plan directory and converts values', () => {
    const plan = valid(
      yaml(
        'stream_configuration:',
        '  coordination:',
        '    isolation: { workspace: hybrid }',
        '    state_management: { type: message_queue }',
        'agent_coordination:',
        '  workspace_root: ws',
        '  heartbeat: { interval: 500ms, timeout: "90", source: file }',
        '  recovery: { guardian: { grace: 1.5, command: [notify, --stall] } }',
        'streams:',
        '  - id: a',
        '    command: x',
        '    workspace: ../elsewhere/a',
        '    base: seed',
        '    timeout: 1h',
        '    env: { N: 3, B: true, S: text, F: 1.5 }',
        '  - id: b',
        '    command: y',
        '    isolation: shared',
      ),
    );
    expect(plan.workspaceRoot).toBe('/work/p/ws');
    expect(plan.heartbeat).toEqual({ intervalMs: 500, timeoutMs: 90_000, source: 'file' });
    expect(plan.guardian).toMatchObject({ graceMs: 1500, command: ['notify', '--stall'] });
    expect(plan.stateManagement.manager).toBe('message_queue');
    const [a, b] = plan.streams;
    expect(a).toMatchObject({ workspace: '/work/elsewhere/a', base: '/work/p/seed', timeoutMs: 3_600_000, isolation: 'hybrid' });
    expect({ ...a?.env }).toEqual({ N: '3', B: 'true', S: 'text', F: '1.5' });
    expect(Object.getPrototypeOf(a?.env)).toBeNull();
    expect(b?.isolation).toBe('shared');
  });

  it('derives a point type from its streams, else from the plan default', () => {
    const plan = valid(
      yaml(
        'stream_configuration: { coordination: { convergence_type: checkpoint } }',
        'agent_coordination:',
        '  convergence_points:',
        '    - { name: p1, streams: [a, b] }',
        '    - { name: p2, streams: [c] }',
        '    - { name: p3, streams: [a], type: barrier, on_conflict: keep-both }',
        'streams:',
        '  - { id: a, command: x, convergence: barrier }',
        '  - { id: b, command: x }',
        '  - { id: c, command: x }',
      ),
    );
    expect(plan.points.map((p) => [p.name, p.type, p.onConflict])).toEqual([
      ['p1', 'barrier', 'fail'],
      ['p2', 'checkpoint', 'fail'],
      ['p3', 'barrier', 'keep-both'],
    ]);
  });

  it('ignores x- extension keys', () => {
    const plan = valid(yaml('x-common: &c { retries: 1 }', 'streams:', '  - id: a', '    command: x', '    x-note: hi', '    retries: 1'));
    expect(plan.streams[0]?.retries).toBe(1);
  });

  it('names a point without a name and resolves implicit members acyclically', () => {
    const plan = valid(
      yaml(
        'agent_coordination:',
        '  convergence_points:',
        '    - type: barrier',
        '    - name: second',
        'streams:',
        '  - { id: a, command: x, depends_on: [point_1] }',
        '  - { id: b, command: x, depends_on: [second] }',
        '  - { id: c, command: x }',
      ),
    );
    expect(plan.points.map((p) => [p.name, p.streams])).toEqual([
      ['point_1', ['b', 'c']],
      ['second', ['c']],
    ]);
  });

  it('accepts a plan given without a file name', () => {
    const r = parsePlan('streams: [{ id: a, command: x }]', '', { cwd: '/somewhere' });
    expect(r.ok && r.value.file).toBe('');
    expect(r.ok && r.value.dir).toBe('/somewhere');
  });

  it('reports a missing file as one diagnostic at 1:1', async () => {
    const r = await loadPlanFile('/nonexistent/dir/plan.yaml');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toEqual([{ file: '/nonexistent/dir/plan.yaml', line: 1, col: 1, message: 'cannot read the plan file: no such file' }]);
    }
  });
});
