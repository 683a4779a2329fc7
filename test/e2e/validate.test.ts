/** Plan errors through the CLI: every error with its place, exit 2, nothing started or left behind. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Rig } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

const BAD = `version: 1
streams:
  - id: a
    command: touch ran-a
    depends_on: [ghost]
  - id: a
    command: touch ran-a2
  - id: ../escape
    command: true
  - id: b
    command: true
    timeout: 5 minutes
    retries: -1
  - id: c
    command: true
    depends_on: [d]
  - id: d
    command: true
    depends_on: [c]
agent_coordination:
  convergence_points:
    - name: p
      streams: [a, nobody]
`;

describe('coord validate / run on a bad plan', () => {
  it('reports every error as PLAN:LINE:COL with a caret, exits 2, starts nothing', async () => {
    rig.writePlan(BAD);
    for (const cmd of ['validate', 'run']) {
      const r = await rig.coord([cmd, 'plan.yaml']);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      const err = r.stderr;
      expect(err).toMatch(/plan\.yaml:5:\d+: .*unknown dependency "ghost"/);
      expect(err).toMatch(/plan\.yaml:6:\d+: .*duplicate .*"a"/);
      expect(err).toMatch(/plan\.yaml:8:\d+: .*\.\.\/escape/);
      expect(err).toMatch(/plan\.yaml:12:\d+: .*5 minutes/);
      expect(err).toMatch(/plan\.yaml:13:\d+: .*retries/);
      expect(err).toMatch(/cycle: (c -> d -> c|d -> c -> d)/);
      expect(err).toMatch(/"nobody"/);
      expect(err).toMatch(/\n\s+\|\s+\^/); // a caret line
      expect(err).not.toMatch(/at .*\.js:\d+/); // no stack trace
    }
    expect(existsSync(rig.home)).toBe(false);
    expect(existsSync(rig.workspaceRoot)).toBe(false);
    expect(existsSync(join(rig.dir, 'ran-a'))).toBe(false);
  });

  it('refuses an unknown soft signal', async () => {
    rig.writePlan({ agent_coordination: { recovery: { guardian: { soft: 'SIGKILL' } } }, streams: [{ id: 'x', command: 'true' }] });
    const r = await rig.coord(['validate', 'plan.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/plan\.yaml:\d+:\d+: agent_coordination\.recovery\.guardian\.soft: .*SIGTERM/);
  });

  it('refuses ".." in a stream id or a point name as PLAN:LINE:COL, exit 2', async () => {
    rig.writePlan('streams:\n  - id: a..b\n    command: "true"\nagent_coordination:\n  convergence_points:\n    - name: up..down\n      streams: [a..b]\n');
    for (const cmd of ['validate', 'run']) {
      const r = await rig.coord([cmd, 'plan.yaml']);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
      expect(r.stderr).toContain('plan.yaml:2:9: streams[0].id: id "a..b" must not contain ".."');
      expect(r.stderr).toContain('plan.yaml:6:13: agent_coordination.convergence_points[0].name: id "up..down" must not contain ".."');
    }
    expect(existsSync(rig.home)).toBe(false);
  });

  it('prints ok for a good plan', async () => {
    rig.writePlan({ streams: [{ id: 'x', command: 'true' }] });
    const r = await rig.coord(['validate', 'plan.yaml']);
    expect(r).toMatchObject({ code: 0, stdout: 'ok\n' });
  });

  it('refuses an alias bomb and __proto__ keys', async () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill('*' + String.fromCharCode(96 + i))
          .join(',')}]`,
      );
    bomb.push('streams: [{id: x, command: "true"}]');
    rig.writePlan(bomb.join('\n') + '\n', 'bomb.yaml');
    const r = await rig.coord(['validate', 'bomb.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bomb\.yaml:\d+:\d+: .*alias/i);
    rig.writePlan('streams:\n  - id: x\n    command: "true"\n    env:\n      __proto__: {polluted: 1}\n', 'proto.yaml');
    const p = await rig.coord(['validate', 'proto.yaml']);
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/proto\.yaml:5:7: .*__proto__/);
  });

  it('exits 2 on bad usage and on a missing plan file', async () => {
    expect((await rig.coord(['run'])).code).toBe(2);
    expect((await rig.coord(['frobnicate'])).code).toBe(2);
    expect((await rig.coord(['run', 'plan.yaml', '--concurrency', '0'])).code).toBe(2);
    const missing = await rig.coord(['run', 'nope.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.yaml');
  });
});
