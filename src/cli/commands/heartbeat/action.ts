/**
 * `coord heartbeat [--progress N] [--message TEXT]`, called by a stream: replaces its
 * COORD_HEARTBEAT_FILE (temp + rename) with a sequence number, the time, progress and a message.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../../../util/fsx.js';
import { UsageError } from '../../errors.js';

export interface HeartbeatRecord {
  seq: number;
  time: string;
  progress: number | null;
  message: string | null;
  pid: number;
}

export async function heartbeatCommand(flags: { progress?: string; message?: string }): Promise<void> {
  const file = process.env.COORD_HEARTBEAT_FILE;
  if (!file) throw new UsageError('COORD_HEARTBEAT_FILE is not set: coord heartbeat runs inside a stream');
  let progress: number | null = null;
  if (flags.progress !== undefined) {
    progress = Number(flags.progress);
    if (!Number.isFinite(progress) || progress < 0 || progress > 100)
      throw new UsageError(`--progress must be a number from 0 to 100, got "${flags.progress}"`);
  }
  let seq = 0;
  try {
    seq = (JSON.parse(readFileSync(file, 'utf8')) as Partial<HeartbeatRecord>).seq ?? 0;
  } catch {
    /* first beat, or a file someone touched */
  }
  const rec: HeartbeatRecord = { seq: seq + 1, time: new Date().toISOString(), progress, message: flags.message ?? null, pid: process.ppid };
  writeFileAtomicSync(file, JSON.stringify(rec) + '\n');
}
