/** MessageQueue (src/queue/queue.ts): argument refusals of recv and ack, the read-only state topic, how a waiting recv wakes and cleans up. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBackend } from '../../src/backend/file/file-backend.js';
import type { Backend } from '../../src/backend/types.js';
import { MessageQueue, QueueError } from '../../src/queue/queue.js';
import { topicKey } from '../../src/queue/cursors.js';
import { runRecord } from '../backend/contract.js';
import { withOverrides } from '../backend/overrides.js';

let dir: string;
let backend: FileBackend;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coord-recv-m-'));
  backend = new FileBackend(join(dir, '.coord'));
  await backend.createRun(runRecord('r1', new Date().toISOString()), 'streams: []\n');
});
afterEach(async () => {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The file backend with some of its methods replaced. */
const wrapped = (over: Partial<Backend>): Backend => withOverrides<Backend>(backend, over);

async function refusal(p: Promise<unknown>): Promise<QueueError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(QueueError);
    return e as QueueError;
  }
  throw new Error('expected a QueueError');
}

const send = (body: string) => backend.logAppend('r1', topicKey('jobs'), { body, sender: null, time: '' });

describe('refusals', () => {
  const q = () => new MessageQueue(backend, 'r1', { onEvent: () => undefined });

  it('recv and ack name the argument that is wrong', async () => {
    await send('x');
    const e = await refusal(q().recv('a b', { consumer: 'c' }));
    expect(e.name).toBe('QueueError');
    expect(e.message).toMatch(/^bad topic name "a b": /);
    expect((await refusal(q().recv('jobs', { consumer: 'a/b' }))).message).toMatch(/^bad consumer name "a\/b": /);
    expect((await refusal(q().ack('a b', 1, { consumer: 'c' }))).message).toMatch(/^bad topic name "a b": /);
    expect((await refusal(q().ack('jobs', 1, { consumer: 'a/b' }))).message).toMatch(/^bad consumer name "a\/b": /);
  });

  it('names, members and waits that are not of their type are refused, even when they print like good ones', async () => {
    await send('x');
    expect((await refusal(q().recv('jobs', { consumer: 7 as unknown as string }))).message).toMatch(/^bad consumer name 7: /);
    expect((await refusal(q().recv('jobs', { consumer: 'c', member: 5 as unknown as string }))).message).toBe(
      'bad member name 5: 1 to 128 printable characters',
    );
    expect((await refusal(q().recv('jobs', { consumer: 'c', waitMs: '5' as unknown as number }))).message).toBe(
      'a wait is a non-negative number of milliseconds, got 5',
    );
    // nothing was handed out
    expect((await q().recv('jobs', { consumer: 'c' }))?.id).toBe(1);
  });
});

describe('the state topic', () => {
  it('is an ordinary topic of a run whose shared state is not message_queue (a run without shared-state settings)', async () => {
    const q = await MessageQueue.open(backend, 'r1', { onEvent: () => undefined });
    expect(await q.send('state', 'x')).toBe(1);
    // topics named read-only by the caller stay read-only
    const ro = await MessageQueue.open(backend, 'r1', { onEvent: () => undefined, readOnlyTopics: ['jobs'] });
    expect((await refusal(ro.send('jobs', 'x'))).message).toMatch(/^topic jobs is written by the shared state/);
    expect(await ro.send('state', 'y')).toBe(2);
  });
});

describe('waiting', () => {
  /** Counts the looks (cursor reads) of a recv on a backend that never notifies. */
  function deaf(): { b: Backend; looks: () => number; watches: () => number; stops: () => number } {
    let looks = 0;
    let watches = 0;
    let stops = 0;
    const b = wrapped({
      docRead: async (runId, key) => {
        looks++;
        return backend.docRead(runId, key);
      },
      watchLog: () => {
        watches++;
        return () => void stops++;
      },
    });
    return { b, looks: () => looks, watches: () => watches, stops: () => stops };
  }

  it('without a usable fallbackMs a wait looks again after 1 s, not in a tight loop', async () => {
    for (const fallbackMs of [undefined, 0, -5]) {
      const d = deaf();
      const q = new MessageQueue(d.b, 'r1', { onEvent: () => undefined, fallbackMs });
      expect(await q.recv('jobs', { consumer: 'c', waitMs: 300 })).toBeUndefined();
      // the first look, one more once the watch is armed, one when the wait ends (and one if the timer fired a tick early)
      expect(d.looks()).toBeGreaterThanOrEqual(3);
      expect(d.looks()).toBeLessThanOrEqual(4);
    }
  });

  it('a recv that answers at once does not watch the log', async () => {
    const d = deaf();
    const q = new MessageQueue(d.b, 'r1', { onEvent: () => undefined });
    expect(await q.recv('jobs', { consumer: 'c' })).toBeUndefined();
    expect([d.looks(), d.watches()]).toEqual([1, 0]);
  });

  it('a notification that comes while it looks makes it look again at once', async () => {
    let notify: (() => void) | undefined;
    let heads = 0;
    const b = wrapped({
      watchLog: (_run, _key, onChange) => {
        notify = onChange;
        return () => undefined;
      },
      // during the second look (the watch armed), a message arrives after the look read the log
      logHead: async (runId, key) => {
        const head = await backend.logHead(runId, key);
        if (++heads === 2) {
          await send('late');
          notify!();
        }
        return head;
      },
    });
    const q = new MessageQueue(b, 'r1', { onEvent: () => undefined, fallbackMs: 60_000 });
    expect((await q.recv('jobs', { consumer: 'c', waitMs: 60_000 }))?.body).toBe('late');
    expect(heads).toBe(2);
  });

  it('an abort wakes a sleeping recv at once; the watch is stopped and the abort listener removed', async () => {
    const ctrl = new AbortController();
    const removed: string[] = [];
    const remove = ctrl.signal.removeEventListener.bind(ctrl.signal);
    ctrl.signal.removeEventListener = ((type: string, fn: Parameters<AbortSignal['removeEventListener']>[1]) => {
      removed.push(type);
      remove(type, fn);
    }) as typeof ctrl.signal.removeEventListener;
    let heads = 0;
    let stops = 0;
    const b = wrapped({
      watchLog: () => () => void stops++,
      logHead: async (runId, key) => {
        const head = await backend.logHead(runId, key);
        // after the second look recv goes to sleep before anything else runs; then the abort comes
        if (++heads === 2) setImmediate(() => ctrl.abort());
        return head;
      },
    });
    const q = new MessageQueue(b, 'r1', { onEvent: () => undefined, fallbackMs: 60_000 });
    expect(await q.recv('jobs', { consumer: 'c', waitMs: Infinity, signal: ctrl.signal })).toBeUndefined();
    // woken, it looks once more and sees the abort
    expect(heads).toBe(3);
    expect(stops).toBe(1);
    expect(removed).toEqual(['abort']);
  });

  it('a recv that got a message after waiting stops its watch', async () => {
    const d = deaf();
    let heads = 0;
    const b = wrapped({
      docRead: d.b.docRead.bind(d.b),
      watchLog: d.b.watchLog.bind(d.b),
      logHead: async (runId, key) => {
        const head = await backend.logHead(runId, key);
        if (++heads === 2) setImmediate(() => void send('late'));
        return head;
      },
    });
    const q = new MessageQueue(b, 'r1', { onEvent: () => undefined, fallbackMs: 20 });
    expect((await q.recv('jobs', { consumer: 'c', waitMs: 60_000 }))?.body).toBe('late');
    expect([d.watches(), d.stops()]).toEqual([1, 1]);
  });
});
