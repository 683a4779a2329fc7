/**
 * `coord state get|set|incr|merge|delete|log|rollback|watch`: the run's versioned shared
 * state (src/state/store.ts) from any language. Writes print the version the state is at
 * afterwards; `--expect-version N` makes a write a compare-and-set that exits 75 (printing
 * the current version) when the state moved.
 */
import { UsageError } from '../../errors.js';
import { CoordError } from '../../../core/errors.js';
import { readStdin } from '../../../locks/env.js';
import { openBackend, resolveRun } from '../../../context/backend.js';
import { deepStored, StateStore, VersionConflictError, type ChangeEntry, type UpdateOptions, type UpdateResult } from '../../../state/store.js';
import { parseJson, parseKey, getAt, PathError, StateLimitError, type Json } from '../../../state/paths.js';
import { MAX_DEPTH, tooDeepAt } from '../../../util/limits.js';

interface RunFlag {
  run?: string;
}
interface WriteFlags extends RunFlag {
  expectVersion?: string;
  json?: boolean;
}

async function openStore(flags: RunFlag): Promise<StateStore> {
  const backend = await openBackend();
  const run = await resolveRun(backend, flags.run);
  return StateStore.open(backend, run.id, { stream: process.env.COORD_STREAM_ID || null });
}

function wholeNumber(value: string, what: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < 0) throw new UsageError(`${what} must be a version number (0 or more), got "${value}"`);
  return n;
}

/** Runs a state operation: a path or JSON problem is a usage error, a version conflict exits 75. */
async function write(
  flags: WriteFlags,
  op: (store: StateStore, opts: UpdateOptions) => Promise<UpdateResult>,
  extra?: (r: UpdateResult) => Record<string, unknown>,
): Promise<void> {
  const opts: UpdateOptions = flags.expectVersion !== undefined ? { expectVersion: wholeNumber(flags.expectVersion, '--expect-version') } : {};
  const store = await openStore(flags);
  let r: UpdateResult;
  try {
    r = await op(store, opts);
  } catch (e) {
    if (e instanceof VersionConflictError) {
      process.stdout.write(flags.json ? JSON.stringify({ version: e.current, expected: e.expected, conflict: true }) + '\n' : `${e.current}\n`);
      throw new CoordError('version-conflict', e.message);
    }
    // over the limits: 2 for what was given, 1 for a state an older coord stored over them
    if (e instanceof StateLimitError) throw e;
    if (e instanceof PathError) throw new CoordError('refused', e.message);
    throw e;
  }
  if (flags.json) process.stdout.write(JSON.stringify({ version: r.version, changed: r.changed, keys: r.keys, ...extra?.(r) }) + '\n');
  else process.stdout.write(`${r.version}\n`);
}

/** A JSON argument, or standard input when it is omitted; bad JSON is a usage error and changes nothing. */
async function jsonArg(text: string | undefined, what: string): Promise<Json> {
  const raw = text ?? (await readStdin()).toString('utf8');
  try {
    return parseJson(raw, what);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function key(k: string): string[] {
  try {
    return parseKey(k);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/**
 * Refuses (exit 1) to print the value at `path` of version `version` when it nests deeper than
 * the limit (only an older coord could store it): JSON.stringify would overflow the stack.
 */
function printable(value: unknown, path: readonly string[], version: number): void {
  const deep = tooDeepAt(value, MAX_DEPTH, path.length, path);
  if (deep)
    throw new CoordError('refused', `the state at version ${version} ${deepStored(deep)}: it cannot be printed; coord state delete ${deep[0]} removes it`);
}

export async function stateGetCommand(k: string | undefined, flags: RunFlag & { json?: boolean; version?: string }): Promise<void> {
  const path = k === undefined ? [] : key(k);
  const store = await openStore(flags);
  const v = flags.version !== undefined ? await store.readVersion(wholeNumber(flags.version, '--version')) : await store.read();
  if (!v) throw new CoordError('refused', `version ${flags.version} is not kept (see coord state log; state_management.keep_versions keeps more)`);
  const value = getAt(v.data, path);
  printable(value, path, v.version);
  if (flags.json) return void process.stdout.write(JSON.stringify({ version: v.version, ...(value === undefined ? {} : { value }) }) + '\n');
  if (value === undefined) throw new CoordError('refused', `${k} is not set (version ${v.version})`);
  print(value);
}

export async function stateSetCommand(k: string, json: string | undefined, flags: WriteFlags): Promise<void> {
  key(k);
  const value = await jsonArg(json, 'the value');
  await write(flags, (s, opts) => s.set(k, value, undefined, opts));
}

export async function stateIncrCommand(k: string, n: string, flags: WriteFlags): Promise<void> {
  const path = key(k);
  const by = Number(n);
  if (n.trim() === '' || !Number.isFinite(by)) throw new UsageError(`incr: N must be a number, got "${n}"`);
  await write(
    flags,
    (s, opts) => s.incr(k, by, undefined, opts),
    (r) => ({ value: getAt(r.data, path) }),
  );
}

export async function stateMergeCommand(k: string, json: string | undefined, flags: WriteFlags): Promise<void> {
  key(k);
  const patch = await jsonArg(json, 'the object to merge');
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
    throw new UsageError('merge takes a JSON object, like \'{"a":1}\' (use set to replace a value)');
  await write(flags, (s, opts) => s.merge(k, patch, undefined, opts));
}

export async function stateDeleteCommand(k: string, flags: WriteFlags): Promise<void> {
  key(k);
  await write(flags, (s, opts) => s.delete(k, undefined, opts));
}

export async function stateRollbackCommand(version: string, flags: WriteFlags): Promise<void> {
  const target = wholeNumber(version, 'VERSION');
  await write(flags, (s, opts) => s.rollback(target, undefined, opts));
}

function logLine(e: ChangeEntry): string {
  const what = e.op === 'rollback' || e.op === 'restore' ? `${e.op} to ${e.from}` : e.op;
  return `${String(e.version).padStart(5)}  ${e.time}  ${(e.stream ?? '-').padEnd(12)}  ${what.padEnd(8)}  ${e.keys.join(', ')}\n`;
}

export async function stateLogCommand(flags: RunFlag & { json?: boolean; since?: string }): Promise<void> {
  const since = flags.since !== undefined ? wholeNumber(flags.since, '--since') : 0;
  const store = await openStore(flags);
  const entries = await store.changeLog(since + 1);
  let out = '';
  if (!flags.json && entries.length > 0) out += `${'VER'.padStart(5)}  ${'TIME'.padEnd(24)}  ${'STREAM'.padEnd(12)}  ${'OP'.padEnd(8)}  KEYS\n`;
  for (const e of entries) out += flags.json ? JSON.stringify(e) + '\n' : logLine(e);
  process.stdout.write(out);
}

export async function stateWatchCommand(k: string | undefined, flags: RunFlag & { json?: boolean; since?: string }): Promise<void> {
  const path = k === undefined ? [] : key(k);
  const since = flags.since !== undefined ? wholeNumber(flags.since, '--since') : undefined;
  const store = await openStore(flags);
  const ac = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    process.exitCode = signal === 'SIGINT' ? 130 : 143;
    ac.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for await (const e of store.watch(k, { signal: ac.signal, ...(since !== undefined ? { from: since + 1 } : {}) })) {
      printable(e.value, path, e.version);
      if (flags.json)
        process.stdout.write(JSON.stringify({ version: e.version, time: e.time, stream: e.stream, op: e.op, keys: e.keys, value: e.value ?? null }) + '\n');
      else process.stdout.write(`${e.version} ${JSON.stringify(e.value ?? null)}\n`);
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
