/**
 * Numbered logs of a run as SeqLog directories (`state/log/`, `state/snapshots/`,
 * `queues/<topic>/messages/`, see layout.ts): an entry is published with link(2), so
 * concurrent writers in many processes need no mutex, and a number is taken once. Watching
 * is the SeqLog's (inotify through fs.watch, a hint). Also the queue listing: topics and
 * consumers are the directories under `queues/`.
 */
import { join } from 'node:path';
import type { LogKey, LogStore, QueueStore } from '../types.js';
import { SeqLog } from '../../primitives/seq-log.js';
import { ID_PATTERN } from '../../plan/types.js';
import { keyDir, runDirOf, safeNames } from './layout.js';

export class FileLogs implements LogStore, QueueStore {
  private readonly logs = new Map<string, SeqLog<unknown>>();

  constructor(private readonly home: string) {}

  /** The log of `key` in run `runId` (one SeqLog per log and instance). */
  log<T>(runId: string, key: LogKey): SeqLog<T> {
    const id = `${runId}\0${key}`;
    let l = this.logs.get(id) as SeqLog<T> | undefined;
    if (!l) {
      l = new SeqLog<T>(keyDir(runDirOf(this.home, runId), key));
      this.logs.set(id, l as SeqLog<unknown>);
    }
    return l;
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
    return safeNames(join(runDirOf(this.home, runId), 'queues'));
  }

  async consumers(runId: string, topic: string): Promise<string[]> {
    if (!ID_PATTERN.test(runId) || !ID_PATTERN.test(topic)) return [];
    return safeNames(join(runDirOf(this.home, runId), 'queues', topic, 'consumers'));
  }
}
