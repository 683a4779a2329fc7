/**
 * The embedded backend: everything of a run under `<home>/runs/<id>/` (home is `.coord` in the
 * directory `coord run` started in, or COORD_HOME). A facade over one unit per concern, each
 * a role of src/backend/types.ts:
 *
 *   layout.ts       which file holds what, and the readers that take what is there
 *   run-records.ts  run, stream, point, pool and proposal records: JSON files replaced
 *                   atomically (temp + rename) (RunStore, BoardStore)
 *   event-log.ts    `events.jsonl`, appended through one O_APPEND descriptor per run so that
 *                   lines from one writer never interleave (EventLog)
 *   documents.ts    versioned documents as VersionedDir chains (DocumentStore)
 *   logs.ts         numbered logs as SeqLog directories, and the queue listing (LogStore, QueueStore)
 *
 * VersionedDir and SeqLog both publish with link(2), so concurrent writers in many processes
 * need no mutex. Files have no leases, beats or shared documents: only the coordinator's
 * host reads them, and its locks are in this machine's registry.
 */
import { rmSync } from 'node:fs';
import type { DocCommitOptions, DocKey, DocVersion, HostBackend, LogKey, PointRecord, PoolRecord, RunRecord, StreamRecord } from '../types.js';
import type { ProposalRecord } from '../records.js';
import type { CoordEvent } from '../../events/types.js';
import { runDirOf } from './layout.js';
import { FileRunRecords } from './run-records.js';
import { FileEventLog } from './event-log.js';
import { FileDocuments } from './documents.js';
import { FileLogs } from './logs.js';

export class FileBackend implements HostBackend {
  readonly kind = 'file';
  readonly home: string;
  private readonly records: FileRunRecords;
  private readonly events: FileEventLog;
  private readonly logs: FileLogs;
  private readonly docs: FileDocuments;

  constructor(home: string) {
    this.home = home;
    this.records = new FileRunRecords(home);
    this.events = new FileEventLog(home);
    this.logs = new FileLogs(home);
    this.docs = new FileDocuments(home, this.logs);
  }

  /** Where the runs are, for messages. */
  get where(): string {
    return this.home;
  }

  /** The run's directory (logs, converged outputs and records live here). */
  runDir(id: string): string {
    return runDirOf(this.home, id);
  }

  // ---- runs and records (run-records.ts)

  /** A run that cannot be created whole (a full disk) leaves no directory behind. */
  createRun(run: RunRecord, planText: string): Promise<void> {
    return this.records.createRun(run, planText);
  }
  getRun(id: string): Promise<RunRecord | undefined> {
    return this.records.getRun(id);
  }
  listRuns(): Promise<RunRecord[]> {
    return this.records.listRuns();
  }
  updateRun(id: string, patch: Partial<Omit<RunRecord, 'id'>>): Promise<RunRecord> {
    return this.records.updateRun(id, patch);
  }
  putStreams(runId: string, records: readonly StreamRecord[]): Promise<void> {
    return this.records.putStreams(runId, records);
  }
  listStreams(runId: string): Promise<StreamRecord[]> {
    return this.records.listStreams(runId);
  }
  putPoint(runId: string, record: PointRecord): Promise<void> {
    return this.records.putPoint(runId, record);
  }
  listPoints(runId: string): Promise<PointRecord[]> {
    return this.records.listPoints(runId);
  }
  putPools(runId: string, pools: readonly PoolRecord[]): Promise<void> {
    return this.records.putPools(runId, pools);
  }
  getPools(runId: string): Promise<PoolRecord[] | undefined> {
    return this.records.getPools(runId);
  }
  putProposal(runId: string, record: ProposalRecord): Promise<void> {
    return this.records.putProposal(runId, record);
  }
  getProposal(runId: string, name: string): Promise<ProposalRecord | undefined> {
    return this.records.getProposal(runId, name);
  }
  listProposals(runId: string): Promise<ProposalRecord[]> {
    return this.records.listProposals(runId);
  }

  // ---- events (event-log.ts)

  appendEvent(runId: string, event: CoordEvent): Promise<void> {
    return this.events.appendEvent(runId, event);
  }
  readEvents(runId: string, cursor?: number): Promise<{ events: CoordEvent[]; cursor: number }> {
    return this.events.readEvents(runId, cursor);
  }

  // ---- versioned documents (documents.ts)

  docRead<T>(runId: string, key: DocKey): Promise<DocVersion<T> | undefined> {
    return this.docs.docRead<T>(runId, key);
  }
  docReadVersion<T>(runId: string, key: DocKey, version: number): Promise<DocVersion<T> | undefined> {
    return this.docs.docReadVersion<T>(runId, key, version);
  }
  docVersions(runId: string, key: DocKey): Promise<number[]> {
    return this.docs.docVersions(runId, key);
  }
  docCommit<T>(runId: string, key: DocKey, expected: number, data: T, opts?: DocCommitOptions): Promise<DocVersion<T> | null> {
    return this.docs.docCommit(runId, key, expected, data, opts);
  }
  docRestore<T>(runId: string, key: DocKey, v: DocVersion<T>, opts?: DocCommitOptions): Promise<boolean> {
    return this.docs.docRestore(runId, key, v, opts);
  }

  // ---- numbered logs and queues (logs.ts)

  logAppend<T>(runId: string, key: LogKey, body: T, opts?: { durable?: boolean }): Promise<number> {
    return this.logs.logAppend(runId, key, body, opts);
  }
  logPut<T>(runId: string, key: LogKey, seq: number, body: T, opts?: { durable?: boolean }): Promise<boolean> {
    return this.logs.logPut(runId, key, seq, body, opts);
  }
  logGet<T>(runId: string, key: LogKey, seq: number): Promise<T | undefined> {
    return this.logs.logGet<T>(runId, key, seq);
  }
  logRange<T>(runId: string, key: LogKey, from?: number, limit?: number): Promise<Array<{ seq: number; body: T }>> {
    return this.logs.logRange<T>(runId, key, from, limit);
  }
  logHead(runId: string, key: LogKey): Promise<number> {
    return this.logs.logHead(runId, key);
  }
  watchLog(runId: string, key: LogKey, onChange: () => void): () => void {
    return this.logs.watchLog(runId, key, onChange);
  }
  topics(runId: string): Promise<string[]> {
    return this.logs.topics(runId);
  }
  consumers(runId: string, topic: string): Promise<string[]> {
    return this.logs.consumers(runId, topic);
  }

  // ---- removal and shutdown

  async removeRun(id: string): Promise<void> {
    this.records.forget(id);
    this.events.forget(id);
    rmSync(this.runDir(id), { recursive: true, force: true });
  }

  async close(): Promise<void> {
    this.events.close();
  }
}
