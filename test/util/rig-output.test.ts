/**
 * The test rig reads a child's output as UTF-8 text: a character split between two chunks of
 * the pipe comes out whole (a `toString()` of each chunk made it `caf��`).
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { FIXTURES, Rig } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

describe('the rig', () => {
  it('decodes a UTF-8 character split between two chunks of a child’s stdout whole', async () => {
    const s = rig.spawnNode(join(FIXTURES, 'split-utf8-signal.js'), []);
    s.child.stdout!.once('data', () => s.child.kill('SIGUSR2')); // after the rig's own listener: the first chunk was read alone
    const r = await s.done;
    expect(r).toMatchObject({ code: 0, stdout: 'café\n', stderr: '' });
  });
});
