/** The TTY reporter where ora does not spin (`--reporter tty` into a pipe): lines, and no spinner text printed anew. */
import { describe, expect, it } from '@jest/globals';
import type { CoordEvent } from '../../src/events/types.js';
import type { RunOutcome } from '../../src/orchestrator/coordinator.js';
import { noColors } from '../../src/report/color.js';
import { TtyReporter } from '../../src/report/tty.js';

const ev = (e: Record<string, unknown>): CoordEvent => ({ time: '2026-12-02T10:00:00.000Z', run: 'r1', attempt: 1, ...e }) as unknown as CoordEvent;

describe('TtyReporter without a terminal', () => {
  it('prints events and output lines, and never the running streams as text', () => {
    let text = '';
    const stdout = { write: (c: string) => ((text += c), true), isTTY: false } as unknown as NodeJS.WriteStream;
    const r = new TtyReporter({ quiet: false, json: false, env: {}, stdout, stderr: stdout }, noColors);
    r.onEvent(ev({ type: 'stream-started', stream: 'a', pid: 1, command: 'x', workspace: '/w' }));
    r.onEvent(ev({ type: 'stream-output', stream: 'a', fd: 'stdout', line: 'hello' }));
    r.onEvent(ev({ type: 'stream-started', stream: 'b', pid: 2, command: 'x', workspace: '/w' }));
    r.onEvent(ev({ type: 'stream-exited', stream: 'a', exitCode: 0, signal: null, durationMs: 5 }));
    r.done({ runId: 'r1', runDir: '/r', state: 'succeeded', exitCode: 0, streams: [], points: [] } as RunOutcome);
    expect(text).not.toContain('running');
    expect(text.split('\n').slice(0, 4)).toEqual(['› a started, pid 1', '[a] hello', '› b started, pid 2', '› a exited with code 0 after 5ms']);
  });
});
