/**
 * Resource negotiation: plan pools shared by plan streams' demands and `coord resource
 * acquire`, checked from the streams' own timestamps; timeouts; units freed when a holder dies.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, Rig, fixture } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

/** The most units in use at once according to `LABEL start|end MS` lines, where LABEL ends in `:UNITS`. */
function peakUse(log: string): { peak: number; labels: string[] } {
  const marks = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const [label = '', what, ms] = l.split(' ');
      return { label, units: Number(label.split(':')[1] ?? 1), start: what === 'start', ms: Number(ms) };
    });
  // at equal times an end comes first: the next holder may start in the same millisecond
  marks.sort((a, b) => a.ms - b.ms || Number(a.start) - Number(b.start));
  let use = 0;
  let peak = 0;
  for (const m of marks) {
    use += m.start ? m.units : -m.units;
    peak = Math.max(peak, use);
  }
  return { peak, labels: [...new Set(marks.map((m) => m.label))].sort() };
}

describe('resource pools', () => {
  it('a pool of 1 never runs two of its holders at once: plan streams and coord resource acquire share it', async () => {
    const log = join(rig.dir, 'held.log');
    const stamp = (label: string) => fixture('stamp.js', log, label, '150');
    rig.writePlan({
      agent_coordination: { resources: { gpu: 1 } },
      streams: [
        ...['p1', 'p2', 'p3'].map((id) => ({ id, command: stamp(`${id}:1`), resources: { gpu: 1 } })),
        ...['r1', 'r2'].map((id) => ({ id, command: `coord resource acquire gpu=1 -- ${stamp(`${id}:1`)}` })),
        { id: 'free', command: 'true' },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml', '--concurrency', '8']);
    expect(r.code).toBe(0);
    const { peak, labels } = peakUse(log);
    expect(labels).toEqual(['p1:1', 'p2:1', 'p3:1', 'r1:1', 'r2:1']);
    expect(peak).toBe(1);
    const events = rig.events();
    const granted = events.filter((e) => e.type === 'resource-granted');
    const released = events.filter((e) => e.type === 'resource-released');
    expect(granted.map((e) => `${String(e.kind)}:${String(e.owner)}`).sort()).toEqual(['acquire:r1', 'acquire:r2', 'stream:p1', 'stream:p2', 'stream:p3']);
    expect(released).toHaveLength(5);
    // every grant after the first comes after a release
    const order = events.filter((e) => e.type === 'resource-granted' || e.type === 'resource-released').map((e) => e.type);
    expect(order).toEqual(Array.from({ length: 5 }, () => ['resource-granted', 'resource-released']).flat());
    const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as { resources: unknown[] };
    expect(status.resources).toEqual([{ name: 'gpu', capacity: 1, inUse: 0, holders: [], waiters: [] }]);
  });

  it('a pool of 2 with mixed demands (plan and runtime, 1 and 2 units) finishes without deadlock or overuse', async () => {
    const log = join(rig.dir, 'held.log');
    const stamp = (label: string) => fixture('stamp.js', log, label, '100');
    rig.writePlan({
      agent_coordination: { resources: { slots: 2 } },
      streams: [
        { id: 'a', command: stamp('a:1'), resources: { slots: 1 } },
        { id: 'b', command: stamp('b:2'), resources: { slots: 2 } },
        { id: 'c', command: stamp('c:1'), resources: { slots: 1 } },
        { id: 'd', command: stamp('d:2'), resources: { slots: 2 } },
        { id: 'e', command: `coord resource acquire slots=2 -- ${stamp('e:2')}` },
        { id: 'f', command: `coord resource acquire slots=1 -- ${stamp('f:1')}` },
        { id: 'g', command: stamp('g:1'), resources: { slots: 1 } },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const { peak, labels } = peakUse(log);
    expect(labels).toEqual(['a:1', 'b:2', 'c:1', 'd:2', 'e:2', 'f:1', 'g:1']);
    expect(peak).toBeLessThanOrEqual(2);
  });

  it('an acquire not granted in time exits 75 naming the holder; bad demands exit 2', async () => {
    const go = join(rig.dir, 'go');
    rig.writePlan({
      agent_coordination: { resources: { gpu: 1 } },
      streams: [
        { id: 'holder', command: fixture('wait-for-file.js', go), resources: { gpu: 1 } },
        {
          id: 'asker',
          command: [
            `coord resource acquire gpu=1 --timeout 300ms -- echo ran; echo "timeout $?"`,
            `coord resource acquire gpu=2 -- true; echo "too many $?"`,
            `coord resource acquire tpu=1 -- true; echo "unknown $?"`,
            `touch ${go}`,
          ].join('; '),
        },
      ],
    });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    const out = readFileSync(join(rig.runDir(), 'streams', 'asker', 'stdout'), 'utf8');
    const err = readFileSync(join(rig.runDir(), 'streams', 'asker', 'stderr'), 'utf8');
    expect(out).toBe('timeout 75\ntoo many 2\nunknown 2\n');
    expect(err).toMatch(/timed out after \d+ms waiting for gpu=1 \(gpu 1\/1 in use; held by holder gpu=1\)/);
    expect(err).toContain("demand gpu=2 exceeds the pool's capacity 1");
    expect(err).toContain('unknown resource pool "tpu" (the plan\'s pools: gpu=1)');
    expect(rig.events().find((e) => e.type === 'resource-timeout')).toMatchObject({ owner: 'asker', units: { gpu: 1 }, holders: ['holder gpu=1'] });
  });

  it('units are freed when their holder is SIGKILLed, and when the stream that asked ends', async () => {
    const at = (name: string) => join(rig.dir, name);
    const holdAndHang = (flag: string) => `sh -c 'touch ${at(flag)}; exec ${fixture('hang.js')}'`;
    rig.writePlan({
      agent_coordination: { resources: { gpu: 1, tpu: 1 } },
      streams: [
        { id: 'holder', command: `coord resource acquire gpu=1 -- ${holdAndHang('holding')}` },
        { id: 'waiter', command: `${fixture('wait-for-file.js', at('holding'))} && coord resource acquire gpu=1 --timeout 20s -- touch ${at('got')}` },
        // an acquire that escapes its stream's process group (and its output pipes) keeps its
        // connection open: the stream's end frees its units
        {
          id: 'escaper',
          command: `setsid coord resource acquire tpu=1 -- ${holdAndHang('escaped')} > /dev/null 2>&1 & ${fixture('wait-for-file.js', at('release'))}`,
        },
        { id: 'after', command: `${fixture('wait-for-file.js', at('escaped'))} && coord resource acquire tpu=1 --timeout 20s -- touch ${at('got2')}` },
      ],
    });
    const run = rig.spawn(['run', 'plan.yaml']);
    const waiting = await rig.waitForEvent((e) => e.type === 'resource-waiting' && e.owner === 'waiter');
    expect(waiting).toMatchObject({ units: { gpu: 1 }, holders: [expect.stringMatching(/^holder \(pid \d+\) gpu=1$/)] });
    const grant = await rig.waitForEvent((e) => e.type === 'resource-granted' && e.owner === 'holder');
    expect(existsSync(at('got'))).toBe(false);
    process.kill(Number(grant.pid), 'SIGKILL');
    await rig.waitForFile(at('got'));
    // (the event log is appended after the grant that let the command run, so it is waited for)
    expect(await rig.waitForEvent((e) => e.type === 'resource-released' && e.owner === 'holder')).toMatchObject({ reason: 'disconnected' });

    await rig.waitForEvent((e) => e.type === 'resource-waiting' && e.owner === 'after');
    expect(existsSync(at('got2'))).toBe(false);
    rig.write('release', '');
    await rig.waitForFile(at('got2'));
    expect(await rig.waitForEvent((e) => e.type === 'resource-released' && e.owner === 'escaper')).toMatchObject({ reason: 'stream-ended' });
    const r = await run.done;
    expect(r.code).toBe(1); // holder's stream died with its acquire
    expect(rig.events().find((e) => e.type === 'stream-ended' && e.stream === 'holder')).toMatchObject({ state: 'failed' });
  });

  it('waiters are served by priority, then first come', async () => {
    const go = join(rig.dir, 'go');
    const log = join(rig.dir, 'order.log');
    rig.writePlan({
      agent_coordination: { resources: { gpu: 1 } },
      streams: [
        { id: 'holder', command: fixture('wait-for-file.js', go), resources: { gpu: 1 } },
        { id: 'first', command: `coord resource acquire gpu=1 -- sh -c 'echo first >> ${log}'` },
        {
          id: 'urgent',
          priority: 5,
          command: `${fixture('wait-for-file.js', join(rig.dir, 'first-waits'))} && coord resource acquire gpu=1 -- sh -c 'echo urgent >> ${log}'`,
        },
        {
          id: 'lowly',
          command: `${fixture('wait-for-file.js', join(rig.dir, 'urgent-waits'))} && coord resource acquire gpu=1 --priority -1 -- sh -c 'echo lowly >> ${log}'`,
        },
      ],
    });
    const run = rig.spawn(['run', 'plan.yaml']);
    await rig.waitForEvent((e) => e.type === 'resource-waiting' && e.owner === 'first');
    rig.write('first-waits', '');
    await rig.waitForEvent((e) => e.type === 'resource-waiting' && e.owner === 'urgent');
    rig.write('urgent-waits', '');
    const lowly = await rig.waitForEvent((e) => e.type === 'resource-waiting' && e.owner === 'lowly');
    expect(lowly).toMatchObject({ priority: -1 });
    // pool records are written within 250 ms of a change: read status until it has all three
    let waiters: string[] = [];
    for (let i = 0; i < 50 && waiters.length < 3; i++) {
      const status = JSON.parse((await rig.coord(['status', '--json'])).stdout) as { resources: Array<{ waiters: Array<{ owner: string }> }> };
      waiters = status.resources[0]?.waiters.map((w) => w.owner) ?? [];
    }
    expect(waiters).toEqual(['urgent', 'first', 'lowly']);
    rig.write('go', '');
    expect((await run.done).code).toBe(0);
    expect(readFileSync(log, 'utf8')).toBe('urgent\nfirst\nlowly\n');
  });

  it('the library: ResourcePool leases (async-disposable) and Consensus, from a stream', async () => {
    const script = rig.write(
      'lib.mjs',
      [
        `import { ResourcePool, Consensus } from ${JSON.stringify(join(ROOT, 'dist', 'index.js'))};`,
        'const pool = new ResourcePool();',
        'const lease = await pool.acquire({ gpu: 1 }, { timeoutMs: 5000 });',
        "console.log('granted', JSON.stringify(lease.units));",
        'await lease[Symbol.asyncDispose]();',
        "await pool.acquire({ gpu: 2 }).catch((e) => console.log('refused', e.code, e.message));",
        'const c = new Consensus();',
        "await c.propose('lib', { voters: ['lib', 'x'], quorum: 1 });",
        "const v = await c.vote('lib', 'yes', { reason: 'from the library' });",
        "console.log('vote', v.counted, v.proposal.state);",
        "console.log('decision', (await c.decision('lib')).state);",
      ].join('\n'),
    );
    rig.writePlan({ agent_coordination: { resources: { gpu: 1 } }, streams: [{ id: 'lib', command: [process.execPath, script] }] });
    const r = await rig.coord(['run', 'plan.yaml']);
    expect(r.code).toBe(0);
    expect(readFileSync(join(rig.runDir(), 'streams', 'lib', 'stdout'), 'utf8')).toBe(
      'granted {"gpu":1}\nrefused invalid demand gpu=2 exceeds the pool\'s capacity 1\nvote true accepted\ndecision accepted\n',
    );
    expect(
      rig
        .events()
        .filter((e) => e.type === 'resource-released')
        .map((e) => e.reason),
    ).toEqual(['released']);
  });
});
