/** Refusals on the control socket carry an error code, never an exit code; the CLI maps the code. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCodeOf } from '../../src/cli/errors.js';
import { codeOfReply, ControlError, expectOk } from '../../src/client/control-client.js';
import { listenControl, type ControlReply } from '../../src/orchestrator/control.js';
import { LineSplitter } from '../../src/util/lines.js';

/** Sends each line and resolves with the first reply to each, in order. */
async function ask(path: string, lines: string[]): Promise<ControlReply[]> {
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  const replies: ControlReply[] = [];
  const split = new LineSplitter();
  const done = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      for (const line of split.push(chunk)) replies.push(JSON.parse(line) as ControlReply);
      if (replies.length === lines.length) resolve();
    });
  });
  for (const line of lines) socket.write(line + '\n');
  await done;
  socket.destroy();
  return replies;
}

describe('control socket refusals', () => {
  let dir: string | undefined;
  let server: Server | undefined;
  afterEach(() => {
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a malformed or unknown request is refused as invalid, and a handler's code reaches the client", async () => {
    dir = mkdtempSync(join(tmpdir(), 'coord-control-'));
    const path = join(dir, 'control.sock');
    server = await listenControl(path, (_msg, conn) => conn.reply({ ok: false, error: 'timed out after 10ms waiting for gpu=1', code: 'timeout' }));
    const [notJson, unknown, malformed, timedOut] = await ask(path, [
      'not json',
      JSON.stringify({ op: 'fly' }),
      JSON.stringify({ op: 'vote', name: 'p' }),
      JSON.stringify({ op: 'acquire', units: { gpu: 1 }, pid: 1 }),
    ]);
    expect(notJson).toEqual({ ok: false, error: 'a request must be one JSON object on one line', code: 'invalid' });
    expect(unknown).toEqual({ ok: false, error: 'unknown request "fly"', code: 'invalid' });
    expect(malformed).toEqual({ ok: false, error: 'malformed vote request', code: 'invalid' });
    let thrown: unknown;
    try {
      expectOk(timedOut as ControlReply);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ControlError);
    expect([(thrown as ControlError).code, (thrown as ControlError).message, exitCodeOf(thrown)]).toEqual([
      'timeout',
      'timed out after 10ms waiting for gpu=1',
      75,
    ]);
  });

  it("reads a reply's code, an older coordinator's exit code, or the request's usual refusal when there is none", () => {
    expect([codeOfReply('invalid'), codeOfReply('refused'), codeOfReply('timeout')]).toEqual(['invalid', 'refused', 'timeout']);
    expect([codeOfReply(2), codeOfReply(75), codeOfReply(1)]).toEqual(['invalid', 'timeout', 'refused']);
    expect([codeOfReply(undefined), codeOfReply(undefined, 'invalid'), codeOfReply('no-such-code', 'invalid')]).toEqual(['refused', 'invalid', 'invalid']);
    expect([exitCodeOf(new ControlError('x', codeOfReply(undefined, 'invalid'))), exitCodeOf(new ControlError('x', codeOfReply('refused')))]).toEqual([2, 1]);
  });
});
