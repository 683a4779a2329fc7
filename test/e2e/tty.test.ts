/** The live view on a real pseudo-terminal (script(1)): spinner, elapsed time, heartbeat age, progress; NO_COLOR. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { COORD, Rig, shellQuote } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

/** Runs `coord ARGS` on a 120-column pseudo-terminal; resolves with what the terminal got. */
function onTerminal(args: string[], env: Record<string, string>): Promise<string> {
  const cmd = `stty cols 120 rows 30; ${[process.execPath, COORD, ...args].map(shellQuote).join(' ')}`;
  const base = rig.env(env);
  delete base.CI;
  return new Promise((resolve, reject) => {
    execFile('script', ['-qfec', cmd, '/dev/null'], { cwd: rig.dir, env: { ...base, TERM: 'xterm' } }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout);
    });
  });
}

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');

describe('the live view', () => {
  const plan = {
    streams: [{ id: 'worker', command: 'for i in 1 2 3; do coord heartbeat --progress $((i*30)) --message "step $i"; sleep 0.6; done' }],
  };

  it('shows a spinner line per running stream with elapsed time, heartbeat age and progress, then the summary', async () => {
    rig.writePlan(plan);
    const out = plain(await onTerminal(['run', 'plan.yaml'], { NO_COLOR: '' }));
    expect(out).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] 1 running/);
    expect(out).toMatch(/worker {2}\d+(\.\d)?s {2}♥ \d+(\.\d)?m?s ago {2}\d+% {2}step \d/);
    expect(out).toMatch(/worker\s+succeeded/);
  });

  it('honours NO_COLOR on a terminal', async () => {
    rig.writePlan(plan);
    const out = await onTerminal(['run', 'plan.yaml'], { NO_COLOR: '1' });
    // eslint-disable-next-line no-control-regex
    expect(out).not.toMatch(/\x1b\[(3\d|9\d|2|1)m/); // no colour, no dim, no bold
    expect(plain(out)).toMatch(/worker\s+succeeded/);
  });
});
