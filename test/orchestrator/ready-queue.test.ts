/** ReadyQueue: readiness order, stale entries, no starvation of large demands, backoff wake-up. */
import { describe, expect, it } from '@jest/globals';
import { ReadyQueue } from '../../src/orchestrator/ready-queue.js';

interface Item {
  id: string;
  resources: Record<string, number>;
  notBefore: number;
  waiting: boolean;
}

const item = (id: string, resources: Record<string, number> = {}, notBefore = 0): Item => ({ id, resources, notBefore, waiting: true });
const queue = () =>
  new ReadyQueue<Item>({ resources: (i) => i.resources, notBefore: (i) => i.notBefore, waiting: (i) => i.waiting });

describe('ReadyQueue', () => {
  it('offers items in the order they became ready, while slots last', () => {
    const q = queue();
    const [a, b, c] = [item('a'), item('b'), item('c')];
    q.push(a);
    q.push(b);
    q.push(c);
    const started: string[] = [];
    q.scan(0, () => started.length < 2, (i) => (started.push(i.id), (i.waiting = false), true));
    expect(started).toEqual(['a', 'b']);
    q.scan(0, () => true, (i) => (started.push(i.id), (i.waiting = false), true));
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
    q.scan(0, () => true, (i) => (started.push(i.id), true));
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
    q.scan(0, () => true, (i) => {
      const need = i.resources.gpu ?? 0;
      if (need > free) return false;
      free -= need;
      started.push(i.id);
      return true;
    });
    expect(started).toEqual(['other']); // small is held back behind big; other uses another pool
  });

  it('reports when the earliest item in backoff may start', () => {
    const q = queue();
    q.push(item('later', {}, 5000));
    q.push(item('soon', {}, 2000));
    expect(q.scan(1000, () => true, () => true)).toBe(2000);
    expect(q.scan(3000, () => true, () => true)).toBe(5000);
  });
});
