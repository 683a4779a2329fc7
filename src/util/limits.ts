/**
 * What the shared state and the queues store is bounded (docs/coordination.md, "Shared state", "Queues"):
 * a state document and a JSON message nest at most {@link MAX_DEPTH} levels of objects and
 * arrays, and take at most {@link MAX_STATE_BYTES} / {@link MAX_MESSAGE_BYTES} as JSON.
 *
 * Why bound the depth: code that walks JSON recursively — V8's JSON.stringify (a few thousand
 * levels), the state's own copy, compare and merge, a consumer's parser (Python's json stops
 * near 1,000 levels, Ruby's at 100 by default) — overflows its stack on a document nested
 * deeply enough. A state nested 2,500 levels deep was stored, and every later write then
 * failed with "Maximum call stack size exceeded". 64 is far more than configuration and work
 * items need, and far below where any of those fail.
 *
 * Why bound the size: every state write reads, copies, compares and rewrites the whole
 * document, and `keep_versions` (100 by default) copies of it are kept; every message is
 * stored whole, on Redis in the server's memory. Data larger than a few MiB belongs in files,
 * with their paths in the state or the message.
 *
 * The functions here never recurse: they must work on documents far deeper than the limit
 * (what an older coord stored).
 */

/** Levels of objects and arrays a state document or a JSON message may nest (the document itself is level 1). */
export const MAX_DEPTH = 64;
/** The largest state document, as compact JSON in UTF-8. */
export const MAX_STATE_BYTES = 4 * 1024 * 1024;
/** The largest queue message body, in UTF-8. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** A size in the units the limits are given in: `4 MiB`, else bytes. */
export function formatLimit(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

interface Open {
  node: object;
  /** The keys of an object (null: an array, whose keys are its indexes). */
  keys: string[] | null;
  length: number;
  next: number;
  /** The key under which the container stands in its parent. */
  key: string;
}

function isContainer(v: unknown): v is object {
  return typeof v === 'object' && v !== null;
}

/**
 * The path to the first object or array nested deeper than `max` levels in `value`, where
 * `value` itself stands at level `level + 1` (`level`: the containers above it; the keys of
 * `prefix` lead to it). Undefined when it nests `max` levels or fewer. Walks depth first
 * with its own stack, looking no deeper than `max + 1`.
 */
export function tooDeepAt(value: unknown, max: number = MAX_DEPTH, level = 0, prefix: readonly string[] = []): string[] | undefined {
  if (!isContainer(value)) return undefined;
  if (level + 1 > max) return [...prefix];
  const open: Open[] = [];
  const enter = (node: object, key: string): void => {
    const keys = Array.isArray(node) ? null : Object.keys(node);
    open.push({ node, keys, length: keys ? keys.length : (node as unknown[]).length, next: 0, key });
  };
  enter(value, '');
  while (open.length > 0) {
    const top = open[open.length - 1]!;
    if (top.next >= top.length) {
      open.pop();
      continue;
    }
    const i = top.next++;
    const child: unknown = top.keys ? (top.node as Record<string, unknown>)[top.keys[i]!] : (top.node as unknown[])[i];
    if (!isContainer(child)) continue;
    const key = top.keys ? top.keys[i]! : String(i);
    // the child stands at level + open.length + 1
    if (level + open.length + 1 > max) return [...prefix, ...open.slice(1).map((o) => o.key), key];
    enter(child, key);
  }
  return undefined;
}

/** A path for a message: dotted, its first 8 segments (the rest as `…`). */
export function showPath(path: readonly string[]): string {
  if (path.length === 0) return 'the top';
  return path.length > 8 ? `${path.slice(0, 8).join('.')}.…` : path.join('.');
}

/**
 * True when `text` is a JSON document nesting more than `max` levels. A scan for brackets
 * outside strings finds the depth without building anything; only text that goes deeper is
 * parsed (JSON.parse does not recurse), since text that is not JSON is not bounded here.
 */
export function jsonTextTooDeep(text: string, max: number = MAX_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  let deeper = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) {
        deeper = true;
        break;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  if (!deeper) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
