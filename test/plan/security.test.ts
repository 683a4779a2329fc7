import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parsePlan } from '../../src/plan/load.js';
import { errorsOf, valid, yaml } from './helpers.js';

const polluted = (): unknown => (Object.prototype as Record<string, unknown>)['polluted'];

describe('hostile input', () => {
  it('stops a billion-laughs alias bomb at the first alias', () => {
    const lol = yaml(
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
      'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
      'streams: [{ id: a, command: x }]',
    );
    const started = Date.now();
    expect(errorsOf(lol)).toEqual(['2:8: too many aliases: expanding them exceeds the limit of 100 (possible alias bomb)']);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('still allows a few ordinary aliases', () => {
    const plan = valid(yaml('x-env: &env { A: "1" }', 'streams:', '  - { id: a, command: x, env: *env }', '  - { id: b, command: x, env: *env }'));
    expect(plan.streams.map((s) => s.env['A'])).toEqual(['1', '1']);
  });

  it('reports an unknown alias', () => {
    expect(errorsOf('streams: *nope\n')).toEqual(['1:10: unknown alias "*nope": its anchor must be defined before it']);
  });

  it('refuses __proto__, constructor and prototype keys anywhere, and pollutes nothing', () => {
    const text = yaml(
      '__proto__: { polluted: 1 }',
      'x-keys: [&k prototype]',
      'streams:',
      '  - id: a',
      '    command: x',
      '    env: { constructor: { polluted: 2 }, "__proto__": { polluted: 3 }, *k : 1 }',
      '    resources: { __proto__: 1 }',
    );
    expect(errorsOf(text)).toEqual([
      '1:1: key "__proto__" is not allowed',
      '6:12: key "constructor" is not allowed',
      '6:42: key "__proto__" is not allowed',
      '6:72: key "prototype" is not allowed',
      '7:18: key "__proto__" is not allowed',
    ]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(polluted()).toBeUndefined();
  });

  it('keeps pool and env names like toString apart from Object.prototype', () => {
    const plan = valid(
      yaml('agent_coordination: { resources: { toString: 2 } }', 'streams: [{ id: a, command: x, resources: { toString: 1 }, env: { hasOwnProperty: x } }]'),
    );
    expect(plan.resources['toString']).toBe(2);
    expect(plan.streams[0]?.env['hasOwnProperty']).toBe('x');
    expect(errorsOf('streams: [{ id: a, command: x, resources: { valueOf: 1 } }]\n')).toEqual([
      '1:45: streams[0].resources.valueOf: unknown resource pool "valueOf" (agent_coordination.resources declares no pools)',
    ]);
  });

  it('reports YAML syntax errors and duplicate keys at their own position', () => {
    expect(errorsOf('streams: [a\n')).toEqual(['2:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]']);
    expect(errorsOf(yaml('streams:', '  - id: a', '    command: x', '    id: b'))).toEqual(['4:5: duplicate key "id" (first defined at 2:5)']);
    expect(errorsOf('a: 1\n---\nb: 2\n')[0]).toMatch(/^2:1: YAML syntax error: Source contains multiple documents/);
  });
});

describe('never throws', () => {
  const odd: unknown[] = [
    null,
    undefined,
    42,
    {},
    [],
    '',
    ' ',
    '\n\n',
    '~',
    'null',
    '42',
    '"str"',
    '- a\n- b',
    '[]',
    '{}',
    'streams:',
    'streams: ~',
    'streams: [~]',
    'streams: [[]]',
    'streams: [{}]',
    'streams: [{ id: 1, command: 2 }]',
    '\uFEFFstreams: [{ id: a, command: x }]',
    'streams: [{ id: a, command: x, depends_on: [~, 1, [], {}] }]',
    'agent_coordination: 5\nstreams: [{ id: a, command: x }]',
    'agent_coordination: { convergence_points: [~, 1, { streams: 5 }, { name: 5 }] }\nstreams: [{ id: a, command: x }]',
    '? [a, b]\n: c\nstreams: [{ id: a, command: x }]',
    '!!binary aGVsbG8=',
    '!custom 5',
    '&a [*a]',
    'a: !!set { x, y }',
    '%YAML 1.1\n---\na: 1',
    'streams: [{ id: a, command: x, timeout: .inf }, { id: b, command: x, timeout: .nan }, { id: c, command: x, retries: 1e400 }]',
  ];

  it.each(odd.map((t) => [t]))('survives %p', (text) => {
    const r = parsePlan(text as string, 'plan.yaml');
    if (!r.ok) {
      expect(r.error.length).toBeGreaterThan(0);
      for (const d of r.error) {
        expect(d.line).toBeGreaterThanOrEqual(1);
        expect(d.col).toBeGreaterThanOrEqual(1);
        expect(d.message).not.toMatch(/internal error/);
      }
    }
  });

  it('survives random text and random mutations of a real plan', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const spec = readFileSync(fileURLToPath(new URL('../../fixtures/plans/spec-example.yaml', import.meta.url)), 'utf8');
    const alphabet = ' \n\t:-[]{},&*!|>"\'#%@`?abcxyz019_.\\/';
    let okCount = 0;
    for (let i = 0; i < 400; i++) {
      let text: string;
      if (i % 2 === 0) {
        text = Array.from({ length: Math.floor(rand() * 80) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
      } else {
        const chars = [...spec];
        for (let m = 0; m < 1 + Math.floor(rand() * 4); m++) {
          const at = Math.floor(rand() * chars.length);
          if (rand() < 0.5) chars.splice(at, 1 + Math.floor(rand() * 3));
          else chars.splice(at, 0, alphabet[Math.floor(rand() * alphabet.length)] ?? ' ');
        }
        text = chars.join('');
      }
      const r = parsePlan(text, 'fuzz.yaml');
      if (r.ok) okCount++;
      else for (const d of r.error) expect(d.message).not.toMatch(/internal error/);
    }
    expect(okCount).toBeGreaterThanOrEqual(0);
  });
});
