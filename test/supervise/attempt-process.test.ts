/** AttemptProcess: a real process under supervision, its signals before and after it exists, its beats. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { AttemptProcess } from '../../src/supervise/attempt-process.js';
import { spawnProcess, type SpawnRequest } from '../../src/supervise/spawner.js';
import { makeTemp, removeTemp } from '../workspace/fsfix.js';

let tmp: string;
beforeEach(async () => {
  tmp = await makeTemp('coord-attempt-process-');
});
afterEach(async () => {
  await removeTemp(tmp);
});

const request = (command: string, onLine?: SpawnRequest['onLine']): SpawnRequest => ({
  command,
  cwd: tmp,
  env: process.env,
  stdoutFile: path.join(tmp, 'out'),
  stderrFile: path.join(tmp, 'err'),
  ...(onLine ? { onLine } : {}),
});

/** An AttemptProcess whose periodic look at the heartbeat file never comes during a test (only the last one does). */
function attempt(pollMs = 3_600_000) {
  const beats: boolean[] = [];
  const p = new AttemptProcess({ heartbeatFile: path.join(tmp, 'hb'), pollMs, onBeat: (_at, file) => beats.push(file) });
  return { p, beats };
}

/** Resolves with the first line the process prints. */
function firstLine(): { onLine: SpawnRequest['onLine']; line: Promise<string> } {
  let resolve!: (l: string) => void;
  const line = new Promise<string>((r) => (resolve = r));
  return { onLine: (_fd, l) => resolve(l), line };
}

describe('AttemptProcess', () => {
  it('keeps a signal that comes before the process exists, and sends it when the process starts', async () => {
    const { p } = attempt();
    p.signal('SIGINT');
    expect(p.process).toBeUndefined();
    const { proc, exited } = p.start(request('exec sleep 30'));
    expect(p.process).toBe(proc);
    const info = await exited;
    expect(info).toMatchObject({ exitCode: null, signal: 'SIGINT' });
  });

  it('lets a waiting SIGKILL replace a waiting signal, and no other signal replace the first', async () => {
    const kill = attempt();
    kill.p.signal('SIGINT');
    kill.p.signal('SIGKILL');
    kill.p.signal('SIGTERM');
    expect((await kill.p.start(request('exec sleep 30')).exited).signal).toBe('SIGKILL');

    const first = attempt();
    first.p.signal('SIGINT');
    first.p.signal('SIGTERM');
    expect((await first.p.start(request('exec sleep 30')).exited).signal).toBe('SIGINT');
  });

  it('signals the running process group', async () => {
    const { p } = attempt();
    const { onLine, line } = firstLine();
    const { exited } = p.start(request('echo up; exec sleep 30', onLine));
    await line;
    p.signal('SIGTERM');
    expect((await exited).signal).toBe('SIGTERM');
  });

  it('terminates: SIGTERM, then SIGKILL after the grace for a process that ignores SIGTERM', async () => {
    const { p } = attempt();
    const { onLine, line } = firstLine();
    const { exited } = p.start(request(`trap '' TERM; echo ready; while :; do sleep 0.05; done`, onLine));
    expect(await line).toBe('ready');
    p.terminate(200);
    expect((await exited).signal).toBe('SIGKILL');
  });

  it('terminates a process that is not there yet: it gets SIGTERM when it starts', async () => {
    const { p } = attempt();
    p.terminate(60_000);
    expect((await p.start(request('exec sleep 30')).exited).signal).toBe('SIGTERM');
  });

  it('reports output as beats, and a heartbeat file written just before the exit in its last look', async () => {
    const { p, beats } = attempt();
    const hb = path.join(tmp, 'hb');
    const lines: string[] = [];
    const info = await p.start(request(`echo one; echo two; echo '{"progress":1}' > ${hb}`, (_fd, l) => lines.push(l))).exited;
    expect(info.exitCode).toBe(0);
    expect(lines).toEqual(['one', 'two']);
    expect(beats).toEqual([false, false, true]);
  });

  it('reports each change of the heartbeat file while the process runs', async () => {
    const { p, beats } = attempt(20);
    const hb = path.join(tmp, 'hb');
    const go = path.join(tmp, 'go');
    // the process waits for the test to see each beat before the next change
    const script = `for i in 1 2 3; do echo "{\\"progress\\":$i}" > ${hb}.new && mv ${hb}.new ${hb}; while [ ! -e ${go}$i ]; do sleep 0.02; done; done`;
    const { exited } = p.start(request(script));
    for (let i = 1; i <= 3; i++) {
      while (beats.filter(Boolean).length < i) await new Promise((r) => setTimeout(r, 10));
      writeFileSync(`${go}${i}`, '');
    }
    await exited;
    expect(beats).toEqual([true, true, true]);
  });

  it('starts once', () => {
    const spawned: SpawnRequest[] = [];
    const spawn = (req: SpawnRequest) => {
      spawned.push(req);
      return spawnProcess(req);
    };
    const once = new AttemptProcess({ heartbeatFile: path.join(tmp, 'hb'), pollMs: 1000, onBeat: () => undefined, spawn });
    const { exited } = once.start(request('exit 3'));
    expect(() => once.start(request('exit 4'))).toThrow('started already');
    expect(spawned).toHaveLength(1);
    return expect(exited).resolves.toMatchObject({ exitCode: 3 });
  });
});
