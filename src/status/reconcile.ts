/**
 * Stream records are written in batches, the event log at once: when a coordinator dies
 * between the two, the log is ahead. Readers that must not miss a started process (`status`,
 * `stop`, `--resume`) bring the records up to date from the log. An event never moves a
 * record back: only a newer attempt, or a later step of the same attempt, applies.
 */
import type { StreamRecord } from '../backend/types.js';
import { unreachable } from '../core/unreachable.js';
import { TERMINAL_STREAM_STATES, type CoordEvent } from '../events/types.js';

const BEFORE_START = new Set<StreamRecord['state']>(['pending', 'waiting', 'recovering']);

/** The events that move a stream's record; the others leave it as it is. */
const RECORD_EVENTS = new Set(['stream-started', 'stream-ended', 'stream-skipped', 'stream-stalled'] as const);
type RecordEvent = Extract<CoordEvent, { type: typeof RECORD_EVENTS extends Set<infer T> ? T : never }>;
const movesRecord = (e: CoordEvent): e is RecordEvent => (RECORD_EVENTS as ReadonlySet<string>).has(e.type);

export function reconcileStreams(records: readonly StreamRecord[], events: readonly CoordEvent[]): StreamRecord[] {
  const byId = new Map(records.map((r) => [r.id, { ...r }]));
  for (const e of events) {
    if (!movesRecord(e)) continue;
    const r = byId.get(e.stream);
    if (!r) continue;
    switch (e.type) {
      case 'stream-started':
        if (e.attempt > r.attempt || (e.attempt === r.attempt && BEFORE_START.has(r.state))) {
          Object.assign(r, {
            state: 'running',
            attempt: e.attempt,
            pid: e.pid > 0 ? e.pid : null,
            pgid: e.pid > 0 ? e.pid : null,
            procStartTime: e.procStartTime ?? null,
            worker: e.worker ?? null,
            startedAt: e.time,
            endedAt: null,
            exitCode: null,
            signal: null,
            reason: null,
          });
        }
        break;
      case 'stream-ended':
        if (e.attempt >= r.attempt && !TERMINAL_STREAM_STATES.has(r.state)) {
          Object.assign(r, { state: e.state, attempt: e.attempt, exitCode: e.exitCode, reason: e.reason ?? null, endedAt: e.time, killed: e.killed ?? false });
        }
        break;
      case 'stream-skipped':
        if (!TERMINAL_STREAM_STATES.has(r.state)) Object.assign(r, { state: 'skipped', reason: e.reason, endedAt: e.time });
        break;
      case 'stream-stalled':
        if (e.attempt === r.attempt && r.state === 'running') r.state = 'stalled';
        break;
      default:
        return unreachable(e);
    }
  }
  return [...byId.values()];
}
