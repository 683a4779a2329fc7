/** ReadyQueue: readiness order, stale entries, no starvation of large demands, backoff wake-up. */
import { describe, expect, it } from '@jest/globals';
import { ReadyQueue } from '../../src/orchestrator/ready-queue.js';

interface Item {
  id: string;
  resources: Record<string, number>;
  notBefore: number;
  waiting: boolean;
  priority?: number;
  slotless?: boolean;
}

const item = (id: string, resources: Record<string, number> = {}, notBefore = 0): Item => ({ id, resources, notBefore, waiting: true });
const queue = () =>
  new ReadyQueue<Item>({
    resources: (i) => i.resources,
    notBefore: (i) => i.notBefore,
    waiting: (i) => i.waiting,
    priority: (i) => i.priority ?? 0,
    slotless: (i) => i.slotless ?? false,
  });

/** A pool account for scans: takes units when they fit. */
function pools(free: Record<string, number>) {
  const started: string[] = [];
  const tryStart = (i: Item): boolean => {
    if (Object.entries(i.resources).some(([p, n]) => (free[p] ?? 0) < n)) return false;
    for (const [p, n] of Object.entries(i.resources)) free[p] = (free[p] ?? 0) - n;
    started.push(i.id);
    i.waiting = false;
    return true;
  };
  return { started, tryStart, free };
}

describe('ReadyQueue', () => {
  it('offers items in the order they became ready, while slots last', () => {
    const q = queue();
    const [a, b, c] = [item('a'), item('b'), item('c')];
    q.push(a);
    q.push(b);
    q.push(c);
    const started: string[] = [];
    q.scan(
      0,
      () => started.length < 2,
      (i) => (started.push(i.id), (i.waiting = false), true),
    );
    expect(started).toEqual(['a', 'b']);
    q.scan(
      0,
      () => true,
      (i) => (started.push(i.id), (i.waiting = false), true),
    );
    expect(started).toEqual(['a', 'b', 'c']);
  });

  it('skips stale entries: an item queued again starts from its newest place', () => {
    const q = queue();
    const a = item('a');
    const b = item('b');
    q.push(a);
    q.push(b);
    q.push(a); // a re-queued behind b (a retry)
    const started: string[] = [];
    q.scan(
      0,
      () => true,
      (i) => (started.push(i.id), true),
    );
    expect(started).toEqual(['b', 'a']);
  });

  it('does not let small demands starve a large one waiting for the same pool', () => {
    const q = queue();
    let free = 1; // one unit of gpu free
    const big = item('big', { gpu: 2 });
    const small = item('small', { gpu: 1 });
    const other = item('other', { cpu: 1 });
    q.push(big);
    q.push(small);
    q.push(other);
    const started: string[] = [];
    q.scan(
      0,
      () => true,
      (i) => {
        const need = i.resources.gpu ?? 0;
        if (need > free) return false;
        free -= need;
        started.push(i.id);
        return true;
      },
    );
    expect(started).toEqual(['other']); // small is held back behind big; other uses another pool
  });

  it('reports when the earliest item in backoff may start', () => {
    const q = queue();
    q.push(item('later', {}, 5000));
    q.push(item('soon', {}, 2000));
    expect(
      q.scan(
        1000,
        () => true,
        () => true,
      ),
    ).toBe(2000);
    expect(
      q.scan(
        3000,
        () => true,
        () => true,
      ),
    ).toBe(5000);
  });

  it('serves higher priorities first, equal priorities in queue order', () => {
    const q = queue();
    const low = { ...item('low'), priority: -1 };
    const a = item('a');
    const high = { ...item('high'), priority: 5 };
    const b = item('b');
    for (const i of [low, a, high, b]) q.push(i);
    const { started, tryStart } = pools({});
    q.scan(0, () => started.length < 3, tryStart);
    expect(started).toEqual(['high', 'a', 'b']);
    q.scan(0, () => true, tryStart);
    expect(started).toEqual(['high', 'a', 'b', 'low']);
  });

  it('a large request at the head holds back later small ones, whatever their kind, until its units are free', () => {
    const q = queue();
    const big = { ...item('big-acquire', { gpu: 2 }), slotless: true };
    const small = item('small-stream', { gpu: 1 });
    const smallAcquire = { ...item('small-acquire', { gpu: 1 }), slotless: true };
    for (const i of [big, small, smallAcquire]) q.push(i);
    const acct = pools({ gpu: 1 }); // one unit held elsewhere
    q.scan(0, () => true, acct.tryStart);
    expect(acct.started).toEqual([]);
    acct.free.gpu = 2; // the holder released
    q.scan(0, () => true, acct.tryStart);
    expect(acct.started).toEqual(['big-acquire']);
  });

  it('slotless items (resource requests) are served while no slot is free; streams without a slot hold nothing back', () => {
    const q = queue();
    const stream = item('stream', { gpu: 1 }); // wants a slot: none free
    const acquire = { ...item('acquire', { gpu: 1 }), slotless: true };
    q.push(stream);
    q.push(acquire);
    const acct = pools({ gpu: 1 });
    q.scan(0, () => false, acct.tryStart);
    expect(acct.started).toEqual(['acquire']);
  });

  it('a removed item is never offered again', () => {
    const q = queue();
    const acquire = { ...item('acquire', { gpu: 1 }), slotless: true };
    const later = item('later', { gpu: 1 });
    q.push(acquire);
    q.push(later);
    q.remove(acquire);
    const acct = pools({ gpu: 1 });
    q.scan(0, () => true, acct.tryStart);
    expect(acct.started).toEqual(['later']);
  });
});
