/**
 * What every command of the command line has, checked over the definitions themselves (so a
 * new command cannot miss it): help with examples, one --json, the run selector where a
 * command addresses a run, --backend only where a backend is used, and bad usage exiting 2
 * (run for real, a process per command).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Command } from 'commander';
import { Rig } from '../rig.js';
import { buildProgram } from '../../src/cli/program.js';

/** Every command with its words from the root (`['state', 'get']`), the root excluded. */
function commands(): Array<{ words: string[]; cmd: Command }> {
  const out: Array<{ words: string[]; cmd: Command }> = [];
  const walk = (c: Command, words: string[]): void => {
    for (const sub of c.commands) {
      out.push({ words: [...words, sub.name()], cmd: sub });
      walk(sub, [...words, sub.name()]);
    }
  };
  walk(buildProgram(), []);
  return out;
}

/** The whole help a command prints (commander's text and what addHelpText adds). */
function helpOf(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  cmd.outputHelp();
  return text;
}

const all = commands();
const leaves = all.filter((c) => c.cmd.commands.length === 0);
const flagOf = (cmd: Command, long: string) => cmd.options.find((o) => o.long === long);

describe('every command', () => {
  it('has help with examples', () => {
    const missing = all.filter(({ cmd }) => !/\nExamples?:\n {2}[^\n]*\bcoord\b/.test(helpOf(cmd))).map((c) => c.words.join(' '));
    expect(missing).toEqual([]);
    expect(all.length).toBeGreaterThanOrEqual(36);
  });

  it('that prints data takes --json, with one description', () => {
    const data = [
      'run',
      'continue',
      'validate',
      'init',
      'status',
      'events',
      'locks',
      'diff',
      'dashboard',
      'stop',
      'clean',
      'apply',
      'spawn',
      'propose',
      'vote',
      'decision',
    ];
    for (const name of data) expect(flagOf(all.find((c) => c.words.join(' ') === name)!.cmd, '--json')).toBeDefined();
    const descriptions = new Set(leaves.map(({ cmd }) => flagOf(cmd, '--json')?.description).filter((d) => d !== undefined));
    expect(descriptions.size).toBe(1);
  });

  it('that addresses a run takes --run, and the positional RUN_ID where its written form has one', () => {
    const positional = ['continue', 'diff', 'apply', 'status', 'logs', 'events', 'stop', 'clean', 'locks', 'dashboard'];
    const option = [
      'spawn',
      'resource acquire',
      'propose',
      'vote',
      'decision',
      ...['get', 'set', 'incr', 'merge', 'delete', 'log', 'rollback', 'watch'].map((s) => `state ${s}`),
      ...['send', 'recv', 'ack', 'ls'].map((s) => `queue ${s}`),
    ];
    for (const { words, cmd } of leaves) {
      const name = words.join(' ');
      const hasPositional = cmd.registeredArguments.some((a) => a.name() === 'run');
      expect([name, hasPositional]).toEqual([name, positional.includes(name)]);
      if (positional.includes(name) || option.includes(name)) expect([name, flagOf(cmd, '--run')?.flags]).toEqual([name, '--run <id>']);
    }
  });

  it('takes --backend only when it uses a backend', () => {
    const without = ['validate', 'init', 'heartbeat', 'completion'];
    for (const { words, cmd } of leaves)
      expect([words.join(' '), flagOf(cmd, '--backend') !== undefined]).toEqual([words.join(' '), !without.includes(words.join(' '))]);
  });

  it('gives -q one meaning: --quiet', () => {
    for (const { words, cmd } of leaves) {
      const q = cmd.options.find((o) => o.short === '-q');
      if (q) expect([words.join(' '), q.long]).toEqual([words.join(' '), '--quiet']);
    }
    expect(flagOf(all.find((c) => c.words[0] === 'propose')!.cmd, '--quorum')?.short).toBeUndefined();
  });
});

describe('bad usage', () => {
  let rig: Rig;
  beforeAll(() => {
    rig = new Rig();
  });
  afterAll(async () => rig.cleanup());

  it('exits 2 on every command, naming the option, before anything runs', async () => {
    const results: Array<{ name: string; code: number | null; named: boolean }> = [];
    const queue = [...leaves];
    // four at a time: a process per command
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let c = queue.shift(); c; c = queue.shift()) {
          // spawn's required --id is given: its absence would be reported first
          const r = await rig.coord([...c.words, ...(c.words[0] === 'spawn' ? ['--id', 'x'] : []), '--no-such-option']);
          results.push({ name: c.words.join(' '), code: r.code, named: r.stderr.includes("unknown option '--no-such-option'") });
        }
      }),
    );
    results.sort((a, b) => (a.name < b.name ? -1 : 1));
    expect(results.filter((r) => r.code !== 2 || !r.named)).toEqual([]);
    expect(results.length).toBe(leaves.length);
    expect(rig.runIds()).toEqual([]);
  });
});
