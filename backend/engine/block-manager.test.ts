import { describe, expect, it } from 'vitest';
import { BlockManager, hashBlock } from './block-manager.ts';
import { defaultSamplingParams } from './sampling-params.ts';
import { Sequence } from './sequence.ts';

let nextId = 0;
const seqOf = (tokens: number[], cacheSalt: string | null = null) =>
  new Sequence({
    requestId: `r${nextId}`,
    seqId: nextId++,
    promptTokenIds: tokens,
    params: defaultSamplingParams(),
    arrivalTime: 0,
    cacheSalt,
  });
const range = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);

/** Allocates the whole prompt and marks its KV computed + published, as a finished prefill would. */
function prefill(bm: BlockManager, seq: Sequence, prefix: number[] | null = null): void {
  expect(bm.allocate(seq, seq.numTokens, prefix)).toBe(true);
  seq.numComputedTokens = seq.numTokens;
  bm.cacheComputedBlocks(seq);
}

describe('BlockManager', () => {
  it('hands out fresh blocks in id order with ref count 1', () => {
    const bm = new BlockManager({ numBlocks: 8, blockSize: 4 });
    const seq = seqOf(range(0, 9));
    expect(bm.allocate(seq, 9)).toBe(true);
    expect(seq.blockTable).toEqual([0, 1, 2]);
    expect([0, 1, 2, 3].map((id) => bm.refCount(id))).toEqual([1, 1, 1, 0]);
    expect(bm.numFreeBlocks).toBe(5);
    expect(bm.usage).toBeCloseTo(3 / 8);
  });

  it('grows a block table only when a new token crosses a block boundary', () => {
    const bm = new BlockManager({ numBlocks: 8, blockSize: 4 });
    const seq = seqOf(range(0, 4));
    bm.allocate(seq, 4);
    expect(seq.blockTable).toEqual([0]);
    expect(bm.allocate(seq, 4)).toBe(true);
    expect(seq.blockTable).toEqual([0]);
    expect(bm.allocate(seq, 5)).toBe(true);
    expect(seq.blockTable).toEqual([0, 1]);
  });

  it('returns false and changes nothing when the blocks do not fit', () => {
    const bm = new BlockManager({ numBlocks: 3, blockSize: 4 });
    const a = seqOf(range(0, 8));
    bm.allocate(a, 8);
    const b = seqOf(range(100, 8));
    expect(bm.allocate(b, 8)).toBe(false);
    expect(b.blockTable).toEqual([]);
    expect(bm.numFreeBlocks).toBe(1);
    expect(bm.owns(b)).toBe(false);
    expect(bm.allocate(a, 13)).toBe(false);
    expect(a.blockTable).toEqual([0, 1]);
  });

  it('frees a sequence tail first, and reuses empty blocks in the order they were freed', () => {
    const bm = new BlockManager({ numBlocks: 4, blockSize: 4, enablePrefixCaching: false });
    const a = seqOf(range(0, 12));
    bm.allocate(a, 12);
    expect(a.blockTable).toEqual([0, 1, 2]);
    bm.free(a);
    expect(a.blockTable).toEqual([]);
    expect(bm.numFreeBlocks).toBe(4);
    const b = seqOf(range(50, 16));
    bm.allocate(b, 16);
    expect(b.blockTable).toEqual([3, 2, 1, 0]);
  });

  it('shares the cached blocks of a common prefix between two sequences', () => {
    const bm = new BlockManager({ numBlocks: 8, blockSize: 16 });
    const a = seqOf(range(0, 40));
    prefill(bm, a);
    expect(a.blockTable).toEqual([0, 1, 2]);
    expect([0, 1, 2].map((id) => bm.isCached(id))).toEqual([true, true, false]);
    const b = seqOf([...range(0, 32), ...range(500, 8)]);
    const prefix = bm.findCachedPrefix(b);
    expect(prefix).toEqual([0, 1]);
    expect(bm.refCount(0)).toBe(1);
    expect(bm.allocate(b, b.numTokens, prefix)).toBe(true);
    expect(b.blockTable).toEqual([0, 1, 3]);
    expect([0, 1, 2, 3].map((id) => bm.refCount(id))).toEqual([2, 2, 1, 1]);
    expect(bm.prefixCacheQueries).toBe(40);
    expect(bm.prefixCacheHits).toBe(32);
  });

  it('shares cached blocks only between sequences with the same cache salt', () => {
    const bm = new BlockManager({ numBlocks: 16, blockSize: 4 });
    const prompt = range(0, 12);
    prefill(bm, seqOf(prompt, 'tenant-a'));
    expect(bm.findCachedPrefix(seqOf(prompt, 'tenant-a'))).toEqual([0, 1]);
    expect(bm.findCachedPrefix(seqOf(prompt, 'tenant-b'))).toEqual([]);
    expect(bm.findCachedPrefix(seqOf(prompt))).toEqual([]);
    prefill(bm, seqOf(prompt));
    expect(bm.findCachedPrefix(seqOf(prompt))).toEqual([3, 4]);
    expect(bm.findCachedPrefix(seqOf(prompt, 'tenant-a'))).toEqual([0, 1]);
  });

  it('stops the shared prefix at the first differing block', () => {
    const bm = new BlockManager({ numBlocks: 8, blockSize: 4 });
    prefill(bm, seqOf(range(0, 12)));
    const b = seqOf([...range(0, 4), 99, ...range(5, 7)]);
    expect(bm.findCachedPrefix(b)).toEqual([0]);
  });

  it('always leaves the last token to compute, even when the whole prompt is cached', () => {
    const bm = new BlockManager({ numBlocks: 8, blockSize: 16 });
    prefill(bm, seqOf(range(0, 32)));
    expect(bm.findCachedPrefix(seqOf(range(0, 32)))).toEqual([0]);
    expect(bm.findCachedPrefix(seqOf(range(0, 33)))).toEqual([0, 1]);
  });

  it('keeps freed cached blocks reusable with ref count 0', () => {
    const bm = new BlockManager({ numBlocks: 4, blockSize: 4 });
    const a = seqOf(range(0, 9));
    prefill(bm, a);
    bm.free(a);
    expect(bm.numFreeBlocks).toBe(4);
    expect([0, 1].map((id) => [bm.refCount(id), bm.isCached(id)])).toEqual([
      [0, true],
      [0, true],
    ]);
    const b = seqOf(range(0, 9));
    const prefix = bm.findCachedPrefix(b);
    expect(prefix).toEqual([0, 1]);
    expect(bm.allocate(b, 9, prefix)).toBe(true);
    expect(b.blockTable).toEqual([0, 1, 3]);
    expect([0, 1, 2, 3].map((id) => bm.refCount(id))).toEqual([1, 1, 0, 1]);
  });

  it('evicts cached blocks only when no empty block is left, least recently freed first', () => {
    const bm = new BlockManager({ numBlocks: 4, blockSize: 4 });
    const a = seqOf(range(0, 8));
    prefill(bm, a);
    bm.free(a); // a's tail (block 1) is freed before its head (block 0)
    const c = seqOf(range(100, 12));
    expect(bm.allocate(c, 12, bm.findCachedPrefix(c))).toBe(true);
    expect(c.blockTable).toEqual([2, 3, 1]);
    expect(bm.isCached(1)).toBe(false);
    expect(bm.isCached(0)).toBe(true);
    expect(bm.findCachedPrefix(seqOf(range(0, 8)))).toEqual([0]);
    const d = seqOf(range(200, 4));
    expect(bm.allocate(d, 4)).toBe(true);
    expect(d.blockTable).toEqual([0]);
    expect(bm.findCachedPrefix(seqOf(range(0, 8)))).toEqual([]);
  });

  it('a cached prefix that must be revived counts against the free blocks', () => {
    const bm = new BlockManager({ numBlocks: 3, blockSize: 4 });
    const a = seqOf(range(0, 8));
    prefill(bm, a);
    bm.free(a);
    const b = seqOf(range(0, 16));
    const prefix = bm.findCachedPrefix(b);
    expect(prefix).toEqual([0, 1]);
    // 16 tokens need 4 blocks: 2 cached + 2 fresh, but only 1 block besides the prefix exists.
    expect(bm.allocate(b, 16, prefix)).toBe(false);
    expect([bm.refCount(0), bm.refCount(1)]).toEqual([0, 0]);
    expect(bm.prefixCacheQueries).toBe(0); // a lookup counts once the sequence is admitted
  });

  it('publishes only the first of two blocks with the same content', () => {
    const bm = new BlockManager({ numBlocks: 4, blockSize: 4 });
    const a = seqOf(range(0, 5));
    const b = seqOf(range(0, 5));
    prefill(bm, a);
    bm.allocate(b, 5);
    b.numComputedTokens = 5;
    bm.cacheComputedBlocks(b);
    expect(b.blockTable).toEqual([2, 3]);
    expect(bm.isCached(2)).toBe(false);
    bm.free(b);
    bm.free(a);
    expect(bm.numCachedBlocks).toBe(1);
    expect(bm.findCachedPrefix(seqOf(range(0, 5)))).toEqual([0]);
  });

  it('publishes generated tokens too once their block is full and computed', () => {
    const bm = new BlockManager({ numBlocks: 4, blockSize: 4 });
    const a = seqOf(range(0, 3));
    prefill(bm, a);
    a.outputTokenIds.push(7, 8);
    bm.allocate(a, 5);
    a.numComputedTokens = 4;
    bm.cacheComputedBlocks(a);
    expect(bm.isCached(0)).toBe(true);
    expect(bm.findCachedPrefix(seqOf([0, 1, 2, 7, 9]))).toEqual([0]);
  });

  it('does no caching when prefix caching is off', () => {
    const bm = new BlockManager({ numBlocks: 4, blockSize: 4, enablePrefixCaching: false });
    prefill(bm, seqOf(range(0, 9)));
    expect(bm.numCachedBlocks).toBe(0);
    expect(bm.findCachedPrefix(seqOf(range(0, 9)))).toEqual([]);
  });

  it('throws on a double free and on freeing blocks the sequence does not own', () => {
    const bm = new BlockManager({ numBlocks: 4, blockSize: 4 });
    const a = seqOf(range(0, 4));
    expect(() => bm.free(a)).toThrow(/owns no blocks/);
    bm.allocate(a, 4);
    bm.free(a);
    expect(() => bm.free(a)).toThrow(/double free/);
    const b = seqOf(range(0, 4));
    bm.allocate(b, 4);
    b.blockTable.push(3);
    expect(() => bm.free(b)).toThrow(/block 3 is not in use/);
    expect(bm.refCount(b.blockTable[0]!)).toBe(1);
  });

  it('throws when given a block table it never allocated or a prefix that is not cached', () => {
    const bm = new BlockManager({ numBlocks: 4, blockSize: 4 });
    const a = seqOf(range(0, 4));
    a.blockTable.push(2);
    expect(() => bm.allocate(a, 4)).toThrow(/never allocated/);
    expect(() => bm.allocate(seqOf(range(0, 8)), 8, [1])).toThrow(/not a cached block/);
  });

  it('chains block hashes through the parent', () => {
    const tokens = range(0, 16);
    expect(hashBlock('', tokens)).toBe(hashBlock('', [...tokens]));
    expect(hashBlock('', tokens)).not.toBe(hashBlock(hashBlock('', tokens), tokens));
    expect(hashBlock('', [1, 2])).not.toBe(hashBlock('', [2, 1]));
  });
});
