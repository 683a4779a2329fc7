/** The lines the CLI prints for a Redis backend's connection events (src/report/connection.ts): the text tests of outages expect. */
import { describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { connectionLine, printConnection } from '../../src/report/connection.js';

describe('connection events of a Redis backend, as the CLI prints them', () => {
  const where = 'redis://127.0.0.1:6379';

  it('says whether a lost connection had been up, names the server and the cause', () => {
    expect(connectionLine({ state: 'lost', where, wasConnected: true, error: 'read ECONNRESET' })).toBe(
      `coord: lost the connection to ${where} (read ECONNRESET), retrying`,
    );
    expect(connectionLine({ state: 'lost', where, wasConnected: false, error: 'connect ECONNREFUSED 127.0.0.1:6379' })).toBe(
      `coord: cannot connect to ${where} (connect ECONNREFUSED 127.0.0.1:6379), retrying`,
    );
    expect(connectionLine({ state: 'lost', where })).toBe(`coord: cannot connect to ${where} (connection closed), retrying`);
  });

  it('tells the reconnect and the outage that outlasted giveUpMs in seconds', () => {
    expect(connectionLine({ state: 'restored', where, attempt: 3 })).toBe(`coord: reconnected to ${where}`);
    expect(connectionLine({ state: 'failed', where, awayMs: 1500, error: 'connection closed', attempt: 9 })).toBe(
      `coord: no connection to ${where} for 1.5 s (connection closed); calls fail until it is back`,
    );
  });

  it('writes one line per event to the stream it is given', () => {
    const out = new PassThrough();
    const print = printConnection(out);
    print({ state: 'lost', where, wasConnected: true, error: 'x' });
    print({ state: 'restored', where });
    expect(String(out.read())).toBe(`coord: lost the connection to ${where} (x), retrying\ncoord: reconnected to ${where}\n`);
  });
});
