/**
 * From a path in the plan document (`['streams', 2, 'timeout']`) to where it stands in the
 * YAML source, and to the dotted form used at the start of every message (`streams[2].timeout`).
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { Diagnostic } from './diagnostics.js';
import type { SourcePos } from './types.js';

/** One step of a document path: a mapping key or a list index. */
export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `['streams', 2, 'timeout']` → `streams[2].timeout`; the empty path is `plan`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out === '' ? 'plan' : out;
}

/** The scalar value of a mapping key (aliases resolved), as a string; undefined for complex keys. */
export function keyString(key: unknown, doc: Document): string | undefined {
  let k = key;
  if (isAlias(k)) k = k.resolve(doc);
  if (isScalar(k)) return String(k.value);
  if (k === null || typeof k !== 'object') return k === undefined ? undefined : String(k);
  return undefined;
}

/** Maps document paths to source positions and builds diagnostics there. */
export class Locator {
  private readonly lines: string[];

  constructor(
    private readonly doc: Document,
    private readonly counter: LineCounter,
    text: string,
    private readonly file: string,
  ) {
    this.lines = text.split('\n');
  }

  /** Position of a source offset. */
  posOf(offset: number): SourcePos {
    const p = this.counter.linePos(Math.max(0, offset));
    return { line: Math.max(1, p.line), col: Math.max(1, p.col) };
  }

  /** Position of a node (its first character), or 1:1 when it has none. */
  nodePos(node: unknown): SourcePos {
    const range = (node as { range?: unknown } | null)?.range;
    if (Array.isArray(range) && typeof range[0] === 'number') return this.posOf(range[0]);
    return { line: 1, col: 1 };
  }

  /** The deepest node along `path`, and whether the whole path was found. */
  find(path: readonly PropertyKey[]): { node: Node | null; exact: boolean } {
    let node: unknown = this.doc.contents;
    if (node === null || node === undefined) return { node: null, exact: path.length === 0 };
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      let cur: unknown = node;
      if (isAlias(cur)) cur = cur.resolve(this.doc);
      let next: unknown;
      if (isMap(cur)) {
        const pair = cur.items.find((p) => keyString(p.key, this.doc) === String(seg));
        if (pair) next = pair.value ?? pair.key;
      } else if (isSeq(cur) && typeof seg === 'number') {
        next = cur.items[seg];
      }
      if (next === undefined || next === null || isPair(next)) return { node: node as Node, exact: false };
      node = next;
    }
    return { node: node as Node, exact: true };
  }

  /** Position of the value at `path` (or of its deepest existing ancestor). */
  at(path: readonly PropertyKey[]): SourcePos {
    return this.nodePos(this.find(path).node);
  }

  /** Position of the key `key` in the mapping at `path` (or of the mapping). */
  keyAt(path: readonly PropertyKey[], key: string): SourcePos {
    const { node, exact } = this.find(path);
    let cur: unknown = node;
    if (isAlias(cur)) cur = cur.resolve(this.doc);
    if (exact && isMap(cur)) {
      const pair = cur.items.find((p) => keyString(p.key, this.doc) === key);
      if (pair && pair.key !== null && typeof pair.key === 'object') return this.nodePos(pair.key);
    }
    return this.nodePos(node);
  }

  /** A diagnostic at `pos` with the source line attached. */
  diag(pos: SourcePos, message: string): Diagnostic {
    const d: Diagnostic = { file: this.file, line: pos.line, col: pos.col, message };
    const src = this.lines[pos.line - 1];
    if (src !== undefined) d.source = src.replace(/\r$/, '');
    return d;
  }
}
