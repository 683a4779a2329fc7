/**
 * `coord completion bash|zsh|fish`: the scripts are generated from the command definitions.
 * The bash script is loaded into a real bash and its completion function run on command lines
 * (as bash runs it on Tab); when zsh and fish are installed, their scripts are parsed, fish's
 * completion engine run on them and zsh's function run with stand-ins for its builtins; their
 * text is checked for naming every command and option in any case.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rig } from '../rig.js';
import { requires } from '../requires.js';
import { buildProgram } from '../../src/cli/program.js';
import { completionTree } from '../../src/cli/commands/completion/scripts.js';

const shell = (name: string) => ({
  what: name,
  missing: () => {
    const r = spawnSync(name, ['-c', 'exit 0'], { stdio: 'ignore' });
    return r.error || r.status !== 0 ? `${name} is not installed (apt-get install ${name})` : null;
  },
});

const nodes = completionTree(buildProgram());
const allCommands = nodes.filter((n) => n.path !== '').map((n) => n.path.split(' ').at(-1)!);

let rig: Rig;
const scripts: Record<string, string> = {};
beforeAll(async () => {
  rig = new Rig();
  for (const sh of ['bash', 'zsh', 'fish']) {
    const r = await rig.coord(['completion', sh]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    scripts[sh] = r.stdout;
    writeFileSync(join(rig.dir, `coord.${sh}`), r.stdout);
  }
});
afterAll(async () => rig.cleanup());

/** What bash's completion function offers for `words` (the last is the word being completed). */
function complete(words: string[]): string[] {
  const array = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync(
    'bash',
    [
      '--norc',
      '-c',
      `source "$1"; COMP_WORDS=(${array}); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _coord; printf '%s\\n' "\${COMPREPLY[@]}"`,
      'bash',
      join(rig.dir, 'coord.bash'),
    ],
    { encoding: 'utf8' },
  );
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean);
}

describe('coord completion bash', () => {
  it('registers a completion function for coord', () => {
    const r = spawnSync('bash', ['--norc', '-c', 'source "$1"; complete -p coord', 'bash', join(rig.dir, 'coord.bash')], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^complete .*-F _coord coord$/);
  });

  it('completes commands, subcommands, options and choices from the definitions', () => {
    expect(complete(['coord', ''])).toEqual(expect.arrayContaining(['run', 'status', 'state', 'queue', 'completion', 'help']));
    expect(complete(['coord', 'st']).sort()).toEqual(['state', 'status', 'stop']);
    expect(complete(['coord', 'state', ''])).toEqual(['get', 'set', 'incr', 'merge', 'delete', 'log', 'rollback', 'watch']);
    expect(complete(['coord', 'run', '--c'])).toEqual(['--concurrency']);
    expect(complete(['coord', 'status', '--'])).toEqual(expect.arrayContaining(['--json', '--run', '--watch', '--backend', '--help']));
    expect(complete(['coord', 'logs', 'research', '--fd', ''])).toEqual(['stdout', 'stderr']);
    expect(complete(['coord', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
    expect(complete(['coord', 'help', 'qu'])).toEqual(['queue']);
    // the value of an option is not taken for a command; program options before the command
    expect(complete(['coord', 'state', 'get', '--run', 'get', '--j'])).toEqual(['--json']);
    expect(complete(['coord', '--backend', 'redis://h', 'qu'])).toEqual(['queue']);
    // after --, the words are CMD's: coord offers nothing (bash's default completion applies)
    expect(complete(['coord', 'lock', 'notes.md', '--', 'sta'])).toEqual([]);
  });

  it('offers the reporters of run and continue', () => {
    expect(complete(['coord', 'run', 'plan.yaml', '--rep'])).toEqual(['--report', '--reporter']);
    expect(complete(['coord', 'run', 'plan.yaml', '--reporter', ''])).toEqual(['plain', 'tty', 'github']);
    expect(complete(['coord', 'continue', '--reporter', 'g'])).toEqual(['github']);
  });

  it('offers every option of every command', () => {
    for (const n of nodes) {
      const words = ['coord', ...(n.path === '' ? [] : n.path.split(' ')), '-'];
      const got = complete(words);
      for (const o of n.options) for (const f of o.flags) if (f.startsWith('--')) expect(got).toContain(f);
    }
  });
});

describe('coord completion zsh and fish', () => {
  it('name every command and every long option', () => {
    for (const sh of ['zsh', 'fish']) {
      for (const c of allCommands) expect(scripts[sh]).toContain(c);
      for (const n of nodes)
        for (const o of n.options) for (const f of o.flags) if (f.startsWith('--')) expect(scripts[sh]).toContain(sh === 'fish' ? `-l ${f.slice(2)}` : f);
    }
    expect(scripts.zsh!.startsWith('#compdef coord\n')).toBe(true);
  });

  requires(shell('zsh')).it('the zsh script parses', () => {
    const r = spawnSync('zsh', ['-n', join(rig.dir, 'coord.zsh')], { encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  });

  requires(shell('fish')).it('the fish script parses', () => {
    const r = spawnSync('fish', ['--no-execute', join(rig.dir, 'coord.fish')], { encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  });

  requires(shell('fish')).it("fish's own completion engine completes from the fish script", () => {
    const offered = (line: string): string[] => {
      const r = spawnSync('fish', ['--no-config', '-c', 'source $argv[1]; complete -C $argv[2]', join(rig.dir, 'coord.fish'), line], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]!);
    };
    expect(offered('coord st').sort()).toEqual(['state', 'status', 'stop']);
    expect(offered('coord state g')).toEqual(['get']);
    expect(offered('coord run --con')).toEqual(['--concurrency']);
    expect(offered('coord logs x --fd ').sort()).toEqual(['stderr', 'stdout']);
  });

  requires(shell('zsh')).it('the zsh completion function offers the words of the command line before the cursor', () => {
    // compadd and _files are zsh's completion builtins, only there inside a completion: stand-ins print what they were given
    const offered = (...words: string[]): string[] => {
      const script = [
        'compdef() { :; }',
        'compadd() { [[ $1 == -a ]] && print -l -- ${(P)2}; }',
        '_files() { print _files; }',
        'source $1; shift',
        'words=("$@"); CURRENT=$#words',
        '_coord',
      ].join('\n');
      const r = spawnSync('zsh', ['-f', '-c', script, 'zsh', join(rig.dir, 'coord.zsh'), ...words], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      return r.stdout.split('\n').filter(Boolean);
    };
    expect(offered('coord', '')).toEqual(expect.arrayContaining(['run', 'status', 'state', 'completion', 'help']));
    expect(offered('coord', 'state', '')).toEqual(['get', 'set', 'incr', 'merge', 'delete', 'log', 'rollback', 'watch']);
    expect(offered('coord', 'run', '--c')).toEqual(expect.arrayContaining(['--concurrency', '-c', '--json']));
    expect(offered('coord', 'logs', 'x', '--fd', '')).toEqual(['stdout', 'stderr']);
    expect(offered('coord', 'lock', 'f', '--', '')).toEqual(['_files']);
  });
});
