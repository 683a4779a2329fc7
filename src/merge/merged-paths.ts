/**
 * What merges into one target changed: each path written (and by which streams) and each
 * base path deleted. A progressive point judges a later stream's changes against it (never
 * against the base content of the target), and it is the point's merged change set that
 * `coord apply` takes home. Keys are paths as compared (case-folded on case-insensitive
 * targets); `rel` is the path as written.
 */
import type { PriorPaths } from './deletions.js';

/** One changed path: its name as written and the streams that changed it (completion order). */
export interface ChangedPath {
  rel: string;
  streams: string[];
}

/** The JSON form of {@link MergedPaths}. */
export interface MergedPathsJson {
  written: Array<[key: string, rel: string, streams: string[]]>;
  deleted: Array<[key: string, rel: string, streams: string[]]>;
}

export class MergedPaths implements PriorPaths {
  readonly written = new Map<string, ChangedPath>();
  readonly deleted = new Map<string, ChangedPath>();

  /** `stream` wrote `rel` (a file, link or empty directory). */
  wrote(key: string, rel: string, stream: string): void {
    const had = this.written.get(key);
    if (had !== undefined && !had.streams.includes(stream)) had.streams.push(stream);
    else if (had === undefined) this.written.set(key, { rel, streams: [stream] });
    this.deleted.delete(key);
  }

  /** `streams` deleted the base path `rel` (a prior write there is gone with it). */
  deletedBy(key: string, rel: string, streams: string[]): void {
    this.deleted.set(key, { rel, streams: [...streams] });
    this.written.delete(key);
  }

  /** The streams that changed `key`, or, for a directory, everything below it. */
  streamsAt(key: string): string[] {
    const direct = this.written.get(key) ?? this.deleted.get(key);
    if (direct !== undefined) return [...direct.streams];
    const prefix = `${key}/`;
    const out = new Set<string>();
    for (const [k, v] of this.written) if (k.startsWith(prefix)) for (const s of v.streams) out.add(s);
    return [...out];
  }

  /** Keys an earlier merge wrote, and their parent directories: the target content a later merge is judged against. */
  claimable(): (key: string) => boolean {
    const keys = new Set<string>();
    for (const k of this.written.keys()) {
      keys.add(k);
      for (let cut = k.lastIndexOf('/'); cut > 0; cut = k.lastIndexOf('/', cut - 1)) keys.add(k.slice(0, cut));
    }
    return (key) => keys.has(key);
  }

  /** Takes over everything `other` holds. */
  replaceWith(other: MergedPaths): void {
    this.written.clear();
    this.deleted.clear();
    for (const [k, v] of other.written) this.written.set(k, { rel: v.rel, streams: [...v.streams] });
    for (const [k, v] of other.deleted) this.deleted.set(k, { rel: v.rel, streams: [...v.streams] });
  }

  toJSON(): MergedPathsJson {
    return {
      written: [...this.written].map(([k, v]) => [k, v.rel, v.streams]),
      deleted: [...this.deleted].map(([k, v]) => [k, v.rel, v.streams]),
    };
  }

  static fromJSON(json: MergedPathsJson): MergedPaths {
    const m = new MergedPaths();
    for (const [k, rel, streams] of json.written) m.written.set(k, { rel, streams: [...streams] });
    for (const [k, rel, streams] of json.deleted) m.deleted.set(k, { rel, streams: [...streams] });
    return m;
  }
}
