/** Convergence points through the CLI: barrier, progressive, conflicts, inputs of dependents. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, fixture } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

describe('convergence', () => {
  it('barrier: merges every stream, then dependents read the result at $COORD_INPUTS/<point>', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'analysis', type: 'barrier', streams: ['research', 'planning'] }] },
      streams: [
        { id: 'research', command: fixture('write-files.js', 'notes/analysis.md=findings', 'scratch.tmp=x'), outputs: ['notes/**'] },
        { id: 'planning', command: fixture('write-files.js', 'plan/steps.md=steps') },
        { id: 'code', command: 'cat "$COORD_INPUTS/analysis/notes/analysis.md" "$COORD_INPUTS/analysis/plan/steps.md"', depends_on: ['analysis'] },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const target = join(rig.runDir(), 'converged', 'analysis');
    expect(readFileSync(join(target, 'notes', 'analysis.md'), 'utf8')).toBe('findings\n');
    expect(readFileSync(join(target, 'plan', 'steps.md'), 'utf8')).toBe('steps\n');
    expect(existsSync(join(target, 'scratch.tmp'))).toBe(false); // not in research's outputs
    expect(r.stdout).toContain('[code] findings');
    expect(r.stdout).toContain('[code] steps');
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as { convergence: Array<{ name: string; state: string; merged: string[] }> };
    expect(status.convergence[0]).toMatchObject({ name: 'analysis', state: 'done' });
    expect(status.convergence[0]?.merged.sort()).toEqual(['planning', 'research']);
  });

  it('barrier: a failed stream fails the point, merges nothing, and skips its dependents', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'both', type: 'barrier', streams: ['ok', 'broken'] }] },
      streams: [
        { id: 'ok', command: fixture('write-files.js', 'a.txt=a') },
        { id: 'broken', command: fixture('exit-with.js', '1') },
        { id: 'next', command: 'true', depends_on: ['both'] },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    expect(existsSync(join(rig.runDir(), 'converged', 'both'))).toBe(false);
    const ev = rig.events();
    expect(ev.find((e) => e.type === 'point-failed')).toMatchObject({ point: 'both', reason: 'stream-failed' });
    expect(ev.find((e) => e.type === 'stream-skipped')).toMatchObject({ stream: 'next' });
  });

  it('barrier: conflicting outputs under on_conflict fail merge nothing and list the paths', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'join', type: 'barrier', streams: ['left', 'right'] }] },
      streams: [
        { id: 'left', command: fixture('write-files.js', 'same.txt=same', 'shared/config.json=left', 'l.txt=l') },
        { id: 'right', command: fixture('write-files.js', 'same.txt=same', 'shared/config.json=right', 'r.txt=r') },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    const converged = join(rig.runDir(), 'converged');
    expect(readdirSync(converged)).toEqual([]); // nothing merged, no staging left behind
    const conflict = rig.events().find((e) => e.type === 'point-conflict') as unknown as { conflicts: Array<{ path: string; streams: string[] }> };
    expect(conflict.conflicts.map((c) => ({ path: c.path, streams: [...c.streams].sort() }))).toEqual([
      { path: 'shared/config.json', streams: ['left', 'right'] },
    ]);
    expect(r.stdout).toContain('shared/config.json');
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as { convergence: Array<{ state: string; conflicts: string[] }> };
    expect(status.convergence[0]).toMatchObject({ state: 'failed', conflicts: ['shared/config.json'] });
  });

  it('progressive: merges each stream as it succeeds; a dependent of one stream starts before the others end', async () => {
    const gate = join(rig.dir, 'gate');
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'results', type: 'progressive', streams: ['fast', 'slow'] }] },
      streams: [
        { id: 'fast', command: fixture('write-files.js', 'fast.txt=1') },
        // slow ends only after the dependent of fast has run: proof that it started early
        { id: 'slow', command: `${fixture('wait-for-file.js', gate)} && ${fixture('write-files.js', 'slow.txt=2')}` },
        { id: 'after-fast', command: `ls "$COORD_INPUTS/fast" && touch ${gate}`, depends_on: ['fast'] },
        { id: 'after-all', command: 'ls "$COORD_INPUTS/results"', depends_on: ['results'] },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('[after-fast] fast.txt');
    expect(r.stdout).toMatch(/\[after-all\] fast\.txt[\s\S]*\[after-all\] slow\.txt/);
    const merged = rig
      .events()
      .filter((e) => e.type === 'point-merged')
      .map((e) => e.stream);
    expect(merged).toEqual(['fast', 'slow']);
  });

  it('progressive: a conflicting stream contributes nothing and fails the point, which publishes nothing', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'p', type: 'progressive', streams: ['first', 'second'] }] },
      streams: [
        { id: 'first', command: fixture('write-files.js', 'x.txt=1') },
        { id: 'second', command: fixture('write-files.js', 'x.txt=2', 'extra.txt=e'), depends_on: ['first'] },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    expect(existsSync(join(rig.runDir(), 'converged', 'p'))).toBe(false);
    // what was merged before the conflict is kept aside, and the conflict's sides are written out
    const partial = join(rig.runDir(), 'partial', 'p');
    expect(readFileSync(join(partial, 'x.txt'), 'utf8')).toBe('1\n');
    expect(existsSync(join(partial, 'extra.txt'))).toBe(false);
    const material = join(rig.runDir(), 'conflicts', 'p');
    expect(readFileSync(join(material, '.coord-conflict', 'streams', 'first', 'x.txt'), 'utf8')).toBe('1\n');
    expect(readFileSync(join(material, '.coord-conflict', 'streams', 'second', 'x.txt'), 'utf8')).toBe('2\n');
  });

  it('checkpoint: a copy of running streams when they changed, an event each, the newest checkpoint_keep kept, then the final merge', async () => {
    const step = (n: number): string => join(rig.dir, `gate${n}`);
    rig.writePlan({
      agent_coordination: {
        state_management: { checkpoint_interval: '100ms' },
        convergence_points: [{ name: 'cp', type: 'checkpoint', streams: ['long'], checkpoint_keep: 2 }],
      },
      streams: [
        {
          id: 'long',
          // each version replaces the file atomically (coord write), as agents' editors do
          command: [1, 2, 3].map((n) => `echo v${n} | coord write draft.txt && ${fixture('wait-for-file.js', step(n))}`).join(' && '),
        },
      ],
    });
    const run = rig.spawn(['run', 'plan.yaml']);
    const cps = (): string => join(rig.runDir(), 'converged', 'cp', 'checkpoints');
    for (const n of [1, 2, 3]) {
      const e = await rig.waitForEvent((x) => x.type === 'point-checkpoint' && x.checkpoint === n);
      expect(e).toMatchObject({ point: 'cp', streams: ['long'], removed: n === 3 ? [1] : [] });
      expect(readFileSync(join(cps(), String(n), 'long', 'draft.txt'), 'utf8')).toBe(`v${n}\n`);
      rig.write(`gate${n}`, '');
    }
    const r = await run.done;
    expect(r.code).toBe(0);
    // every interval between the steps saw nothing new: no copy of it, no event
    expect(
      rig
        .events()
        .filter((e) => e.type === 'point-checkpoint')
        .map((e) => e.checkpoint),
    ).toEqual([1, 2, 3]);
    const target = join(rig.runDir(), 'converged', 'cp');
    expect(readFileSync(join(target, 'draft.txt'), 'utf8')).toBe('v3\n');
    expect(readdirSync(join(target, 'checkpoints')).sort()).toEqual(['2', '3']);
  });

  it('barrier timeout: the point fails, its running streams are stopped, its dependents skipped', async () => {
    rig.writePlan({
      agent_coordination: {
        recovery: { guardian: { grace: '200ms' } },
        convergence_points: [{ name: 'slow', type: 'barrier', streams: ['quick', 'stuck'], timeout: '400ms' }],
      },
      streams: [
        { id: 'quick', command: 'true' },
        { id: 'stuck', command: fixture('hang.js') },
        { id: 'after', command: 'true', depends_on: ['slow'] },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    const ev = rig.events();
    expect(ev.find((e) => e.type === 'point-failed')).toMatchObject({ point: 'slow', reason: 'point-timeout' });
    expect(ev.find((e) => e.type === 'stream-ended' && e.stream === 'stuck')).toMatchObject({ state: 'failed', reason: 'point-timeout' });
    expect(ev.find((e) => e.type === 'stream-skipped')).toMatchObject({ stream: 'after' });
    expect(existsSync(join(rig.runDir(), 'converged', 'slow'))).toBe(false);
    expect(rig.leftovers()).toEqual([]);
  });

  it('never follows a symbolic link out of a workspace', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'p', type: 'barrier', streams: ['sneaky'] }] },
      streams: [{ id: 'sneaky', command: 'ln -s / root && ln -s /etc/passwd pw && echo ok > fine.txt' }],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const target = join(rig.runDir(), 'converged', 'p');
    expect(readdirSync(target).sort()).toEqual(['fine.txt']);
    expect(rig.events().filter((e) => e.type === 'warning').length).toBe(2);
  });

  it('--rm removes succeeded workspaces once merged; coord clean removes runs', async () => {
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'p', type: 'barrier', streams: ['a'] }] },
      streams: [
        { id: 'a', command: fixture('write-files.js', 'a.txt=a') },
        { id: 'b', command: 'exit 1' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml', '--rm']);
    expect(r.code).toBe(1);
    const id = rig.runIds()[0] ?? '';
    expect(existsSync(join(rig.workspaceRoot, id, 'a'))).toBe(false);
    expect(existsSync(join(rig.workspaceRoot, id, 'b'))).toBe(true); // failed: kept for inspection
    expect(existsSync(join(rig.runDir(), 'converged', 'p', 'a.txt'))).toBe(true);
    const c = await rig.coord(['clean', id]);
    expect(c.code).toBe(0);
    expect(rig.runIds()).toEqual([]);
    expect(existsSync(join(rig.workspaceRoot, id))).toBe(false);
    rmSync(rig.workspaceRoot, { recursive: true, force: true });
  });
});
