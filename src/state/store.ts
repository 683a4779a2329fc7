/**
 * The run's shared state: one JSON document whose every change is a new immutable version
 * (a number that only grows) with a change-log entry — version, time, stream, operation,
 * keys changed. Streams change it from any language through `coord state …`, and from
 * TypeScript through this class.
 *
 * Storage is the Backend's versioned document `state` (compare-and-set: a writer that lost
 * the race re-reads and retries, so no update is ever lost) and its numbered log `changes`,
 * numbered by version. Each version carries its entry, which the backend writes to the log
 * with the commit; when a writer dies between the two, the next commit (or the removal of
 * old versions) writes the entry from the version, so the log never misses a version.
 *
 * `state_management.type`:
 * - `centralized` (the default): this store; `get()` hands out a private copy.
 * - `immutable`: the same store, and `get()` hands out deeply frozen documents: copies are
 *   never mutated in place, every change goes through `update()` (copy-on-write).
 * - `message_queue`: every new version is also published to the queue topic `state`, as
 *   message number = version (readers use `coord queue recv state`).
 *
 * Limits (src/util/limits.ts): a version nests at most MAX_DEPTH levels and takes at most
 * MAX_STATE_BYTES as JSON. Every write checks what it was given and the document it makes
 * before anything is written, and refuses with {@link StateLimitError}. A document an older
 * coord stored deeper than the limit is handed to `fn` as read (a JSON copy would overflow
 * the stack), and only a change that brings it back within the limits is taken — `delete`
 * of the deep key, typically.
 *
 * Old versions are removed beyond `keepVersions`; the change log is kept whole. A snapshot
 * (`snapshot()`, written durably every `checkpoint_interval` by the coordinator and at the
 * end of the run) is what a resumed run restores when its newest versions were lost.
 */
import type { Backend, DocCommitOptions, DocumentStore, DocVersion, EventLog, LogStore, StateSettings } from '../backend/types.js';
import type { CoordEvent, EventInput } from '../events/types.js';
import {
  changedKeys,
  cloneJson,
  deepEqual,
  deepFreeze,
  deepMerge,
  getAt,
  isObject,
  parseKey,
  PathError,
  StateLimitError,
  touches,
  updateAt,
  type Json,
  type JsonObject,
} from './paths.js';
import { formatLimit, MAX_DEPTH, MAX_STATE_BYTES, showPath, tooDeepAt } from '../util/limits.js';

export { PathError, StateLimitError };

import {
  DEFAULT_STATE,
  VersionConflictError,
  type ChangeEntry,
  type StateStoreOptions,
  type StateVersion,
  type UpdateOptions,
  type UpdateResult,
} from './types.js';

export type { ChangeEntry, StateStoreOptions, StateVersion, UpdateOptions, UpdateResult };
export { DEFAULT_STATE, VersionConflictError };

export class StateStore<T extends JsonObject = JsonObject> {
  readonly settings: StateSettings;
  private readonly stream: string | null;
  private readonly emitEvent: (e: EventInput) => void;

  constructor(
    private readonly backend: DocumentStore & LogStore & EventLog,
    readonly runId: string,
    opts: StateStoreOptions = {},
  ) {
    this.settings = {
      type: opts.type ?? DEFAULT_STATE.type,
      keepVersions: Math.max(2, opts.keepVersions ?? DEFAULT_STATE.keepVersions),
      durable: opts.durable ?? DEFAULT_STATE.durable,
    };
    this.stream = opts.stream ?? null;
    this.emitEvent =
      opts.onEvent ??
      ((e) => {
        void this.backend.appendEvent(this.runId, { ...e, time: new Date().toISOString(), run: this.runId } as CoordEvent).catch(() => undefined);
      });
  }

  /** A store with the settings the run was started with (its plan's state_management). */
  static async open<T extends JsonObject = JsonObject>(backend: Backend, runId: string, opts: StateStoreOptions = {}): Promise<StateStore<T>> {
    const run = await backend.getRun(runId);
    if (!run) throw new Error(`no run "${runId}"`);
    return new StateStore<T>(backend, runId, { ...run.sharedState, ...opts });
  }

  /** The version carries its change-log entry (and, under message_queue, its `state` message). */
  private commitOptions(meta: ChangeEntry, data: T): DocCommitOptions {
    return {
      keep: this.settings.keepVersions,
      durable: this.settings.durable,
      meta,
      logs: { changes: meta, ...(this.settings.type === 'message_queue' ? { 'topic/state': stateMessage(meta, data) } : {}) },
    };
  }

  /** The newest version and its document (version 0 and `{}` before the first change). */
  async read(): Promise<StateVersion<T>> {
    const head = await this.backend.docRead<T>(this.runId, 'state');
    return head ? { version: head.version, data: head.data } : { version: 0, data: {} as T };
  }

  async version(): Promise<number> {
    return (await this.read()).version;
  }

  /** The document: a private copy, deeply frozen under `immutable`. */
  async get(): Promise<T> {
    const { data } = await this.read();
    return this.settings.type === 'immutable' ? deepFreeze(data) : data;
  }

  /** The value at a dotted KEY (undefined when missing). */
  async getAt(key: string): Promise<Json | undefined> {
    return getAt(await this.get(), parseKey(key));
  }

  /** One version while it is kept (or snapshotted); undefined when it is gone or never was. */
  async readVersion(version: number): Promise<StateVersion<T> | undefined> {
    if (version === 0) return { version: 0, data: {} as T };
    const v = await this.backend.docReadVersion<T>(this.runId, 'state', version);
    if (v) return { version, data: v.data };
    const snap = await this.backend.logGet<DocVersion<T>>(this.runId, 'snapshots', version);
    return snap ? { version, data: snap.data } : undefined;
  }

  /**
   * Makes the next version from `fn(current)`: `fn` gets a frozen copy and returns the next
   * document (copy-on-write), or undefined to change nothing. On a conflict with another
   * writer `fn` runs again on the newer version, so no write is ever lost; with
   * `expectVersion` a conflict fails instead.
   */
  async update(fn: (current: Readonly<T>, version: number) => T | undefined, streamId?: string | null, opts: UpdateOptions = {}): Promise<UpdateResult<T>> {
    const stream = streamId === undefined ? this.stream : streamId;
    for (;;) {
      const cur = await this.read();
      if (opts.expectVersion !== undefined && cur.version !== opts.expectVersion) throw new VersionConflictError(opts.expectVersion, cur.version);
      // deeper than the limit (an older coord's): frozen as read, since a JSON copy would overflow
      const storedDeep = tooDeepAt(cur.data);
      const returned = fn(storedDeep ? deepFreeze(cur.data) : deepFreeze(cloneJson(cur.data)), cur.version);
      if (returned === undefined) return { version: cur.version, changed: false, keys: [], data: cur.data };
      if (!isObject(returned)) throw new PathError('the state is a JSON object: update() must return an object');
      const deep = tooDeepAt(returned);
      if (deep)
        throw storedDeep
          ? stuck(cur.version, storedDeep)
          : new StateLimitError(`too deep: the state would nest more than ${MAX_DEPTH} levels of objects and arrays at ${showPath(deep)}; nothing was changed`);
      const text = JSON.stringify(returned);
      const bytes = Buffer.byteLength(text);
      if (bytes > MAX_STATE_BYTES) throw tooLarge(cur, bytes);
      const next = JSON.parse(text) as T;
      if (deepEqual(cur.data, next)) return { version: cur.version, changed: false, keys: [], data: cur.data };
      const entry: ChangeEntry = {
        version: cur.version + 1,
        time: new Date().toISOString(),
        stream,
        op: opts.op ?? 'update',
        keys: changedKeys(cur.data, next),
        // Stryker disable next-line ConditionalExpression: an entry is stored as JSON, which drops a from that is undefined
        ...(opts.from !== undefined ? { from: opts.from } : {}),
      };
      const made = await this.backend.docCommit<T>(this.runId, 'state', cur.version, next, this.commitOptions(entry, next));
      if (!made) continue; // another writer got there first: run fn on the newer version
      this.published(made.version, entry);
      return { version: made.version, changed: true, keys: entry.keys, data: next };
    }
  }

  private published(version: number, entry: ChangeEntry): void {
    this.emitEvent({ type: 'state-version', version, op: entry.op, keys: entry.keys, ...(entry.stream ? { stream: entry.stream } : {}) });
    if (this.settings.type === 'message_queue') this.emitEvent({ type: 'queue-sent', topic: 'state', id: version, sender: entry.stream });
  }

  /** Sets KEY to `value`. Like every write, async throughout: a refused key or value rejects, it never throws. */
  async set(key: string, value: Json, streamId?: string | null, opts: UpdateOptions = {}): Promise<UpdateResult<T>> {
    const path = parseKey(key);
    checkGiven(value, path);
    return this.update((s) => updateAt(s, path, () => cloneJson(value)) as T, streamId, { op: 'set', ...opts });
  }

  /** Adds `by` to the number at KEY (missing counts as 0). */
  async incr(key: string, by = 1, streamId?: string | null, opts: UpdateOptions = {}): Promise<UpdateResult<T>> {
    if (!Number.isFinite(by)) throw new PathError(`incr needs a finite number, got ${by}`);
    const path = parseKey(key);
    return this.update(
      (s) =>
        updateAt(s, path, (old) => {
          if (old === undefined || old === null) return by;
          if (typeof old !== 'number')
            throw new PathError(`${key} holds ${Array.isArray(old) ? 'an array' : typeof old === 'object' ? 'an object' : `a ${typeof old}`}, not a number`);
          return old + by;
        }) as T,
      streamId,
      { op: 'incr', ...opts },
    );
  }

  /** Deep-merges `patch` (an object) into the object at KEY (the whole document when KEY is empty). */
  async merge(key: string | undefined, patch: Json, streamId?: string | null, opts: UpdateOptions = {}): Promise<UpdateResult<T>> {
    if (!isObject(patch)) throw new PathError('merge takes a JSON object');
    const path = key === undefined ? [] : parseKey(key);
    checkGiven(patch, path);
    return this.update(
      (s) =>
        updateAt(s, path, (old) => {
          if (old !== undefined && old !== null && !isObject(old))
            throw new PathError(`${key} holds ${Array.isArray(old) ? 'an array' : `a ${typeof old}`}, not an object: merge cannot go into it`);
          return deepMerge(old ?? {}, patch);
        }) as T,
      streamId,
      { op: 'merge', ...opts },
    );
  }

  /** Removes KEY (nothing changes when it is missing). */
  async delete(key: string, streamId?: string | null, opts: UpdateOptions = {}): Promise<UpdateResult<T>> {
    const path = parseKey(key);
    return this.update((s) => (updateAt(s, path, () => undefined) ?? {}) as T, streamId, { op: 'delete', ...opts });
  }

  /** Makes a new version equal to `version` (kept, or snapshotted); an error names what is kept. */
  async rollback(version: number, streamId?: string | null, opts: UpdateOptions = {}): Promise<UpdateResult<T>> {
    if (!Number.isSafeInteger(version) || version < 0) throw new PathError(`a version is a whole number, got ${version}`);
    const head = await this.version();
    if (version > head) throw new PathError(`version ${version} does not exist yet (the state is at version ${head})`);
    const old = await this.readVersion(version);
    if (!old) {
      const kept = await this.backend.docVersions(this.runId, 'state');
      const snaps = (await this.backend.logRange<DocVersion>(this.runId, 'snapshots')).map((s) => s.seq);
      throw new PathError(
        `version ${version} is no longer kept (kept: ${kept.length ? `${kept[kept.length - 1]}–${kept[0]}` : 'none'}; snapshots: ${snaps.length ? snaps.join(', ') : 'none'}); raise state_management.keep_versions to keep more`,
      );
    }
    return this.update(() => old.data, streamId, { op: 'rollback', from: version, ...opts });
  }

  /** The change log from version `from` on (every entry by default). */
  async changeLog(from = 1): Promise<ChangeEntry[]> {
    return (await this.backend.logRange<ChangeEntry>(this.runId, 'changes', from)).map((e) => e.body);
  }

  /**
   * Writes the newest version durably as a snapshot (once per version); returns its version,
   * or null when there is nothing new to keep.
   */
  async snapshot(): Promise<number | null> {
    const head = await this.backend.docRead<T>(this.runId, 'state');
    if (!head) return null;
    const deep = tooDeepAt(head.data);
    if (deep)
      throw new StateLimitError(
        `version ${head.version} is not snapshotted: it ${deepStored(deep)}; coord state delete ${deep[0]} brings it within the limits`,
        'stored-invalid',
      );
    if ((await this.backend.logGet(this.runId, 'snapshots', head.version)) !== undefined) return null;
    const ok = await this.backend.logPut<DocVersion<T>>(this.runId, 'snapshots', head.version, head, { durable: true });
    return ok ? head.version : null;
  }

  /** The newest snapshot's version (0: none). */
  async lastSnapshot(): Promise<number> {
    return this.backend.logHead(this.runId, 'snapshots');
  }

  /**
   * When the newest versions were lost (power loss without `durable`, files removed) and the
   * newest snapshot is ahead of what is left, brings the state back to the snapshot — as the
   * snapshot's own version number, so versions never go back. Returns that version, or null.
   */
  async restoreFromSnapshot(): Promise<number | null> {
    const top = await this.lastSnapshot();
    // Stryker disable next-line ConditionalExpression: there is no snapshot 0 to read, so the next line answers null too
    if (top === 0) return null;
    const snap = await this.backend.logGet<DocVersion<T>>(this.runId, 'snapshots', top);
    if (!snap) return null;
    const before = await this.version();
    if (before >= top) return null;
    const deep = tooDeepAt(snap.data);
    if (deep) throw new StateLimitError(`the snapshot of version ${top} is not restored: it ${deepStored(deep)}`, 'stored-invalid');
    const entry: ChangeEntry = { version: top, time: new Date().toISOString(), stream: null, op: 'restore', keys: changedKeys({}, snap.data), from: top };
    if (
      !(await this.backend.docRestore<T>(
        this.runId,
        'state',
        { version: top, time: Date.now(), data: snap.data, meta: entry },
        this.commitOptions(entry, snap.data),
      ))
    )
      return null;
    this.emitEvent({ type: 'state-restored', version: top, from: before });
    return top;
  }

  /**
   * Each new version that touches `key` (every version without a key), from the next one on,
   * until `signal` aborts: its change-log entry and the value at `key` in it.
   */
  async *watch(key?: string, opts: { signal?: AbortSignal; from?: number; pollMs?: number } = {}): AsyncGenerator<ChangeEntry & { value: Json | undefined }> {
    const path = key === undefined ? [] : parseKey(key);
    let cursor = opts.from ?? (await this.version()) + 1;
    let wake: (() => void) | null = null;
    let dirty = false;
    const poke = () => {
      dirty = true;
      const w = wake;
      wake = null;
      w?.();
    };
    const stop = this.backend.watchLog(this.runId, 'changes', poke);
    opts.signal?.addEventListener('abort', poke, { once: true });
    try {
      while (!opts.signal?.aborted) {
        dirty = false;
        for (const { seq, body } of await this.backend.logRange<ChangeEntry>(this.runId, 'changes', cursor)) {
          cursor = seq + 1;
          if (!touches(body.keys, key)) continue;
          const v = await this.readVersion(seq);
          yield { ...body, value: v ? getAt(v.data, path) : undefined };
          if (opts.signal?.aborted) return;
        }
        if (dirty) continue;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, opts.pollMs ?? 1000);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    } finally {
      stop();
    }
  }
}

/** What a value given to set or merge at `path` would make too deep, refused before it is copied (the copy recurses). */
function checkGiven(value: Json, path: readonly string[]): void {
  const deep = tooDeepAt(value, MAX_DEPTH, path.length, path);
  if (deep)
    throw new StateLimitError(`too deep: the state would nest more than ${MAX_DEPTH} levels of objects and arrays at ${showPath(deep)}; nothing was changed`);
}

/** How a document deeper than the limit is described: where, and why it could be there. */
export function deepStored(path: readonly string[]): string {
  return `nests more than ${MAX_DEPTH} levels of objects and arrays at ${showPath(path)} (stored before coord limited the depth)`;
}

/** The stored state is deeper than the limit and the change leaves it so. */
function stuck(version: number, path: readonly string[]): StateLimitError {
  return new StateLimitError(
    `the state at version ${version} ${deepStored(path)}: only a change that brings it within the limits is taken, such as coord state delete ${path[0]}`,
    'stored-invalid',
  );
}

/** A change making the state larger than the limit: exit 2, or 1 when the stored state was already larger (an older coord's). */
function tooLarge(cur: StateVersion<JsonObject>, bytes: number): StateLimitError {
  const limit = `at most ${formatLimit(MAX_STATE_BYTES)}, ${MAX_STATE_BYTES} bytes`;
  if (Buffer.byteLength(JSON.stringify(cur.data)) <= MAX_STATE_BYTES)
    return new StateLimitError(`too large: the state would take ${bytes} bytes as JSON (${limit}); nothing was changed`);
  const sizes = Object.keys(cur.data).map((k) => ({ k, n: Buffer.byteLength(JSON.stringify(cur.data[k]) ?? '') }));
  // Stryker disable next-line EqualityOperator,StringLiteral,UnaryOperator: a state over the limit has a key of more than one byte, and which of two equal ones is named does not matter
  const biggest = sizes.reduce((a, b) => (b.n > a.n ? b : a), { k: '', n: -1 }).k;
  return new StateLimitError(
    `the state at version ${cur.version} takes more than ${formatLimit(MAX_STATE_BYTES)} as JSON (stored before coord limited the size); the change would leave it at ${bytes} bytes (${limit}): only a change that brings it within the limits is taken, such as coord state delete ${biggest}`,
    'stored-invalid',
  );
}

/** The message a `message_queue` state publishes on topic `state` for a version. */
export function stateMessage(entry: ChangeEntry, data: unknown): { body: string; sender: string | null; time: string } {
  return {
    body: JSON.stringify({ version: entry.version, stream: entry.stream, op: entry.op, keys: entry.keys, data }),
    sender: entry.stream,
    time: entry.time,
  };
}
