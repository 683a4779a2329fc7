/**
 * Where the file backend keeps what, under `<home>/runs/<id>/`:
 *
 *   run.json                         the RunRecord, replaced atomically
 *   plan.yaml                        the plan text
 *   streams.json                     every StreamRecord (streams/<id>/status.json: a terminal one)
 *   points/<name>.json               PointRecords
 *   resources.json                   the PoolRecords
 *   consensus/<name>.json            ProposalRecords
 *   events.jsonl                     the event log, one CoordEvent a line
 *   converged/                       merged outputs of convergence points (the coordinator's)
 *   state/versions/                  the `state` document (a VersionedDir)
 *   state/log/, state/snapshots/     the `changes` and `snapshots` logs (SeqLogs)
 *   queues/<topic>/messages/         the `topic/<topic>` log
 *   queues/<topic>/consumers/<name>/ the `consumer/<topic>/<name>` document
 *
 * and readers that take what is there (a missing or torn file reads as nothing).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DocKey, LogKey } from '../types.js';
import { ID_PATTERN } from '../../plan/types.js';

/** The directory of run `id`; fails on a bad id. */
export function runDirOf(home: string, id: string): string {
  if (!ID_PATTERN.test(id)) throw new Error(`bad run id "${id}"`);
  return join(home, 'runs', id);
}

/** The directory of a document or log key, inside the run directory. */
export function keyDir(run: string, key: DocKey | LogKey): string {
  if (key === 'state') return join(run, 'state', 'versions');
  if (key === 'changes') return join(run, 'state', 'log');
  if (key === 'snapshots') return join(run, 'state', 'snapshots');
  const parts = key.split('/');
  if (parts[0] === 'topic' && parts.length === 2 && ID_PATTERN.test(parts[1]!)) return join(run, 'queues', parts[1]!, 'messages');
  if (parts[0] === 'consumer' && parts.length === 3 && ID_PATTERN.test(parts[1]!) && ID_PATTERN.test(parts[2]!))
    return join(run, 'queues', parts[1]!, 'consumers', parts[2]!);
  throw new Error(`bad storage key "${key}"`);
}

/** A JSON file's value; undefined when it is missing or unreadable. */
export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Entries of `dir` that are valid ids, sorted; none when it is missing. */
export function safeNames(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => ID_PATTERN.test(n))
      .sort();
  } catch {
    return [];
  }
}
