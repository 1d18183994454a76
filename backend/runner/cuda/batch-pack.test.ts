import { describe, expect, it } from 'vitest';
import { greedy } from '../contract-driver.ts';
import type { ScheduledSequence, SchedulerOutput } from '../runner.ts';
import { type PackLimits, packBatch } from './batch-pack.ts';

const limits: PackLimits = {
  vocabSize: 50,
  numBlocks: 8,
  blockSize: 4,
  maxModelLen: 64,
  maxNumBatchedTokens: 32,
};

function seq(
  seqId: number,
  tokens: number[],
  start: number,
  blocks: number[],
  extra: Partial<ScheduledSequence> = {},
): ScheduledSequence {
  const tokenIds = Int32Array.from(tokens);
  return {
    seqId,
    tokenIds,
    startPosition: start,
    slotMapping: Int32Array.from(
      tokens,
      (_, i) => blocks[Math.floor((start + i) / 4)] * 4 + ((start + i) % 4),
    ),
    blockTable: Int32Array.from(blocks),
    sample: true,
    sampling: greedy,
    promptTokenIds: Int32Array.from(tokens),
    outputTokenIds: new Int32Array(0),
    bannedTokenIds: null,
    promptLogprobTargets: null,
    ...extra,
  };
}
const batch = (...sequences: ScheduledSequence[]): SchedulerOutput => ({
  step: 1,
  sequences,
  numBatchedTokens: sequences.reduce((n, s) => n + s.tokenIds.length, 0),
});
const fixedUniform = () => 0.5;

describe('cuda batch packing', () => {
  it('flattens tokens, positions and padded block tables', () => {
    const { native } = packBatch(
      batch(seq(1, [5, 6, 7], 0, [3]), seq(2, [9], 6, [1, 2])),
      limits,
      fixedUniform,
      false,
    );
    expect([...native.tokenIds]).toEqual([5, 6, 7, 9]);
    expect([...native.positions]).toEqual([0, 1, 2, 6]);
    expect([...native.queryStart]).toEqual([0, 3, 4]);
    expect([...native.contextLens]).toEqual([3, 7]);
    expect([...native.blockTables]).toEqual([3, 0, 1, 2]);
    expect([...native.slotMapping]).toEqual([12, 13, 14, 10]);
  });

  it('puts prompt-logprob rows first and sampled rows last, each at the right token', () => {
    const a = seq(1, [5, 6, 7], 0, [3], { promptLogprobTargets: Int32Array.from([6, 7]) });
    const b = seq(2, [9], 6, [1, 2]);
    const { native, map } = packBatch(batch(a, b), limits, fixedUniform, false);
    expect([...native.rowToken]).toEqual([0, 1, 2, 3]);
    expect([...native.rowTarget]).toEqual([6, 7, -1, -1]);
    expect(map.sampleRow).toEqual([2, 3]);
    expect(map.promptRows).toEqual([
      { first: 0, count: 2 },
      { first: 2, count: 0 },
    ]);
  });

  it('lists each penalised token once with its output count and prompt membership', () => {
    const s = seq(1, [4], 3, [0], {
      promptTokenIds: Int32Array.from([1, 2, 2]),
      outputTokenIds: Int32Array.from([2, 4, 4]),
      sampling: { ...greedy, repetitionPenalty: 1.2, frequencyPenalty: 0.5 },
    });
    const { native } = packBatch(batch(s), limits, fixedUniform, false);
    const entries = [...native.penaltyTokens].map((id, i) => [
      id,
      native.penaltyOutputCounts[i],
      native.penaltyInPrompt[i],
    ]);
    expect(entries.sort((x, y) => x[0] - y[0])).toEqual([
      [1, 0, 1],
      [2, 1, 1],
      [4, 2, 0],
    ]);
    expect([...native.rowPenaltyOffsets]).toEqual([0, 3]);
  });

  it('draws a uniform only for rows that sample with temperature', () => {
    const hot = seq(1, [4], 0, [0], {
      sampling: { ...greedy, temperature: 0.7, seed: 3 },
      outputTokenIds: Int32Array.from([1, 2]),
    });
    const steps: number[] = [];
    const { native } = packBatch(
      batch(hot, seq(2, [5], 0, [1])),
      limits,
      (_, step) => {
        steps.push(step);
        return 0.25;
      },
      false,
    );
    expect([...native.rowUniform]).toEqual([0.25, 0]);
    expect(steps).toEqual([2]);
  });

  it('rejects out-of-range ids, slots and blocks before any native call', () => {
    expect(() => packBatch(batch(seq(1, [50], 0, [0])), limits, fixedUniform, false)).toThrow(
      /token id 50/,
    );
    expect(() => packBatch(batch(seq(1, [1], 0, [8])), limits, fixedUniform, false)).toThrow(
      /block id 8/,
    );
    expect(() =>
      packBatch(batch(seq(1, [1, 2, 3, 4, 5], 0, [0])), limits, fixedUniform, false),
    ).toThrow(/block table covers/);
    const tooMany = seq(
      1,
      Array.from({ length: 33 }, () => 1),
      0,
      [0, 1, 2, 3, 4, 5, 6, 7, 7],
    );
    expect(() => packBatch(batch(tooMany), limits, fixedUniform, false)).toThrow(
      /exceed max_num_batched_tokens/,
    );
  });
});
