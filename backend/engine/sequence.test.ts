import { describe, expect, it } from 'vitest';
import { defaultSamplingParams } from './sampling-params.ts';
import { Sequence } from './sequence.ts';

const make = (seqId: number, priority: number, arrivalTime: number, wantPromptLogprobs = false) =>
  new Sequence({
    requestId: `r${seqId}`,
    seqId,
    promptTokenIds: [10, 11, 12],
    params: defaultSamplingParams({ priority: 9 }),
    arrivalTime,
    priority,
    wantPromptLogprobs,
  });

describe('Sequence', () => {
  it('addresses prompt and output tokens by position', () => {
    const s = make(0, 0, 0);
    s.outputTokenIds.push(20, 21);
    expect([s.numTokens, s.tokenAt(2), s.tokenAt(3)]).toEqual([5, 12, 20]);
    expect(s.tokenRange(1, 5)).toEqual(Int32Array.from([11, 12, 20, 21]));
  });

  it('keeps earlier output views unchanged as the output grows', () => {
    const s = make(0, 0, 0);
    s.outputTokenIds.push(1, 2);
    const early = s.outputTokenArray;
    for (let t = 3; t <= 40; t++) s.outputTokenIds.push(t);
    expect(Array.from(early)).toEqual([1, 2]);
    expect(Array.from(s.outputTokenArray)).toEqual(s.outputTokenIds);
  });

  it('keeps earlier block-table views unchanged as the table grows, is freed and refilled', () => {
    const s = make(0, 0, 0);
    s.blockTable.push(7, 8);
    const early = s.blockTableArray;
    for (let b = 9; b < 40; b++) s.blockTable.push(b);
    const full = s.blockTableArray;
    expect(Array.from(full)).toEqual(s.blockTable);
    s.blockTable = []; // what BlockManager.free does
    expect(s.blockTableArray.length).toBe(0);
    s.blockTable.push(100, 101, 102);
    expect(Array.from(s.blockTableArray)).toEqual([100, 101, 102]);
    expect(Array.from(early)).toEqual([7, 8]);
    expect(Array.from(full)).toEqual(Array.from({ length: 33 }, (_, i) => 7 + i));
  });

  it('orders by priority, then arrival, then id; the explicit priority wins over params', () => {
    const list = [make(1, 2, 0), make(2, 1, 5), make(3, 1, 3), make(4, 1, 3)];
    expect(list.sort(Sequence.compare).map((s) => s.seqId)).toEqual([3, 4, 2, 1]);
    expect(
      new Sequence({
        requestId: 'x',
        seqId: 9,
        promptTokenIds: [1],
        params: defaultSamplingParams({ priority: 4 }),
        arrivalTime: 0,
      }).priority,
    ).toBe(4);
  });

  it('owes prompt logprobs until one per prompt token is held', () => {
    const s = make(0, 0, 0, true);
    expect(s.promptLogprobs).toEqual([null]);
    expect(s.needsPromptLogprobs).toBe(true);
    s.promptLogprobs!.push({ tokenId: 11, logprob: -1 }, { tokenId: 12, logprob: -2 });
    expect(s.needsPromptLogprobs).toBe(false);
    expect(make(1, 0, 0).needsPromptLogprobs).toBe(false);
  });
});
