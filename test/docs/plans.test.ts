/**
 * Every plan the docs show passes `coord validate`: each ```yaml block of README.md and
 * docs/*.md, except those marked ```yaml fragment (a part of a plan, shown on its own), and
 * every examples/*.yaml the README names.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT, Rig } from '../rig.js';
import { blocks, docFiles, readDoc } from './markdown.js';

let rig: Rig;
beforeAll(() => {
  rig = new Rig();
});
afterAll(async () => {
  await rig.cleanup();
});

const yamlBlocks = docFiles().flatMap((file) =>
  blocks(readDoc(file))
    .filter((b) => b.info.split(/\s+/)[0] === 'yaml')
    .map((b) => ({ where: `${file}:${b.line}`, fragment: b.info.split(/\s+/).includes('fragment'), text: b.text })),
);
const plans = yamlBlocks.filter((b) => !b.fragment);
const fragments = yamlBlocks.filter((b) => b.fragment);
const examples = [...new Set(readDoc('README.md').match(/examples\/[\w.-]+\.ya?ml/g) ?? [])];

describe('plans in the docs', () => {
  it('finds the plans: the reference plan of docs/plan.md and the worked example of the README among them', () => {
    expect(plans.some((p) => p.where.startsWith('docs/plan.md:'))).toBe(true);
    expect(plans.some((p) => p.where.startsWith('README.md:'))).toBe(true);
    expect(examples).toEqual(expect.arrayContaining(['examples/quickstart.yaml']));
  });

  it.each(plans.map((p) => [p.where, p.text] as const))('%s passes coord validate', async (where, text) => {
    const file = rig.write(`${where.replace(/[/:]/g, '-')}.yaml`, text);
    const r = await rig.coord(['validate', file]);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: 'ok\n', stderr: '' });
  });

  it.each(fragments.map((p) => [p.where, p.text] as const))('%s, a fragment, is YAML of a mapping without streams', (_where, text) => {
    const parsed = parse(text) as unknown;
    expect(typeof parsed).toBe('object');
    expect(Array.isArray(parsed)).toBe(false);
    expect(Object.keys(parsed as object)).not.toContain('streams');
  });

  it.each(examples)('%s, named in the README, passes coord validate', async (example) => {
    expect(existsSync(join(ROOT, example))).toBe(true);
    const r = await rig.coord(['validate', join(ROOT, example)]);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ code: 0, stdout: 'ok\n', stderr: '' });
  });
});
