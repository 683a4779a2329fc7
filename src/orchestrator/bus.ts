/**
 * The run's one event bus. Everything the engine does is an event (src/events/types.ts); the
 * bus stamps it with the time and the run, and hands it to its sinks: the event log
 * (`events.jsonl` or the backend's, durable events only) and the listeners `on()` added —
 * the reporters (tty, plain, json, CI), the dashboard feed, tests. The engine itself prints
 * nothing: only sinks do.
 */
import type { CoordEvent, EventInput } from '../events/types.js';

/** A sink: every event, and whether it is durable (stored in the event log) or for live views only. */
export type EventSink = (event: CoordEvent, durable: boolean) => void;
export type Listener = (e: CoordEvent) => void;

export class EventBus {
  private readonly sinks: EventSink[] = [];
  private listeners = 0;

  constructor(
    private readonly runId: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Adds a sink of durable events only (the event log). */
  log(store: (e: CoordEvent) => void): void {
    this.sinks.push((e, durable) => {
      if (durable) store(e);
    });
  }

  /** Adds a listener of every event (reporters, the dashboard feed, tests). */
  on(listener: Listener): void {
    this.listeners++;
    this.sinks.push((e) => listener(e));
  }

  /** Whether any listener is there (output lines are only made into events for one). */
  get listening(): boolean {
    return this.listeners > 0;
  }

  /** An event of the run: stored in the event log and told to every listener. */
  emit(input: EventInput): CoordEvent {
    return this.send(input, true);
  }

  /** An event for listeners only (live views: output lines, beats), not for the event log. */
  transient(input: EventInput): CoordEvent {
    return this.send(input, false);
  }

  private send(input: EventInput, durable: boolean): CoordEvent {
    const event = { ...input, time: this.now().toISOString(), run: this.runId } as CoordEvent;
    for (const s of this.sinks) s(event, durable);
    return event;
  }
}
