/** `coord init`: every template is written, validated (by coord and by the generated JSON Schema) and run. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { FIXTURES, ROOT, Rig } from '../rig.js';

const TEMPLATES = ['debug', 'fork-join', 'implementation', 'map-reduce', 'pipeline', 'planning', 'research'];

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

const schema = JSON.parse(readFileSync(join(ROOT, 'schema', 'plan.schema.json'), 'utf8')) as object;

/** A directory with a stand-in `claude` for the agent templates. */
function standInPath(): string {
  const bin = join(rig.dir, 'bin');
  mkdirSync(bin);
  const claude = join(bin, 'claude');
  writeFileSync(claude, `#!/bin/sh\nexec "${process.execPath}" "${join(FIXTURES, 'agent-standin.js')}" "$@"\n`);
  chmodSync(claude, 0o755);
  return `${bin}:${process.env.PATH ?? ''}`;
}

describe('coord init', () => {
  it('lists the templates', async () => {
    const r = await rig.coord(['init', '--list']);
    expect(r.code).toBe(0);
    expect(
      r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(TEMPLATES);
  });

  it.each(TEMPLATES)('writes the %s template, which validates against the JSON Schema and runs', async (name) => {
    const init = await rig.coord(['init', name, '-o', `${name}.yaml`]);
    expect(init.code).toBe(0);
    const text = readFileSync(join(rig.dir, `${name}.yaml`), 'utf8');
    expect(text.split('\n')[0]).toMatch(/^# yaml-language-server: \$schema=\S+plan\.schema\.json$/);
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    expect(validate(parse(text))).toBe(true);
    expect((await rig.coord(['validate', `${name}.yaml`])).stdout).toBe('ok\n');
    // run it, with the rig's workspace root and a stand-in agent
    const plan = parse(text) as { agent_coordination?: Record<string, unknown> };
    rig.writePlan({ ...plan, agent_coordination: { ...(plan.agent_coordination ?? {}), workspace_root: rig.workspaceRoot } }, `${name}-run.yaml`);
    const r = await rig.coord(['run', `${name}-run.yaml`], { env: { PATH: standInPath() } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('refuses to overwrite, and names the templates when one is unknown', async () => {
    expect((await rig.coord(['init'])).code).toBe(0);
    const again = await rig.coord(['init']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('exists');
    const unknown = await rig.coord(['init', 'nope', '-o', 'x.yaml']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('fork-join');
  });

  it('ships a JSON Schema that rejects what the validator rejects', () => {
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    expect(validate({ streams: [{ id: 'a', command: 'true' }] })).toBe(true);
    expect(validate({ streams: [{ id: 'a', command: 'true', colour: 'red' }] })).toBe(false);
    expect(validate({ streams: [{ id: 'a/b', command: 'true' }] })).toBe(false);
    expect(validate({ streams: [{ id: 'a', command: 'true', timeout: '5 minutes' }] })).toBe(false);
    expect(validate({ streams: [{ id: 'a', command: 'true', 'x-note': 'extension keys are free' }] })).toBe(true);
    expect(validate({ streams: [] })).toBe(false);
  });
});
