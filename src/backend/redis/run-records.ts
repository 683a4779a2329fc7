/**
 * Runs and their records on Redis: the registry (`P runs`), the run record as a hash of its
 * top-level fields, and stream, point, pool and proposal records (see keys.ts). Every write
 * is one Lua script (scripts.ts) that checks that the run's record exists, so writes to a run
 * that was never created or was removed fail with `no run "<id>"` (the file backend creates
 * directories for some of them); removeRun drops the record and the registry entry first,
 * then SCANs the run's keys and UNLINKs them in batches, and no later write brings any of
 * them back.
 */
import type { BoardStore, PointRecord, PoolRecord, RunRecord, RunStore, StreamRecord } from '../types.js';
import type { ProposalRecord } from '../records.js';
import { ID_PATTERN } from '../../plan/types.js';
import { CREATE_RUN, PUT_FIELDS, PUT_VALUE, UPDATE_RUN } from './scripts.js';
import type { ResilientConnection } from './connection.js';
import { checkRunId, globEscape, isRunId, type KeyLayout } from './keys.js';
import { byFileName, json, newestFirst, recordOf, recordPairs, startedScore } from './codec.js';

/** Keys per UNLINK in removeRun. */
const UNLINK_BATCH = 500;

export class RedisRunRecords implements RunStore, BoardStore {
  constructor(
    private readonly conn: ResilientConnection,
    private readonly keys: KeyLayout,
  ) {}

  async createRun(run: RunRecord, planText: string): Promise<void> {
    checkRunId(run.id);
    const r = this.keys.run(run.id);
    await this.conn.writeScript(
      CREATE_RUN,
      run.id,
      [...this.keys.base(run.id), `${r}plan`, this.keys.runs],
      [run.id, startedScore(run.startedAt), planText, ...recordPairs(run)],
    );
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    if (!isRunId(id)) return undefined;
    return recordOf<RunRecord>(await this.conn.read((c) => c.hgetall(`${this.keys.run(id)}record`)));
  }

  async listRuns(): Promise<RunRecord[]> {
    const records = await this.conn.read(async (c) => {
      const ids = await c.zrange(this.keys.runs, 0, -1, 'REV');
      return Promise.all(ids.map((id) => c.hgetall(`${this.keys.run(id)}record`)));
    });
    const runs: RunRecord[] = [];
    for (const flat of records) {
      const run = recordOf<RunRecord>(flat);
      if (run) runs.push(run);
    }
    return runs.sort(newestFirst);
  }

  async updateRun(id: string, patch: Partial<Omit<RunRecord, 'id'>>): Promise<RunRecord> {
    checkRunId(id);
    const set: string[] = [];
    const del: string[] = [];
    for (const [k, v] of Object.entries(patch)) {
      if (k === 'id') continue;
      if (v === undefined) del.push(k);
      else set.push(k, JSON.stringify(v));
    }
    const score = patch.startedAt === undefined ? '' : startedScore(patch.startedAt);
    const flat = (await this.conn.writeScript(
      UPDATE_RUN,
      id,
      [...this.keys.base(id), this.keys.runs],
      [id, score, set.length / 2, ...set, ...del],
    )) as string[];
    const run = recordOf<RunRecord>(flat);
    if (!run) throw new Error(`no run "${id}"`);
    return run;
  }

  async putStreams(runId: string, records: readonly StreamRecord[]): Promise<void> {
    checkRunId(runId);
    if (records.length === 0) return;
    const pairs = records.flatMap((r) => [r.id, json(r, 'a stream record')]);
    await this.conn.writeScript(PUT_FIELDS, runId, [...this.keys.base(runId), `${this.keys.run(runId)}streams`], pairs);
  }

  async listStreams(runId: string): Promise<StreamRecord[]> {
    if (!isRunId(runId)) return [];
    const values = await this.conn.read((c) => c.hvals(`${this.keys.run(runId)}streams`));
    return values.map((v) => JSON.parse(v) as StreamRecord).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async putPoint(runId: string, record: PointRecord): Promise<void> {
    checkRunId(runId);
    await this.conn.writeScript(PUT_FIELDS, runId, [...this.keys.base(runId), `${this.keys.run(runId)}points`], [record.name, json(record, 'a point record')]);
  }

  async listPoints(runId: string): Promise<PointRecord[]> {
    checkRunId(runId);
    return this.listHash<PointRecord>(`${this.keys.run(runId)}points`);
  }

  async putPools(runId: string, pools: readonly PoolRecord[]): Promise<void> {
    checkRunId(runId);
    await this.conn.writeScript(PUT_VALUE, runId, [...this.keys.base(runId), `${this.keys.run(runId)}pools`], [json(pools, 'the pool records')]);
  }

  async getPools(runId: string): Promise<PoolRecord[] | undefined> {
    if (!isRunId(runId)) return undefined;
    const text = await this.conn.read((c) => c.get(`${this.keys.run(runId)}pools`));
    return text === null ? undefined : (JSON.parse(text) as PoolRecord[]);
  }

  async putProposal(runId: string, record: ProposalRecord): Promise<void> {
    checkRunId(runId);
    if (!ID_PATTERN.test(record.name)) throw new Error(`bad proposal name "${record.name}"`);
    await this.conn.writeScript(PUT_FIELDS, runId, [...this.keys.base(runId), `${this.keys.run(runId)}proposals`], [record.name, json(record, 'a proposal')]);
  }

  async getProposal(runId: string, name: string): Promise<ProposalRecord | undefined> {
    if (!isRunId(runId) || typeof name !== 'string' || !ID_PATTERN.test(name)) return undefined;
    const text = await this.conn.read((c) => c.hget(`${this.keys.run(runId)}proposals`, name));
    return text === null ? undefined : (JSON.parse(text) as ProposalRecord);
  }

  async listProposals(runId: string): Promise<ProposalRecord[]> {
    if (!isRunId(runId)) return [];
    return this.listHash<ProposalRecord>(`${this.keys.run(runId)}proposals`);
  }

  private async listHash<T>(key: string): Promise<T[]> {
    const all = await this.conn.read((c) => c.hgetall(key));
    return Object.keys(all)
      .sort(byFileName)
      .map((k) => JSON.parse(all[k]!) as T);
  }

  /** Drops the record and the registry entry (later writes to the run fail), then every key of the run. */
  async removeRun(id: string): Promise<void> {
    checkRunId(id);
    const r = this.keys.run(id);
    await this.conn.read((c) => c.multi().unlink(`${r}record`).zrem(this.keys.runs, id).exec());
    const match = `${globEscape(r)}*`;
    let cursor = '0';
    do {
      const at = cursor;
      const [next, keys] = await this.conn.read((c) => c.scan(at, 'MATCH', match, 'COUNT', UNLINK_BATCH));
      for (let i = 0; i < keys.length; i += UNLINK_BATCH) {
        const batch = keys.slice(i, i + UNLINK_BATCH);
        await this.conn.read((c) => c.unlink(...batch));
      }
      cursor = next;
    } while (cursor !== '0');
  }
}
