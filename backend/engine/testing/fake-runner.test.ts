import { describe, expect, it } from 'vitest';
import type { ScheduledSequence, SchedulerOutput } from '../../runner/runner.ts';
import { defaultSamplingParams, toSamplingSpec } from '../sampling-params.ts';
import { FakeRunner } from './fake-runner.ts';

const BLOCK = 4;

/** A hand-built scheduled sequence: computes positions [start, start + n) of prompt+output. */
function scheduled(
  seqId: number,
  history: number[],
  start: number,
  n: number,
  blockTable: number[],
  numPrompt = history.length,
): ScheduledSequence {
  const slots = Array.from({ length: n }, (_, i) => {
    const p = start + i;
    return blockTable[Math.floor(p / BLOCK)]! * BLOCK + (p % BLOCK);
  });
  return {
    seqId,
    tokenIds: Int32Array.from(history.slice(start, start + n)),
    startPosition: start,
    slotMapping: Int32Array.from(slots),
    blockTable: Int32Array.from(blockTable),
    sample: start + n === history.length,
    sampling: toSamplingSpec(defaultSamplingParams({ temperature: 0 })),
    promptTokenIds: Int32Array.from(history.slice(0, numPrompt)),
    outputTokenIds: Int32Array.from(history.slice(numPrompt)),
    bannedTokenIds: null,
    promptLogprobTargets: null,
  };
}

const batchOf = (step: number, sequences: ScheduledSequence[]): SchedulerOutput => ({
  step,
  sequences,
  numBatchedTokens: sequences.reduce((n, s) => n + s.tokenIds.length, 0),
});

describe('FakeRunner', () => {
  const history = [3, 1, 4, 1, 5, 9];

  it('samples the same token whether a prompt is prefilled at once or in chunks', async () => {
    const whole = new FakeRunner({ numBlocks: 4, blockSize: BLOCK });
    const a = await whole.execute(batchOf(1, [scheduled(0, history, 0, 6, [0, 1])]));
    const chunked = new FakeRunner({ numBlocks: 4, blockSize: BLOCK });
    await chunked.execute(batchOf(1, [scheduled(0, history, 0, 4, [2, 3])]));
    const b = await chunked.execute(batchOf(2, [scheduled(0, history, 4, 2, [2, 3])]));
    expect(b.sampled[0]!.tokenId).toBe(a.sampled[0]!.tokenId);
    expect(a.sampled[0]!.tokenId).toBe(FakeRunner.nextToken(history));
  });

  it('throws when it reads KV that was never written', async () => {
    const runner = new FakeRunner({ numBlocks: 4, blockSize: BLOCK });
    await expect(runner.execute(batchOf(1, [scheduled(0, history, 4, 2, [0, 1])]))).rejects.toThrow(
      /never written/,
    );
  });

  it('throws when a block holds KV of another prefix', async () => {
    const runner = new FakeRunner({ numBlocks: 4, blockSize: BLOCK });
    await runner.execute(batchOf(1, [scheduled(0, [3, 1, 4, 1], 0, 4, [0])]));
    const other = [7, 1, 4, 1, 5];
    await expect(runner.execute(batchOf(2, [scheduled(1, other, 4, 1, [0, 1])]))).rejects.toThrow(
      /never written|another prefix/,
    );
  });

  it('throws on a slot mapping that disagrees with the block table', async () => {
    const runner = new FakeRunner({ numBlocks: 4, blockSize: BLOCK });
    const s = scheduled(0, history, 0, 6, [0, 1]);
    s.slotMapping[5] = 12;
    await expect(runner.execute(batchOf(1, [s]))).rejects.toThrow(/slot of position 5/);
  });

  it('throws on a batch over the token budget or writing a block another sequence uses', async () => {
    const budget = new FakeRunner({ numBlocks: 4, blockSize: BLOCK, maxNumBatchedTokens: 5 });
    await expect(budget.execute(batchOf(1, [scheduled(0, history, 0, 6, [0, 1])]))).rejects.toThrow(
      /budget/,
    );
    const shared = new FakeRunner({ numBlocks: 4, blockSize: BLOCK });
    const a = scheduled(0, history, 0, 6, [0, 1]);
    const b = scheduled(1, [2, 2, 2, 2, 2], 4, 1, [0, 2]);
    await expect(shared.execute(batchOf(1, [a, b]))).rejects.toThrow(/written by seq 0/);
  });

  it('throws when sample does not match the end of the history', async () => {
    const runner = new FakeRunner({ numBlocks: 4, blockSize: BLOCK });
    const s = scheduled(0, history, 0, 4, [0, 1]);
    s.sample = true;
    await expect(runner.execute(batchOf(1, [s]))).rejects.toThrow(/sample=true/);
  });
});
