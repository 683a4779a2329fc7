/**
 * coord as a library, as docs/library.md uses it: a script of the user's that
 * imports the built package and runs a plan with `new StreamCoordinator({ home: '.coord' })`,
 * a relative home, in a process of its own.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Rig, ROOT } from '../rig.js';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

describe('the library', () => {
  it('with a relative home, streams get absolute COORD_RUN_DIR, COORD_INPUTS, heartbeat file and PATH: coord works after cd /', async () => {
    const script = rig.write(
      'run-plan.mjs',
      `import { parsePlan, StreamCoordinator } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'index.js')).href)};
const report = 'cd / && coord state set x 1 && echo "run=$COORD_RUN_DIR" && echo "inputs=$COORD_INPUTS" && echo "beat=$COORD_HEARTBEAT_FILE" && echo "path=\${PATH%%:*}"';
const plan = parsePlan(\`agent_coordination:
  workspace_root: ws
streams:
  - id: a
    command: '\${report}'
  - id: b
    depends_on: [a]
    command: '\${report} && coord state incr x && ls "$COORD_INPUTS/a" && touch "$COORD_HEARTBEAT_FILE"'
\`, 'plan.yaml');
if (!plan.ok) throw new Error(JSON.stringify(plan.error));
const outcome = await new StreamCoordinator({ plan: plan.value, home: '.coord' }).run();
console.log(JSON.stringify({ exitCode: outcome.exitCode, runDir: outcome.runDir }));
`,
    );
    const r = await rig.spawnNode(script, []).done;
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const { exitCode, runDir } = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { exitCode: number; runDir: string };
    expect(exitCode).toBe(0);
    const id = rig.runIds().at(-1)!;
    expect(runDir).toBe(join(rig.home, 'runs', id));
    for (const s of ['a', 'b']) {
      const vars = Object.fromEntries(
        readFileSync(join(rig.runDir(id), 'streams', s, 'stdout'), 'utf8')
          .split('\n')
          .filter((l) => /^(run|inputs|beat|path)=/.test(l))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      expect(vars).toEqual({
        run: rig.runDir(id),
        inputs: join(rig.runDir(id), 'streams', s, 'inputs'),
        beat: join(rig.runDir(id), 'streams', s, 'heartbeat'),
        path: expect.any(String),
      });
      expect(isAbsolute(vars['path']!)).toBe(true);
    }
    expect((await rig.coord(['state', 'get', 'x'])).stdout).toBe('2\n');
  });
});
