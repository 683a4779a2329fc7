/**
 * The embedded backend: everything of a run under `<home>/runs/<id>/` (home is `.coord` in the
 * directory `coord run` started in, or COORD_HOME). Records are JSON files replaced atomically
 * (temp + rename); the event log is `events.jsonl`, appended through one O_APPEND descriptor
 * per run so that lines from one writer never interleave.
 *
 * Versioned documents are VersionedDir chains (`state/versions/`, `queues/<topic>/consumers/<name>/`)
 * and numbered logs are SeqLog directories (`state/log/`, `state/snapshots/`, `queues/<topic>/messages/`):
 * both publish with link(2), so concurrent writers in many processes need no mutex.
 */
import { closeSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeSync, mkdirSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend, DocCommitOptions, DocKey, DocVersion, LogKey, PointRecord, PoolRecord, RunRecord, StreamRecord } from '../types.js';
import { VersionedDir, type Version } from '../../primitives/versioned-dir.js';
import { SeqLog } from '../../primitives/seq-log.js';
import type { CoordEvent } from '../../events/types.js';
import type { ProposalRecord } from '../records.js';
import { writeFileAtomicSync, mkdirPrivate, overwriteInPlaceSync } from '../../util/fsx.js';
import { diskFullAt, isDiskFull, writeAllSync } from '../../util/disk-full.js';
import { ID_PATTERN } from '../../plan/types.js';
import { TERMINAL_STREAM_STATES } from '../../events/types.js';

export class FileBackend implements Backend {
  readonly kind = 'file';
  readonly home: string;
  private readonly eventFds = new Map<string, number>();
  /** Runs whose last event line was cut short by a failed write (see appendEvent). */
  private readonly tornEvents = new Set<string>();
  /** Stream records of runs this instance writes (the writer is the run's one coordinator). */
  private readonly streamCache = new Map<string, Map<string, StreamRecord>>();
  private readonly docs = new Map<string, VersionedDir<unknown>>();
  private readonly logs = new Map<string, SeqLog<unknown>>();

  constructor(home: string) {
    this.home = home;
  }

  /** Where the runs are, for messages. */
  get where(): string {
    return this.home;
  }

  /** The run's directory (logs, converged outputs and records live here). */
  runDir(id: string): string {
    if (!ID_PATTERN.test(id)) throw new Error(`bad run id "${id}"`);
    return join(this.home, 'runs', id);
  }

  /** A run that cannot be created whole (a full disk) leaves no directory behind. */
  async createRun(run: RunRecord, planText: string): Promise<void> {
    mkdirPrivate(join(this.home, 'runs'));
    const dir = this.runDir(run.id);
    mkdirSync(dir, { mode: 0o700 }); // EEXIST when the id is taken
    try {
      for (const sub of ['streams', 'points', 'converged']) mkdirSync(join(dir, sub), { mode: 0o700 });
      writeFileAtomicSync(join(dir, 'plan.yaml'), planText);
      writeFileAtomicSync(join(dir, 'run.json'), JSON.stringify(run, null, 2) + '\n');
      closeSync(openSync(join(dir, 'events.jsonl'), 'a', 0o600));
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw diskFullAt(e, dir);
    }
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    return readJson<RunRecord>(join(this.runDir(id), 'run.json'));
  }

  async listRuns(): Promise<RunRecord[]> {
    let names: string[];
    try {
      names = readdirSync(join(this.home, 'runs'));
    } catch {
      return [];
    }
    const runs: RunRecord[] = [];
    for (const name of names) {
      if (!ID_PATTERN.test(name)) continue;
      const run = readJson<RunRecord>(join(this.home, 'runs', name, 'run.json'));
      if (run) runs.push(run);
    }
    return runs.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : b.id.localeCompare(a.id)));
  }

  async updateRun(id: string, patch: Partial<Omit<RunRecord, 'id'>>): Promise<RunRecord> {
    const file = join(this.runDir(id), 'run.json');
    const current = readJson<RunRecord>(file);
    if (!current) throw new Error(`no run "${id}"`);
    const next = { ...current, ...patch, id };
    const text = JSON.stringify(next, null, 2) + '\n';
    try {
      writeFileAtomicSync(file, text);
    } catch (e) {
      // A full disk: the run record is rewritten where it lies, when it fits in the blocks it
      // has (a run's end adds a few bytes), so that a run never stays `running` on disk
      // after its coordinator has printed how it ended.
      if (!isDiskFull(e) || !overwriteInPlaceSync(file, text)) throw e;
    }
    return next;
  }

  /**
   * Every stream record of a run lives in `streams.json`, replaced atomically on each call
   * (one write per batch, however many streams changed); a record in a terminal state is
   * also kept as `streams/<id>/status.json`, written once when the stream ends.
   */
  async putStreams(runId: string, records: readonly StreamRecord[]): Promise<void> {
    const dir = this.runDir(runId);
    const all = this.streamCache.get(runId) ?? new Map((readJson<StreamRecord[]>(join(dir, 'streams.json')) ?? []).map((r) => [r.id, r]));
    this.streamCache.set(runId, all);
    for (const r of records) all.set(r.id, r);
    writeFileAtomicSync(join(dir, 'streams.json'), JSON.stringify([...all.values()]) + '\n');
    for (const r of records) {
      if (!TERMINAL_STREAM_STATES.has(r.state)) continue;
      const sdir = join(dir, 'streams', r.id);
      mkdirPrivate(sdir);
      writeFileAtomicSync(join(sdir, 'status.json'), JSON.stringify(r) + '\n');
    }
  }

  async listStreams(runId: string): Promise<StreamRecord[]> {
    if (!ID_PATTERN.test(runId)) return [];
    const records = readJson<StreamRecord[]>(join(this.runDir(runId), 'streams.json')) ?? [];
    return records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async putPoint(runId: string, record: PointRecord): Promise<void> {
    writeFileAtomicSync(join(this.runDir(runId), 'points', `${record.name}.json`), JSON.stringify(record) + '\n');
  }

  async listPoints(runId: string): Promise<PointRecord[]> {
    return this.readRecords<PointRecord>(join(this.runDir(runId), 'points'), (n) => (n.endsWith('.json') ? n : null));
  }

  /** `resources.json`: every pool with its holders and waiters, replaced atomically. */
  async putPools(runId: string, pools: readonly PoolRecord[]): Promise<void> {
    writeFileAtomicSync(join(this.runDir(runId), 'resources.json'), JSON.stringify(pools) + '\n');
  }

  async getPools(runId: string): Promise<PoolRecord[] | undefined> {
    if (!ID_PATTERN.test(runId)) return undefined;
    return readJson<PoolRecord[]>(join(this.runDir(runId), 'resources.json'));
  }

  /** `consensus/<name>.json`, replaced atomically. */
  async putProposal(runId: string, record: ProposalRecord): Promise<void> {
    if (!ID_PATTERN.test(record.name)) throw new Error(`bad proposal name "${record.name}"`);
    const dir = join(this.runDir(runId), 'consensus');
    mkdirPrivate(dir);
    writeFileAtomicSync(join(dir, `${record.name}.json`), JSON.stringify(record, null, 2) + '\n');
  }

  async getProposal(runId: string, name: string): Promise<ProposalRecord | undefined> {
    if (!ID_PATTERN.test(runId) || !ID_PATTERN.test(name)) return undefined;
    return readJson<ProposalRecord>(join(this.runDir(runId), 'consensus', `${name}.json`));
  }

  async listProposals(runId: string): Promise<ProposalRecord[]> {
    if (!ID_PATTERN.test(runId)) return [];
    return this.readRecords<ProposalRecord>(join(this.runDir(runId), 'consensus'), (n) => (n.endsWith('.json') && !n.startsWith('.') ? n : null));
  }

  async appendEvent(runId: string, event: CoordEvent): Promise<void> {
    const file = join(this.runDir(runId), 'events.jsonl');
    let fd = this.eventFds.get(runId);
    try {
      if (fd === undefined) {
        fd = openSync(file, 'a', 0o600);
        this.eventFds.set(runId, fd);
      }
      // After a line cut short (a full disk), the next one starts on a line of its own.
      const line = (this.tornEvents.has(runId) ? '\n' : '') + JSON.stringify(event) + '\n';
      // One write(2) per line on an O_APPEND descriptor: lines never interleave (see write(2)).
      const buf = Buffer.from(line);
      const n = writeSync(fd, buf);
      this.tornEvents.delete(runId);
      // a short write: the disk filled up part way; the rest goes after (or the line stays torn, and is skipped by readers)
      if (n < buf.length) {
        this.tornEvents.add(runId);
        writeAllSync(fd, buf.subarray(n));
        this.tornEvents.delete(runId);
      }
    } catch (e) {
      throw diskFullAt(e, file);
    }
  }

  async readEvents(runId: string, cursor = 0): Promise<{ events: CoordEvent[]; cursor: number }> {
    const file = join(this.runDir(runId), 'events.jsonl');
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      return { events: [], cursor };
    }
    if (size <= cursor) return { events: [], cursor };
    const buf = Buffer.alloc(size - cursor);
    const fd = openSync(file, 'r');
    let read = 0;
    try {
      while (read < buf.length) {
        const n = readSync(fd, buf, read, buf.length - read, cursor + read);
        if (n === 0) break;
        read += n;
      }
    } finally {
      closeSync(fd);
    }
    // Only whole lines: a line still being written is read next time.
    const end = buf.lastIndexOf(0x0a, read - 1);
    if (end < 0) return { events: [], cursor };
    const events: CoordEvent[] = [];
    for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
      if (!line) continue;
      try {
        events.push(JSON.parse(line) as CoordEvent);
      } catch {
        /* a torn line from a crashed writer: skipped */
      }
    }
    return { events, cursor: cursor + end + 1 };
  }

  /** The directory of a document or log key, inside the run directory. */
  private keyDir(runId: string, key: DocKey | LogKey): string {
    const run = this.runDir(runId);
    if (key === 'state') return join(run, 'state', 'versions');
    if (key === 'changes') return join(run, 'state', 'log');
    if (key === 'snapshots') return join(run, 'state', 'snapshots');
    const parts = key.split('/');
    if (parts[0] === 'topic' && parts.length === 2 && ID_PATTERN.test(parts[1]!)) return join(run, 'queues', parts[1]!, 'messages');
    if (parts[0] === 'consumer' && parts.length === 3 && ID_PATTERN.test(parts[1]!) && ID_PATTERN.test(parts[2]!)) return join(run, 'queues', parts[1]!, 'consumers', parts[2]!);
    throw new Error(`bad storage key "${key}"`);
  }

  private doc<T>(runId: string, key: DocKey, opts: DocCommitOptions = {}): VersionedDir<T> {
    const keep = opts.keep ?? 8;
    const durable = opts.durable ?? false;
    const withLogs = opts.logs !== undefined;
    const id = `${runId}\0${key}\0${keep}\0${durable}\0${withLogs}`;
    let d = this.docs.get(id) as VersionedDir<T> | undefined;
    if (!d) {
      const made: VersionedDir<T> = new VersionedDir<T>(this.keyDir(runId, key), {
        initial: () => undefined as T,
        keep,
        durable,
        ...(withLogs ? { beforeCollect: (versions: number[]) => this.keepLogs(runId, made, versions) } : {}),
      });
      d = made;
      this.docs.set(id, d as VersionedDir<unknown>);
    }
    return d;
  }

  /**
   * Before old versions are removed: the log entries they carry are written where their writer
   * died before writing them, and flushed to disk, so that removing a version loses nothing.
   */
  private keepLogs<T>(runId: string, d: VersionedDir<T>, versions: number[]): void {
    const written = new Map<string, number[]>();
    for (const n of versions) {
      for (const [key, body] of Object.entries(d.readVersion(n)?.logs ?? {})) {
        const log = this.log(runId, key as LogKey);
        if (!log.has(n)) log.put(n, body);
        written.set(key, [...(written.get(key) ?? []), n]);
      }
    }
    for (const [key, nums] of written) this.log(runId, key as LogKey).sync(nums);
  }

  /**
   * Writes the log entries of a new version at its number, after the entries of the versions
   * just below it that writers killed between their commit and this point left out (oldest
   * first, from the copies the versions keep), so the logs have no holes.
   */
  private writeLogs<T>(runId: string, d: VersionedDir<T>, v: Version<T>): void {
    for (const [key, body] of Object.entries(v.logs ?? {})) {
      const log = this.log(runId, key as LogKey);
      if (v.version > 1 && !log.has(v.version - 1)) {
        const oldest = d.versions().at(-1) ?? v.version;
        const missing: number[] = [];
        for (let n = v.version - 1; n >= oldest && !log.has(n); n--) missing.push(n);
        for (const n of missing.reverse()) {
          const lost = d.readVersion(n)?.logs?.[key];
          if (lost !== undefined) log.put(n, lost);
        }
      }
      log.put(v.version, body);
    }
  }

  private log<T>(runId: string, key: LogKey): SeqLog<T> {
    const id = `${runId}\0${key}`;
    let l = this.logs.get(id) as SeqLog<T> | undefined;
    if (!l) {
      l = new SeqLog<T>(this.keyDir(runId, key));
      this.logs.set(id, l as SeqLog<unknown>);
    }
    return l;
  }

  async docRead<T>(runId: string, key: DocKey): Promise<DocVersion<T> | undefined> {
    const v = this.doc<T>(runId, key).read();
    return v.version === 0 ? undefined : docVersion(v);
  }

  async docReadVersion<T>(runId: string, key: DocKey, version: number): Promise<DocVersion<T> | undefined> {
    if (!Number.isSafeInteger(version) || version < 1) return undefined;
    const v = this.doc<T>(runId, key).readVersion(version);
    return v ? docVersion(v) : undefined;
  }

  async docVersions(runId: string, key: DocKey): Promise<number[]> {
    return this.doc(runId, key).versions();
  }

  async docCommit<T>(runId: string, key: DocKey, expected: number, data: T, opts: DocCommitOptions = {}): Promise<DocVersion<T> | null> {
    const d = this.doc<T>(runId, key, opts);
    const v = d.commit(expected, data, opts.meta, opts.logs);
    if (!v) return null;
    this.writeLogs(runId, d, v);
    return docVersion(v);
  }

  async docRestore<T>(runId: string, key: DocKey, v: DocVersion<T>, opts: DocCommitOptions = {}): Promise<boolean> {
    const d = this.doc<T>(runId, key, opts);
    const made = d.restore({ ...v, ...(opts.logs === undefined ? {} : { logs: opts.logs }) });
    if (!made) return false;
    this.writeLogs(runId, d, made);
    return true;
  }

  async logAppend<T>(runId: string, key: LogKey, body: T, opts: { durable?: boolean } = {}): Promise<number> {
    return this.log<T>(runId, key).append(body, opts.durable);
  }

  async logPut<T>(runId: string, key: LogKey, seq: number, body: T, opts: { durable?: boolean } = {}): Promise<boolean> {
    return this.log<T>(runId, key).put(seq, body, opts.durable);
  }

  async logGet<T>(runId: string, key: LogKey, seq: number): Promise<T | undefined> {
    return this.log<T>(runId, key).get(seq);
  }

  async logRange<T>(runId: string, key: LogKey, from = 1, limit = Infinity): Promise<Array<{ seq: number; body: T }>> {
    return this.log<T>(runId, key).range(from, limit);
  }

  async logHead(runId: string, key: LogKey): Promise<number> {
    return this.log(runId, key).head();
  }

  watchLog(runId: string, key: LogKey, onChange: () => void): () => void {
    return this.log(runId, key).watch(onChange);
  }

  async topics(runId: string): Promise<string[]> {
    if (!ID_PATTERN.test(runId)) return [];
    return safeNames(join(this.runDir(runId), 'queues'));
  }

  async consumers(runId: string, topic: string): Promise<string[]> {
    if (!ID_PATTERN.test(runId) || !ID_PATTERN.test(topic)) return [];
    return safeNames(join(this.runDir(runId), 'queues', topic, 'consumers'));
  }

  async removeRun(id: string): Promise<void> {
    this.streamCache.delete(id);
    const fd = this.eventFds.get(id);
    if (fd !== undefined) {
      closeSync(fd);
      this.eventFds.delete(id);
    }
    rmSync(this.runDir(id), { recursive: true, force: true });
  }

  async close(): Promise<void> {
    for (const fd of this.eventFds.values()) closeSync(fd);
    this.eventFds.clear();
  }

  private readRecords<T>(dir: string, fileOf: (name: string) => string | null): T[] {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return [];
    }
    const out: T[] = [];
    for (const name of names.sort()) {
      const rel = fileOf(name);
      if (!rel) continue;
      const rec = readJson<T>(join(dir, rel));
      if (rec) out.push(rec);
    }
    return out;
  }
}

function docVersion<T>(v: Version<T>): DocVersion<T> {
  return { version: v.version, time: v.time, data: v.data, ...(v.meta === undefined ? {} : { meta: v.meta }) };
}

/** Entries of `dir` that are valid ids, sorted; none when it is missing. */
function safeNames(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => ID_PATTERN.test(n)).sort();
  } catch {
    return [];
  }
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
