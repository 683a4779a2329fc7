/**
 * The run's event log as a file, `events.jsonl`: appended through one O_APPEND descriptor
 * per run, one write(2) per line, so that lines from one writer never interleave with other
 * writers' (see write(2) on O_APPEND). A line cut short by a full disk is finished or
 * skipped by readers; readers take whole lines only.
 */
import { closeSync, openSync, statSync, writeSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { EventLog } from '../types.js';
import type { CoordEvent } from '../../events/types.js';
import { diskFullAt, writeAllSync } from '../../util/disk-full.js';
import { runDirOf } from './layout.js';

export class FileEventLog implements EventLog {
  private readonly eventFds = new Map<string, number>();
  /** Runs whose last event line was cut short by a failed write (see appendEvent). */
  private readonly tornEvents = new Set<string>();

  constructor(private readonly home: string) {}

  async appendEvent(runId: string, event: CoordEvent): Promise<void> {
    const file = join(runDirOf(this.home, runId), 'events.jsonl');
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
    const file = join(runDirOf(this.home, runId), 'events.jsonl');
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

  /** Closes the run's descriptor (its directory is being removed). */
  forget(runId: string): void {
    const fd = this.eventFds.get(runId);
    if (fd !== undefined) {
      closeSync(fd);
      this.eventFds.delete(runId);
    }
  }

  /** Closes every descriptor. */
  close(): void {
    for (const fd of this.eventFds.values()) closeSync(fd);
    this.eventFds.clear();
  }
}
