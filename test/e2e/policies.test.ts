/** Conflict policies through the CLI: first, last, keep-both, three-way (clean, conflicting, allowed), per-path rules. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rig, fixture } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

/** Two streams writing the same files; `second` finishes after `first` (it waits for it). */
function twoWriters(onConflict: unknown, first: string[], second: string[], extra: Record<string, unknown> = {}) {
  rig.writePlan({
    agent_coordination: { convergence_points: [{ name: 'p', type: 'barrier', streams: ['first', 'second'], on_conflict: onConflict, ...extra }] },
    streams: [
      { id: 'first', command: fixture('write-files.js', ...first) },
      { id: 'second', depends_on: ['first'], command: fixture('write-files.js', ...second) },
    ],
  });
}

const merged = (rel: string) => readFileSync(join(rig.runDir(), 'converged', 'p', rel), 'utf8');

describe('on_conflict', () => {
  it('first keeps the version of the stream that finished first; last the one that finished last', async () => {
    twoWriters('first', ['x.txt=one'], ['x.txt=two']);
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    expect(merged('x.txt')).toBe('one\n');
    twoWriters('last', ['x.txt=one'], ['x.txt=two']);
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    expect(merged('x.txt')).toBe('two\n');
  });

  it('keep-both writes the later version as name.<stream>.ext', async () => {
    twoWriters('keep-both', ['docs/a.md=one'], ['docs/a.md=two']);
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    expect(merged('docs/a.md')).toBe('one\n');
    expect(merged('docs/a.second.md')).toBe('two\n');
  });

  it('per-path rules: the first matching glob decides, default the rest', async () => {
    twoWriters({ default: 'fail', paths: { '**/*.md': 'keep-both', '*.lock': 'last' } }, ['d/n.md=1', 'y.lock=1'], ['d/n.md=2', 'y.lock=2']);
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    expect(merged('d/n.second.md')).toBe('2\n');
    expect(merged('y.lock')).toBe('2\n');
    twoWriters({ default: 'fail', paths: { '**/*.md': 'keep-both' } }, ['n.md=1', 'c.json=1'], ['n.md=2', 'c.json=2']);
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1); // c.json falls to the default: fail
    expect(existsSync(join(rig.runDir(), 'converged', 'p'))).toBe(false);
  });
});

describe('three-way', () => {
  const doc = 'title\nalpha\nbeta\ngamma\nend\n';
  function plan(edits: [string, string], extra: Record<string, unknown> = {}) {
    mkdirSync(join(rig.dir, 'base'), { recursive: true });
    writeFileSync(join(rig.dir, 'base', 'doc.txt'), doc);
    rig.writePlan({
      stream_configuration: { base: './base' },
      agent_coordination: { convergence_points: [{ name: 'p', type: 'barrier', streams: ['a', 'b'], on_conflict: 'three-way', ...extra }] },
      streams: [
        { id: 'a', command: `sed -i '${edits[0]}' doc.txt` },
        { id: 'b', depends_on: ['a'], command: `sed -i '${edits[1]}' doc.txt` },
      ],
    });
  }

  it('combines edits of different lines against the common base', async () => {
    plan(['s/alpha/ALPHA/', 's/gamma/GAMMA/']);
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    expect(merged('doc.txt')).toBe('title\nALPHA\nbeta\nGAMMA\nend\n');
  });

  it('leaves markers on overlapping edits, lists the path and fails the point', async () => {
    plan(['s/beta/from a/', 's/beta/from b/']);
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(1);
    const conflict = rig.events().find((e) => e.type === 'point-conflict') as unknown as { conflicts: Array<{ path: string }> };
    expect(conflict.conflicts.map((c) => c.path)).toEqual(['doc.txt']);
    expect(rig.events().find((e) => e.type === 'point-failed')).toMatchObject({ point: 'p', reason: 'conflict' });
  });

  it('with allow_conflicts publishes the merge with git-style markers', async () => {
    plan(['s/beta/from a/', 's/beta/from b/'], { allow_conflicts: true });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    expect(merged('doc.txt')).toBe('title\nalpha\n<<<<<<< a\nfrom a\n=======\nfrom b\n>>>>>>> b\ngamma\nend\n');
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as { convergence: Array<{ state: string; conflicts: string[] }> };
    expect(status.convergence[0]).toMatchObject({ state: 'done', conflicts: ['doc.txt'] });
  });
});
