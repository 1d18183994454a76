import { describe, expect, it } from 'vitest';
import { BlockQueue } from './block-queue.ts';

describe('BlockQueue', () => {
  it('pops in push order and removes from anywhere', () => {
    const q = new BlockQueue(8);
    for (const id of [5, 1, 7, 2]) q.pushBack(id);
    q.remove(7);
    q.remove(5);
    q.pushBack(5);
    expect([...q]).toEqual([1, 2, 5]);
    expect([q.popFront(), q.popFront(), q.size]).toEqual([1, 2, 1]);
    q.remove(5);
    expect([q.popFront(), q.size]).toEqual([undefined, 0]);
    q.pushBack(3);
    expect([...q]).toEqual([3]);
  });

  it('throws on queuing twice or removing what is not queued', () => {
    const q = new BlockQueue(4);
    q.pushBack(1);
    expect(() => q.pushBack(1)).toThrow(/already queued/);
    expect(() => q.remove(2)).toThrow(/not queued/);
  });
});
