/**
 * What the docs tests read in markdown: headings and their GitHub anchors, sections, fenced
 * blocks, relative links, and the output blocks turned into line patterns. Only what README.md
 * and docs/*.md use (ATX headings, ``` fences); not a markdown parser.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../rig.js';

/** README.md and every docs/*.md, as paths relative to the repository. */
export function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs];
}

export function readDoc(rel: string): string {
  return readFileSync(join(ROOT, rel), 'utf8');
}

export interface Block {
  /** The fence's info string (`sh`, `yaml fragment`, '' for none). */
  info: string;
  text: string;
  /** 1-based line of the opening fence. */
  line: number;
}

export interface Heading {
  level: number;
  text: string;
  line: number;
}

/** Lines of `md` with a flag for those inside a fence (the fences themselves included). */
function scan(md: string): Array<{ text: string; fenced: boolean }> {
  let open = false;
  return md.split('\n').map((text) => {
    const fence = /^\s{0,3}```/.test(text);
    const fenced = open || fence;
    if (fence) open = !open;
    return { text, fenced };
  });
}

export function blocks(md: string): Block[] {
  const out: Block[] = [];
  let current: { info: string; line: number; lines: string[] } | undefined;
  md.split('\n').forEach((text, i) => {
    const fence = /^\s{0,3}```(.*)$/.exec(text);
    if (current === undefined) {
      if (fence) current = { info: fence[1]!.trim(), line: i + 1, lines: [] };
    } else if (fence && fence[1]!.trim() === '') {
      out.push({ info: current.info, text: current.lines.map((l) => `${l}\n`).join(''), line: current.line });
      current = undefined;
    } else {
      current.lines.push(text);
    }
  });
  if (current !== undefined) throw new Error(`a fence opened at line ${current.line} is never closed`);
  return out;
}

export function headings(md: string): Heading[] {
  const out: Heading[] = [];
  scan(md).forEach(({ text, fenced }, i) => {
    const m = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(text);
    if (m && !fenced) out.push({ level: m[1]!.length, text: m[2]!, line: i + 1 });
  });
  return out;
}

/** The text of the section under the heading `text`: up to the next heading of its level or higher. */
export function section(md: string, text: string): string {
  const all = headings(md);
  const at = all.findIndex((h) => h.text === text);
  if (at < 0) throw new Error(`no heading "${text}"`);
  const next = all.slice(at + 1).find((h) => h.level <= all[at]!.level);
  const lines = md.split('\n');
  return lines.slice(all[at]!.line, next === undefined ? undefined : next.line - 1).join('\n');
}

/**
 * GitHub's anchor of a heading: its text as rendered (code marks, emphasis and link targets
 * gone), lowercased, every character but letters, digits, marks, `_`, `-` and spaces dropped,
 * spaces turned into `-`.
 */
export function slug(heading: string): string {
  const rendered = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/[`*]/g, '');
  return rendered
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor of a page; a heading seen before gets `-1`, `-2`… as on GitHub. */
export function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const h of headings(md)) {
    const base = slug(h.text);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

export interface Link {
  target: string;
  line: number;
}

/** Links and images (`[text](target)`, `![alt](target)`) outside fences and code spans. */
export function links(md: string): Link[] {
  // fenced lines become empty, code spans keep only their line breaks: line numbers stay
  const prose = scan(md)
    .map(({ text, fenced }) => (fenced ? '' : text))
    .join('\n')
    .replace(/(`+)[\s\S]*?\1/g, (span) => span.replace(/[^\n]/g, ''));
  const out: Link[] = [];
  for (const m of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    out.push({ target: m[1]!, line: prose.slice(0, m.index).split('\n').length });
  }
  return out;
}

/** A duration as coord prints it: `850ms`, `12.3s`, `4m05s`, `1h02m`. */
const DURATION = /^(\d+ms|\d+\.\ds|\d+m\d\ds|\d+h\d\dm)$/;
const RUN_ID = /\d{8}-\d{6}-[0-9a-f]{6}/g;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * An output block shown in the docs as one pattern per line: what differs from run to run —
 * times, run ids, absolute paths — matches any value of its kind; runs of spaces (table
 * columns, whose widths follow the values) match any run of spaces.
 */
export function outputPatterns(block: string): RegExp[] {
  const lines = block.replace(/\n+$/, '').split('\n');
  return lines.map((line) => {
    const tokens = line.trim() === '' ? [] : line.trim().split(/\s+/);
    const parts = tokens.map((token) => {
      if (DURATION.test(token)) return '(\\d+ms|\\d+\\.\\ds|\\d+m\\d\\ds|\\d+h\\d\\dm)';
      if (token.startsWith('/')) return '/\\S*';
      return token.split(RUN_ID).map(escapeRegExp).join('\\d{8}-\\d{6}-[0-9a-f]{6}');
    });
    return new RegExp(`^${parts.join('\\s+')}$`);
  });
}

/** The lines of `output` that `patterns` do not match, each against the line at its place at the end. */
export function unmatchedTail(output: string, patterns: RegExp[]): string[] {
  const lines = output
    .replace(/\n+$/, '')
    .split('\n')
    .map((l) => l.trim());
  const tail = lines.slice(-patterns.length);
  const misses: string[] = [];
  patterns.forEach((p, i) => {
    const line = tail[i] ?? '(missing)';
    if (!p.test(line)) misses.push(`${JSON.stringify(line)} does not match ${p}`);
  });
  return misses;
}

/** The command lines of a shell block: blank lines and comment-only lines left out. */
export function commands(block: string): string[] {
  return block
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/**
 * The words of a shell command line, in the simple commands it is made of: split at unquoted
 * `|`, `;`, `&`, `(`, `)` and `$(`; quotes and backslashes removed. Enough for the one-line
 * commands the docs show, not a shell.
 */
export function simpleCommands(line: string): string[][] {
  const out: string[][] = [];
  let words: string[] = [];
  let word: string | undefined;
  const endWord = (): void => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  const endCommand = (): void => {
    endWord();
    if (words.length > 0) out.push(words);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      word = (word ?? '') + line.slice(i + 1, end < 0 ? undefined : end);
      i = end < 0 ? line.length : end;
    } else if (c === '"') {
      let j = i + 1;
      let text = '';
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        text += line[j];
      }
      word = (word ?? '') + text;
      i = j;
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (c === '#' && word === undefined) {
      break;
    } else if (/\s/.test(c)) {
      endWord();
    } else if ('|;&()'.includes(c) || (c === '$' && line[i + 1] === '(')) {
      if (c === '$') i++;
      endCommand();
    } else {
      word = (word ?? '') + c;
    }
  }
  endCommand();
  return out;
}

const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'while', 'until', 'do', 'done', 'fi', '!', 'time', 'exec', 'npx']);

/**
 * The arguments of every `coord` (`npx coord`, `npx @coord-run/coord`) the line runs, those inside a quoted
 * command (`sh -c '… coord write …'`) included.
 */
export function coordInvocations(line: string): string[][] {
  const out: string[][] = [];
  for (const words of simpleCommands(line)) {
    let i = 0;
    while (i < words.length && (KEYWORDS.has(words[i]!) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!))) i++;
    if (words[i] === 'coord' || words[i] === '@coord-run/coord') out.push(words.slice(i + 1));
    // a quoted command line given to another program (sh -c '…', watch '…')
    for (const w of words) if (/(^|[\s|;&(])coord\s/.test(w) && w.includes(' ')) out.push(...coordInvocations(w));
  }
  return out;
}
