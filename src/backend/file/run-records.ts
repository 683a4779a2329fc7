/**
 * Runs and their records as files (see layout.ts): JSON files replaced atomically (temp +
 * rename), so a reader sees the old record or the new one, never half of one. The run's one
 * coordinator writes its stream records, so this instance keeps them in memory and writes
 * them all at once per batch.
 */
import { closeSync, openSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BoardStore, PointRecord, PoolRecord, RunRecord, StreamRecord } from '../types.js';
import type { ProposalRecord } from '../records.js';
import { writeFileAtomicSync, mkdirPrivate, overwriteInPlaceSync } from '../../util/fsx.js';
import { diskFullAt, isDiskFull } from '../../util/disk-full.js';
import { ID_PATTERN } from '../../plan/types.js';
import { TERMINAL_STREAM_STATES } from '../../events/types.js';
import { readJson, runDirOf } from './layout.js';

export class FileRunRecords implements BoardStore {
  /** Stream records of runs this instance writes (the writer is the run's one coordinator). */
  private readonly streamCache = new Map<string, Map<string, StreamRecord>>();

  constructor(private readonly home: string) {}

  private runDir(id: string): string {
    return runDirOf(this.home, id);
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
    return readRecords<PointRecord>(join(this.runDir(runId), 'points'), (n) => (n.endsWith('.json') ? n : null));
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
    return readRecords<ProposalRecord>(join(this.runDir(runId), 'consensus'), (n) => (n.endsWith('.json') && !n.startsWith('.') ? n : null));
  }

  /** Forgets what this instance keeps of run `id` (its directory is being removed). */
  forget(id: string): void {
    this.streamCache.delete(id);
  }
}

/** The records of the files of `dir` that `fileOf` names, by file name. */
function readRecords<T>(dir: string, fileOf: (name: string) => string | null): T[] {
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
