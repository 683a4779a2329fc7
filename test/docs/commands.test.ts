/**
 * Every `coord` command line the docs show names a command coord has, and only options that
 * command has: the shell blocks of README.md and docs/*.md, and the command cells of the
 * reference tables (`| command | does |`). Commands and options are read from what coord
 * itself generates from its definitions: `coord completion bash`.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Rig } from '../rig.js';
import { blocks, commands, coordInvocations, docFiles, readDoc } from './markdown.js';

interface Spec {
  subcommands: Map<string, string[]>;
  options: Map<string, string[]>;
}

let rig: Rig;
let spec: Spec;
beforeAll(async () => {
  rig = new Rig();
  const r = await rig.coord(['completion', 'bash']);
  expect(r.code).toBe(0);
  const table = (fn: string): Map<string, string[]> => {
    const body = r.stdout.slice(r.stdout.indexOf(`${fn}() {`));
    const cases = body.slice(0, body.indexOf('\n}'));
    return new Map([...cases.matchAll(/^\s*'([^']*)'\) echo '([^']*)' ;;$/gm)].map((m) => [m[1]!, m[2]!.split(' ')]));
  };
  spec = { subcommands: table('_coord_subcommands'), options: table('_coord_options') };
});
afterAll(async () => {
  await rig.cleanup();
});

/** What is wrong with `coord ARGS` (the arguments as words), or [] when nothing is. */
function problems(args: string[]): string[] {
  let path = '';
  let rest = args;
  // the command, then a subcommand where the command has some
  for (let depth = 0; depth < 2 && rest.length > 0 && !rest[0]!.startsWith('-'); depth++) {
    const subs = spec.subcommands.get(path);
    if (subs === undefined) break;
    if (!subs.includes(rest[0]!)) return depth === 0 ? [`no command "${rest[0]}"`] : [`no subcommand "${path} ${rest[0]}"`];
    path = path === '' ? rest[0]! : `${path} ${rest[0]}`;
    rest = rest.slice(1);
  }
  const end = rest.indexOf('--');
  const own = (end < 0 ? rest : rest.slice(0, end)).filter((w) => /^--?[A-Za-z]/.test(w)).map((w) => w.split('=')[0]!);
  const known = spec.options.get(path) ?? [];
  return own.filter((o) => !known.includes(o)).map((o) => `"coord ${path}" has no option ${o}`);
}

/** The command lines of the shell blocks of a page, with their lines. */
function shellLines(file: string): Array<{ where: string; line: string }> {
  return blocks(readDoc(file))
    .filter((b) => b.info === 'sh')
    .flatMap((b) => commands(b.text).map((line) => ({ where: `${file}:${b.line}`, line })));
}

/**
 * The command cells of the `| command | does |` tables of a page: each `coord …` code span,
 * and the spans after it that name a subcommand of the same command (`/ set KEY [JSON]`).
 */
function tableCommands(file: string): Array<{ where: string; args: string[] }> {
  const out: Array<{ where: string; args: string[] }> = [];
  let inTable = false;
  readDoc(file)
    .split('\n')
    .forEach((row, i) => {
      if (/^\|\s*command\s*\|\s*does\s*\|/.test(row)) inTable = true;
      else if (!row.startsWith('|')) inTable = false;
      if (!inTable || /^\|\s*(command|-)/.test(row)) return;
      const cell = row.split(/(?<!\\)\|/)[1] ?? '';
      let command: string | undefined;
      for (const span of cell.matchAll(/`([^`]+)`/g)) {
        const text = span[1]!.replace(/\\\|/g, '|');
        const words = text.split(/\s+/);
        if (words[0] === 'coord') command = words[1];
        else if (command === undefined) continue;
        else words.unshift('coord', command);
        // the options named in the synopsis: [--json], [-f|--follow], --run RUN_ID
        const options = [...text.matchAll(/(?<![\w-])(--?[A-Za-z][\w-]*)/g)].map((m) => m[1]!);
        const positional = words.slice(1).filter((w) => /^[a-z]+$/.test(w));
        out.push({ where: `${file}:${i + 1}`, args: [...positional.slice(0, 2), ...options] });
      }
    });
  return out;
}

describe('coord commands in the docs', () => {
  it('reads the commands and their options from coord completion bash', () => {
    expect(spec.subcommands.get('')).toEqual(expect.arrayContaining(['run', 'state', 'queue']));
    expect(spec.options.get('run')).toEqual(expect.arrayContaining(['--concurrency', '--json']));
    expect(spec.options.get('state set')).toEqual(expect.arrayContaining(['--expect-version']));
  });

  it('tells a wrong command, subcommand or option (the check itself)', () => {
    expect(problems(['run', 'plan.yaml', '--json'])).toEqual([]);
    expect(problems(['state', 'set', 'a', '1', '--expect-version', '3'])).toEqual([]);
    expect(problems(['lock', 'f', '--read', '--', 'sh', '--not-coords'])).toEqual([]);
    expect(problems(['--version'])).toEqual([]);
    expect(problems(['rnu', 'plan.yaml'])).toEqual(['no command "rnu"']);
    expect(problems(['state', 'put', 'a'])).toEqual(['no subcommand "state put"']);
    expect(problems(['run', 'plan.yaml', '--jsn'])).toEqual(['"coord run" has no option --jsn']);
    expect(problems(['status', '--concurrency=3'])).toEqual(['"coord status" has no option --concurrency']);
  });

  it.each(docFiles())('%s: every coord command line of its shell blocks is one coord has', (file) => {
    const bad = shellLines(file).flatMap(({ where, line }) => coordInvocations(line).flatMap((args) => problems(args).map((p) => `${where}: ${line}: ${p}`)));
    expect(bad).toEqual([]);
  });

  it('finds the command lines and the reference tables (docs/cli.md, docs/coordination.md)', () => {
    const lines = docFiles().flatMap((f) => shellLines(f).flatMap(({ line }) => coordInvocations(line)));
    expect(lines.length).toBeGreaterThan(30);
    expect(tableCommands('docs/cli.md').length).toBeGreaterThan(25);
    expect(tableCommands('docs/coordination.md').length).toBe(4);
  });

  it.each(['docs/cli.md', 'docs/coordination.md'])('%s: every command of its command tables is one coord has, with options it has', (file) => {
    const bad = tableCommands(file).flatMap(({ where, args }) => problems(args).map((p) => `${where}: coord ${args.join(' ')}: ${p}`));
    expect(bad).toEqual([]);
  });
});
