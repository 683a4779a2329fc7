/**
 * The sink of a Redis backend's connection events (src/backend/redis/connection.ts): one line
 * to stderr when the connection is lost, when it is back, and when calls start failing. The
 * backend only tells; commands pass this listener to the backends they open (src/cli/context.ts).
 */
import type { ConnectionEvent } from '../backend/redis/connection.js';
import { unreachable } from '../util/result.js';

/** The line a connection event is shown as. */
export function connectionLine(e: ConnectionEvent): string {
  const why = e.error ?? 'connection closed';
  switch (e.state) {
    case 'lost':
      return e.wasConnected ? `coord: lost the connection to ${e.where} (${why}), retrying` : `coord: cannot connect to ${e.where} (${why}), retrying`;
    case 'restored':
      return `coord: reconnected to ${e.where}`;
    case 'failed':
      return `coord: no connection to ${e.where} for ${(e.awayMs ?? 0) / 1000} s (${why}); calls fail until it is back`;
    default:
      return unreachable(e.state);
  }
}

/** Writes each connection event to `out` (stderr by default) as one line. */
export function printConnection(out: NodeJS.WritableStream = process.stderr): (e: ConnectionEvent) => void {
  return (e) => {
    out.write(connectionLine(e) + '\n');
  };
}
