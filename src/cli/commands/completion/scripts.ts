/**
 * Shell completion scripts generated from the command definitions themselves (commander's
 * tree): every command and subcommand, their options, which options take a value, and the
 * values of options and arguments with fixed choices. After `--`, words are CMD's: the shell's
 * own completion (files) applies.
 */
import type { Command, Option } from 'commander';

/** One command of the tree, as completion sees it. */
export interface CompletionNode {
  /** Subcommand names from the root, '' for the root. */
  path: string;
  description: string;
  subcommands: string[];
  /** Every flag spelling (`-c`, `--concurrency`), `--help` included. */
  options: Array<{ flags: string[]; takesValue: boolean; choices: string[]; description: string }>;
  /** The choices of the first argument that has fixed ones (`coord completion bash|zsh|fish`). */
  argumentChoices: string[];
}

const flagsOf = (o: Option): string[] => [o.short, o.long].filter((f): f is string => typeof f === 'string');

/** The commands of `root` in depth-first order, `help` (and its COMMAND) and `--help` included. */
export function completionTree(root: Command): CompletionNode[] {
  const out: CompletionNode[] = [];
  const walk = (cmd: Command, path: string): void => {
    const subs = cmd.commands.map((c) => c.name());
    const options = cmd.options.map((o) => ({
      flags: flagsOf(o),
      takesValue: o.required || o.optional,
      choices: o.argChoices ?? [],
      description: o.description,
    }));
    options.push({ flags: ['-h', '--help'], takesValue: false, choices: [], description: 'display help for command' });
    const argumentChoices = cmd.registeredArguments.find((a) => (a.argChoices ?? []).length > 0)?.argChoices ?? [];
    out.push({ path, description: cmd.description(), subcommands: path === '' ? [...subs, 'help'] : subs, options, argumentChoices });
    for (const c of cmd.commands) walk(c, path === '' ? c.name() : `${path} ${c.name()}`);
  };
  walk(root, '');
  // `coord help COMMAND`
  out.push({ path: 'help', description: 'display help for command', subcommands: root.commands.map((c) => c.name()), options: [], argumentChoices: [] });
  return out;
}

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The case arms of one shell function: `"path") echo words;;` per node with words. */
function cases(nodes: CompletionNode[], words: (n: CompletionNode) => string[]): string {
  return nodes
    .filter((n) => words(n).length > 0)
    .map((n) => `    ${sq(n.path)}) echo ${sq(words(n).join(' '))} ;;`)
    .join('\n');
}

/** The shell functions bash and zsh share: subcommands, options, value-taking options and choices of a command path. */
function sharedFunctions(name: string, nodes: CompletionNode[]): string {
  const valued = nodes.flatMap((n) => n.options.filter((o) => o.takesValue).flatMap((o) => o.flags.map((f) => `${n.path}|${f}`)));
  const choices = nodes.flatMap((n) =>
    n.options.filter((o) => o.choices.length > 0).flatMap((o) => o.flags.map((f) => [`${n.path}|${f}`, o.choices.join(' ')] as const)),
  );
  return [
    `_${name}_subcommands() {`,
    '  case "$1" in',
    cases(nodes, (n) => n.subcommands),
    '  esac',
    '}',
    `_${name}_options() {`,
    '  case "$1" in',
    cases(nodes, (n) => n.options.flatMap((o) => o.flags)),
    '  esac',
    '}',
    `_${name}_argument_choices() {`,
    '  case "$1" in',
    cases(nodes, (n) => n.argumentChoices),
    '  esac',
    '}',
    '# an option that takes a value: the next word is that value',
    `_${name}_takes_value() {`,
    '  case "$1|$2" in',
    ...(valued.length > 0 ? [`    ${valued.map(sq).join('|')}) return 0 ;;`] : []),
    '  esac',
    '  return 1',
    '}',
    `_${name}_option_choices() {`,
    '  case "$1|$2" in',
    ...choices.map(([k, v]) => `    ${sq(k)}) echo ${sq(v)} ;;`),
    '  esac',
    '}',
    '# the command path of the words before the cursor (sets _path; returns 1 after --)',
    `_${name}_path() {`,
    '  _path=""',
    '  local w skip=0 subs',
    '  shift # the program name; the last argument is a sentinel ""',
    '  while (($# > 1)); do',
    '    w=$1',
    '    shift',
    '    if ((skip)); then skip=0; continue; fi',
    '    [[ $w == -- ]] && return 1',
    '    if [[ $w == -* ]]; then',
    `      [[ $w != *=* ]] && _${name}_takes_value "$_path" "$w" && skip=1`,
    '      continue',
    '    fi',
    `    subs=" $(_${name}_subcommands "$_path") "`,
    '    [[ $subs == *" $w "* ]] && _path=${_path:+$_path }$w',
    '  done',
    '  return 0',
    '}',
  ].join('\n');
}

/** `coord completion bash`: `source <(coord completion bash)`, or save it in bash-completion's directory. */
export function bashScript(name: string, nodes: CompletionNode[]): string {
  return `# bash completion for ${name}: source <(${name} completion bash)
${sharedFunctions(name, nodes)}
_${name}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} _path words
  COMPREPLY=()
  # the words before the cursor: after --, CMD's own (files, by -o default)
  _${name}_path "\${COMP_WORDS[@]:0:COMP_CWORD}" "" || return 0
  if [[ $prev == -* ]] && _${name}_takes_value "$_path" "$prev"; then
    words=$(_${name}_option_choices "$_path" "$prev")
    [[ -n $words ]] && COMPREPLY=($(compgen -W "$words" -- "$cur"))
    return 0
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_${name}_options "$_path")" -- "$cur"))
    return 0
  fi
  words="$(_${name}_subcommands "$_path") $(_${name}_argument_choices "$_path")"
  [[ -n \${words// /} ]] && COMPREPLY=($(compgen -W "$words" -- "$cur"))
  return 0
}
complete -o default -o bashdefault -F _${name} ${name}
`;
}

/** `coord completion zsh`: save it as `_coord` in a directory of $fpath, or `source <(coord completion zsh)`. */
export function zshScript(name: string, nodes: CompletionNode[]): string {
  return `#compdef ${name}
# zsh completion for ${name}: source <(${name} completion zsh), or save it as _${name} in $fpath
${sharedFunctions(name, nodes)}
_${name}() {
  local cur=\${words[CURRENT]} prev=\${words[CURRENT-1]} _path
  local -a list
  _${name}_path "\${(@)words[1,CURRENT-1]}" "" || { _files; return; }
  if [[ $prev == -* ]] && _${name}_takes_value "$_path" "$prev"; then
    list=(\${=$(_${name}_option_choices "$_path" "$prev")})
    if (( \${#list} )); then compadd -a list; else _files; fi
    return
  fi
  if [[ $cur == -* ]]; then
    list=(\${=$(_${name}_options "$_path")})
    compadd -a list
    return
  fi
  list=(\${=$(_${name}_subcommands "$_path")} \${=$(_${name}_argument_choices "$_path")})
  if (( \${#list} )); then compadd -a list; else _files; fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _${name} "$@"; else compdef _${name} ${name}; fi
`;
}

/** `coord completion fish`: save it as ~/.config/fish/completions/coord.fish, or `coord completion fish | source`. */
export function fishScript(name: string, nodes: CompletionNode[]): string {
  const fq = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const lines = [`# fish completion for ${name}: ${name} completion fish | source`];
  const byPath = new Map(nodes.map((n) => [n.path, n]));
  for (const n of nodes) {
    const parts = n.path === '' ? [] : n.path.split(' ');
    // the condition: this node's words have been seen, and none of its subcommands yet
    const seen = parts.map((p) => `__fish_seen_subcommand_from ${p}`);
    const notYet = n.subcommands.length > 0 ? [`not __fish_seen_subcommand_from ${n.subcommands.join(' ')}`] : [];
    const cond = n.path === '' ? (n.subcommands.length > 0 ? `__fish_use_subcommand` : '') : [...seen, ...notYet].join('; and ');
    const when = cond ? ` -n ${fq(cond)}` : '';
    for (const s of n.subcommands) {
      const desc = byPath.get(n.path === '' ? s : `${n.path} ${s}`)?.description ?? 'display help for command';
      lines.push(`complete -c ${name}${when} -f -a ${fq(s)} -d ${fq(desc)}`);
    }
    for (const c of n.argumentChoices) lines.push(`complete -c ${name}${when} -f -a ${fq(c)}`);
    for (const o of n.options) {
      const spell = o.flags.map((f) => (f.startsWith('--') ? `-l ${f.slice(2)}` : `-s ${f.slice(1)}`)).join(' ');
      const value = o.takesValue ? (o.choices.length > 0 ? ` -x -a ${fq(o.choices.join(' '))}` : ' -r -F') : '';
      lines.push(`complete -c ${name}${when} ${spell}${value} -d ${fq(o.description)}`);
    }
  }
  return lines.join('\n') + '\n';
}
