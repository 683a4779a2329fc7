import { describe, expect, it } from '@jest/globals';
import { errorsOf, invalid, yaml } from './helpers.js';

const base = (...streams: string[]): string => yaml('streams:', ...streams);

describe('schema errors, at the offending node', () => {
  it('points a duplicate stream id at the second id with the first position', () => {
    const text = yaml('version: 1', 'streams:', '  - id: build', '    command: make', '  - id: build', '    command: make again');
    expect(errorsOf(text)).toEqual(['5:9: streams[1].id: duplicate id "build" (first defined at 3:9)']);
  });

  it('reports bad durations with their text', () => {
    const text = base(
      '  - id: a',
      '    command: x',
      '    timeout: 5 minutes',
      '  - id: b',
      '    command: x',
      '    timeout: -1',
      '  - id: c',
      '    command: x',
      '    timeout: 1d',
      '  - id: d',
      '    command: x',
      '    timeout: "-1"',
      '  - id: e',
      '    command: x',
      '    timeout: [1]',
    );
    expect(errorsOf(text)).toEqual([
      '4:14: streams[0].timeout: bad duration "5 minutes": use 500ms, 30s, 5m, 1h or a number of seconds',
      '7:14: streams[1].timeout: a duration must be a non-negative number of seconds, got -1',
      '10:14: streams[2].timeout: bad duration "1d": use 500ms, 30s, 5m, 1h or a number of seconds',
      '13:14: streams[3].timeout: bad duration "-1": use 500ms, 30s, 5m, 1h or a number of seconds',
      '16:14: streams[4].timeout: a duration must be a string like "30s" or a number of seconds, got a list',
    ]);
  });

  it('rejects negative numbers and wrong types everywhere', () => {
    const text = yaml(
      'version: "1"',
      'name: [x]',
      'agent_coordination:',
      '  resources: { gpu: -1, cpu: 0, ram: 1.5 }',
      '  recovery: { guardian: { max_restarts: -2, auto_invoke: "yes", grace: -3 } }',
      '  heartbeat: { interval: -0.5, source: stdout }',
      'streams:',
      '  - id: a',
      '    command: x',
      '    retries: -1',
      '    resources: { gpu: -1 }',
      '    depends_on: b',
      '    env: { OK: null }',
    );
    expect(errorsOf(text)).toEqual([
      '1:10: version: must be 1 (got "1")',
      '2:7: name: expected a string, got a list',
      '4:21: agent_coordination.resources.gpu: must be >= 1 (got -1)',
      '4:30: agent_coordination.resources.cpu: must be >= 1 (got 0)',
      '4:38: agent_coordination.resources.ram: expected an integer, got 1.5',
      '5:41: agent_coordination.recovery.guardian.max_restarts: must be >= 0 (got -2)',
      '5:58: agent_coordination.recovery.guardian.auto_invoke: expected true or false, got the string "yes"',
      '5:72: agent_coordination.recovery.guardian.grace: a duration must be a non-negative number of seconds, got -3',
      '6:26: agent_coordination.heartbeat.interval: a duration must be a non-negative number of seconds, got -0.5',
      '6:40: agent_coordination.heartbeat.source: must be one of file, output, any (got "stdout")',
      '10:14: streams[0].retries: must be >= 0 (got -1)',
      '11:23: streams[0].resources.gpu: must be >= 1 (got -1)',
      '12:17: streams[0].depends_on: expected a list, got the string "b"',
      '13:16: streams[0].env.OK: an environment value must be a string, number or boolean',
    ]);
  });

  it('rejects bad ids: "/", "..", 65 characters, a leading "-"', () => {
    const long = 'a'.repeat(65);
    const text = base(
      '  - id: a/b',
      '    command: x',
      '  - id: ..',
      '    command: x',
      `  - id: ${long}`,
      '    command: x',
      '  - id: -lead',
      '    command: x',
      '  - id: ok',
      '    command: x',
    );
    expect(errorsOf(text)).toEqual([
      '2:9: streams[0].id: id "a/b" must not contain a path separator',
      '4:9: streams[1].id: id ".." must start with a letter or digit',
      `6:9: streams[2].id: id "${long}" is 65 characters long (at most 64)`,
      '8:9: streams[3].id: id "-lead" must start with a letter or digit',
    ]);
    expect(errorsOf(base('  - id: "a b"', '    command: x'))).toEqual(['2:9: streams[0].id: id "a b" may only contain letters, digits, "_", "." and "-"']);
    expect(errorsOf(yaml('agent_coordination:', '  convergence_points: [{ name: ../up }]', 'streams: [{ id: a, command: x }]'))).toEqual([
      '2:32: agent_coordination.convergence_points[0].name: id "../up" must not contain a path separator',
    ]);
  });

  it('refuses ".." anywhere in a stream id or a point name, as docs/plan.md says; a single "." is fine', () => {
    const text = yaml(
      'agent_coordination:',
      '  convergence_points: [{ name: p..q, streams: [a..b] }, { name: p.q, streams: [a.b] }]',
      'streams:',
      '  - id: a..b',
      '    command: x',
      '  - id: a.b',
      '    command: x',
      '  - id: x..',
      '    command: x',
    );
    expect(errorsOf(text)).toEqual([
      '2:32: agent_coordination.convergence_points[0].name: id "p..q" must not contain ".."',
      '4:9: streams[0].id: id "a..b" must not contain ".."',
      '8:9: streams[2].id: id "x.." must not contain ".."',
    ]);
  });

  it('reports missing fields at their mapping and unknown fields at their key', () => {
    const text = yaml(
      'stream_configuration:',
      '  coordination:',
      '    isolation: { workspace: isolated, file_acess: atomic }',
      'streams:',
      '  - id: a',
      '    dependson: [b]',
      '    foo: 1',
      '  - command: x',
    );
    expect(errorsOf(text)).toEqual([
      '3:39: stream_configuration.coordination.isolation: unknown field "file_acess" (did you mean "file_access"?)',
      '5:5: streams[0]: missing required field "command"',
      '6:5: streams[0]: unknown field "dependson" (did you mean "depends_on"?)',
      '7:5: streams[0]: unknown field "foo"',
      '8:5: streams[1]: missing required field "id"',
    ]);
    expect(errorsOf('name: x\n')).toEqual(['1:1: plan: missing required field "streams"']);
    expect(errorsOf('streams: []\n')).toEqual(['1:10: streams: at least one stream is required']);
  });

  it('explains bad enum values, including the template placeholders', () => {
    const text = yaml(
      'stream_configuration:',
      '  coordination:',
      '    convergence_type: "barrier|progressive|checkpoint"',
      '    protocols: [registration, gossip]',
      'streams:',
      '  - { id: a, command: x, isolation: private }',
    );
    expect(errorsOf(text)).toEqual([
      '3:23: stream_configuration.coordination.convergence_type: must be one of barrier, progressive, checkpoint (got "barrier|progressive|checkpoint")',
      '4:31: stream_configuration.coordination.protocols[1]: must be one of registration, heartbeat, negotiation, consensus (got "gossip")',
      '6:37: streams[0].isolation: must be one of isolated, shared, hybrid, worktree (got "private")',
    ]);
  });

  it('checks commands, env names and outputs', () => {
    const text = base(
      '  - { id: a, command: "" }',
      '  - { id: b, command: [] }',
      '  - { id: c, command: 5 }',
      '  - { id: d, command: ["", x] }',
      '  - { id: e, command: [ls, 1] }',
      '  - { id: f, command: x, env: { "A B": x }, outputs: ["../up/**", "/abs"] }',
    );
    expect(errorsOf(text)).toEqual([
      '2:23: streams[0].command: a command must not be empty',
      '3:23: streams[1].command: a command list must not be empty',
      '4:23: streams[2].command: expected a command: a non-empty string (run by sh -c) or a non-empty list of strings',
      '5:24: streams[3].command[0]: the program name (first item) must not be empty',
      '6:28: streams[4].command[1]: expected a string, got 1',
      '7:33: streams[5].env["A B"]: bad environment variable name "A B"',
      '7:55: streams[5].outputs[0]: output glob "../up/**" must be relative and stay inside the workspace',
      '7:67: streams[5].outputs[1]: output glob "/abs" must be relative and stay inside the workspace',
    ]);
  });
});

describe('semantic and graph errors', () => {
  it('rejects duplicate point names and a point named like a stream', () => {
    const text = yaml(
      'agent_coordination:',
      '  convergence_points:',
      '    - name: p',
      '      streams: [a]',
      '    - name: p',
      '      streams: [a]',
      '    - name: a',
      'streams:',
      '  - id: a',
      '    command: x',
    );
    expect(errorsOf(text)).toEqual([
      '5:13: agent_coordination.convergence_points[1].name: duplicate convergence point "p" (first defined at 3:13)',
      '7:13: agent_coordination.convergence_points[2].name: convergence point "a" has the same name as a stream (defined at 9:9)',
    ]);
  });

  it('rejects unknown dependencies with a suggestion, and unknown point streams', () => {
    const text = yaml(
      'agent_coordination:',
      '  convergence_points:',
      '    - name: review',
      '      streams: [build, tset, review2, zzz]',
      '    - name: review2',
      'streams:',
      '  - id: build',
      '    command: make',
      '  - id: test',
      '    command: make test',
      '    depends_on: [biuld, nothing_like_it, reviwe]',
    );
    expect(errorsOf(text)).toEqual([
      '4:24: agent_coordination.convergence_points[0].streams[1]: unknown stream "tset" (did you mean "test"?)',
      '4:30: agent_coordination.convergence_points[0].streams[2]: "review2" is a convergence point; a point can only list streams',
      '4:39: agent_coordination.convergence_points[0].streams[3]: unknown stream "zzz"',
      '11:18: streams[1].depends_on[0]: unknown dependency "biuld": no stream or convergence point has that name (did you mean "build"?)',
      '11:25: streams[1].depends_on[1]: unknown dependency "nothing_like_it": no stream or convergence point has that name',
      '11:42: streams[1].depends_on[2]: unknown dependency "reviwe": no stream or convergence point has that name (did you mean "review"?)',
    ]);
  });

  it('rejects a stream depending on itself', () => {
    expect(errorsOf(base('  - id: a', '    command: x', '    depends_on: [a]'))).toEqual(['4:18: streams[0].depends_on[0]: stream "a" depends on itself']);
  });

  it('reports each cycle once, with its path, across streams and points', () => {
    const text = yaml(
      'agent_coordination:',
      '  convergence_points:',
      '    - name: p1',
      '      streams: [b]',
      'streams:',
      '  - id: a',
      '    command: x',
      '    depends_on: [p1]',
      '  - id: b',
      '    command: x',
      '    depends_on: [a]',
      '  - id: c',
      '    command: x',
      '    depends_on: [d]',
      '  - id: d',
      '    command: x',
      '    depends_on: [c]',
    );
    expect(errorsOf(text)).toEqual([
      '8:18: streams[0].depends_on[0]: dependency cycle: a -> p1 -> b -> a',
      '14:18: streams[2].depends_on[0]: dependency cycle: c -> d -> c',
    ]);
  });

  it('checks resource demands against the pools', () => {
    const text = yaml(
      'agent_coordination:',
      '  resources: { api_slots: 3, gpu: 1 }',
      'streams:',
      '  - { id: a, command: x, resources: { api_slots: 4, gpus: 1, disk: 2 } }',
      '  - { id: b, command: x, resources: { gpu: 1 } }',
    );
    expect(errorsOf(text)).toEqual([
      "4:50: streams[0].resources.api_slots: demand api_slots=4 exceeds the pool's capacity 3",
      '4:53: streams[0].resources.gpus: unknown resource pool "gpus" (did you mean "gpu"?)',
      '4:62: streams[0].resources.disk: unknown resource pool "disk" (declared: api_slots, gpu)',
    ]);
    expect(errorsOf(base('  - { id: a, command: x, resources: { gpu: 1 } }'))).toEqual([
      '2:39: streams[0].resources.gpu: unknown resource pool "gpu" (agent_coordination.resources declares no pools)',
    ]);
  });

  it("keeps isolated streams out of each other's workspace", () => {
    const text = base(
      '  - { id: a, command: x, workspace: /tmp/w }',
      '  - { id: b, command: x, workspace: /tmp/w/ }',
      '  - { id: c, command: x, workspace: /tmp/s, isolation: shared }',
      '  - { id: d, command: x, workspace: /tmp/s, isolation: shared }',
    );
    expect(errorsOf(text)).toEqual([
      '3:37: streams[1].workspace: workspace "/tmp/w" is also the workspace of stream "a" (at 2:37); an isolated stream needs a directory of its own',
    ]);
  });

  it('checks the convergence types of a point and its streams', () => {
    const text = yaml(
      'agent_coordination:',
      '  convergence_points:',
      '    - name: mixed',
      '      streams: [a, b]',
      '    - name: strict',
      '      type: barrier',
      '      streams: [a, b]',
      'streams:',
      '  - { id: a, command: x, convergence: barrier }',
      '  - { id: b, command: x, convergence: progressive }',
    );
    expect(errorsOf(text)).toEqual([
      '4:16: agent_coordination.convergence_points[0].streams: point "mixed" has no type and its streams disagree (a wants barrier, b wants progressive); set its type',
      '7:20: agent_coordination.convergence_points[1].streams[1]: stream "b" asks for progressive convergence but point "strict" is barrier',
    ]);
  });

  it('reports schema and semantic errors together, sorted', () => {
    const text = yaml(
      'agent_coordination:',
      '  heartbeat: { timeout: 10 minutes }',
      'streams:',
      '  - id: a',
      '    command: x',
      '    depends_on: [ghost]',
      '  - id: a',
      '    retries: many',
      '  - id: b/c',
      '    command: y',
      '    depends_on: [a]',
    );
    const diags = invalid(text);
    expect(diags.map((d) => `${d.line}:${d.col}: ${d.message}`)).toEqual([
      '2:25: agent_coordination.heartbeat.timeout: bad duration "10 minutes": use 500ms, 30s, 5m, 1h or a number of seconds',
      '6:18: streams[0].depends_on[0]: unknown dependency "ghost": no stream or convergence point has that name',
      '7:5: streams[1]: missing required field "command"',
      '7:9: streams[1].id: duplicate id "a" (first defined at 4:9)',
      '8:14: streams[1].retries: expected an integer, got the string "many"',
      '9:9: streams[2].id: id "b/c" must not contain a path separator',
    ]);
    expect(diags.every((d) => d.file === 'plan.yaml')).toBe(true);
    expect(diags[0]?.source).toBe('  heartbeat: { timeout: 10 minutes }');
  });
});
