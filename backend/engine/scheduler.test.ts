import { describe, expect, it } from 'vitest';
import { BlockManager } from './block-manager.ts';
import { defaultSamplingParams, type SamplingParams } from './sampling-params.ts';
import { Scheduler, type SchedulerConfig, type StepOutput } from './scheduler.ts';
import { Sequence } from './sequence.ts';
import { FakeRunner } from './testing/fake-runner.ts';
import { EOS, promptOf, referenceTokens } from './testing/harness.ts';

let nextId = 0;
function seqOf(
  prompt: number[],
  params: Partial<SamplingParams> = {},
  arrivalTime = nextId,
): Sequence {
  const id = nextId++;
  return new Sequence({
    requestId: `r${id}`,
    seqId: id,
    promptTokenIds: prompt,
    params: defaultSamplingParams({ temperature: 0, maxTokens: 8, ignoreEos: true, ...params }),
    arrivalTime,
  });
}

function setup(config: Partial<SchedulerConfig> & { numBlocks: number; blockSize: number }) {
  const full: SchedulerConfig = {
    maxNumSeqs: 8,
    maxNumBatchedTokens: 256,
    maxModelLen: config.numBlocks * config.blockSize,
    maxQueueLen: 8,
    eosTokenIds: [EOS],
    ...config,
  };
  const bm = new BlockManager({ numBlocks: config.numBlocks, blockSize: config.blockSize });
  const scheduler = new Scheduler(full, bm);
  const runner = new FakeRunner({ numBlocks: config.numBlocks, blockSize: config.blockSize });
  /** One engine step without the engine: schedule, execute, update. */
  const step = async (): Promise<StepOutput[]> => {
    const { batch, aborted } = scheduler.schedule();
    if (batch.sequences.length === 0) return aborted;
    return [...aborted, ...scheduler.update(batch, await runner.execute(batch))];
  };
  return { scheduler, bm, runner, step };
}

describe('Scheduler', () => {
  it('refuses a sequence once the waiting queue is full beyond what can start at once', () => {
    const { scheduler } = setup({ numBlocks: 8, blockSize: 4, maxNumSeqs: 2, maxQueueLen: 1 });
    const accepted = [1, 2, 3, 4].map((i) => scheduler.add(seqOf(promptOf(i, 3))));
    expect(accepted).toEqual([true, true, true, false]);
    expect(scheduler.numWaiting).toBe(3);
  });

  it('caps the running batch at maxNumSeqs', async () => {
    const { scheduler, runner, step } = setup({ numBlocks: 16, blockSize: 4, maxNumSeqs: 2 });
    for (let i = 0; i < 3; i++) scheduler.add(seqOf(promptOf(i, 3)));
    await step();
    expect(runner.batches[0]!.sequences).toHaveLength(2);
    expect([scheduler.numRunning, scheduler.numWaiting]).toEqual([2, 1]);
  });

  it('preempts the lowest-priority, latest-arrived running sequence and re-prefills its output', async () => {
    const { scheduler, bm, runner, step } = setup({ numBlocks: 6, blockSize: 4 });
    const important = seqOf(promptOf(1, 7), { priority: 0, maxTokens: 12 }, 0);
    const lowEarly = seqOf(promptOf(2, 7), { priority: 3, maxTokens: 12 }, 1);
    const lowLate = seqOf(promptOf(3, 7), { priority: 3, maxTokens: 12 }, 2);
    for (const s of [lowLate, important, lowEarly]) scheduler.add(s);
    await step(); // 3 × 2 blocks: the pool is full
    expect(bm.numFreeBlocks).toBe(0);
    await step(); // positions 7 → 8 fit; position 8 needs a third block
    expect(scheduler.numPreemptions).toBe(0);
    await step();
    expect(scheduler.numPreemptions).toBe(1);
    expect(lowLate.status).toBe('preempted');
    expect([important.status, lowEarly.status]).toEqual(['running', 'running']);
    expect(lowLate.blockTable).toEqual([]);
    expect(lowLate.outputTokenIds).toHaveLength(2);
    while (scheduler.hasUnfinished()) await step();
    for (const s of [important, lowEarly, lowLate])
      expect(s.outputTokenIds).toEqual(
        referenceTokens([...s.promptTokenIds], { maxTokens: 12, ignoreEos: true }),
      );
    const reprefill = runner.batches
      .flatMap((b) => b.sequences)
      .find(
        (s) => s.seqId === lowLate.seqId && s.outputTokenIds.length === 2 && s.tokenIds.length > 1,
      );
    expect(reprefill).toBeDefined();
    expect(bm.numFreeBlocks).toBe(6);
  });

  it('removes an aborted waiting sequence at the next step', async () => {
    const { scheduler, step } = setup({ numBlocks: 8, blockSize: 4, maxNumSeqs: 1 });
    const a = seqOf(promptOf(1, 3));
    const b = seqOf(promptOf(2, 3));
    scheduler.add(a);
    scheduler.add(b);
    await step();
    expect(scheduler.abort(b.requestId)).toBe(true);
    expect(scheduler.abort(b.requestId)).toBe(false);
    const outputs = await step();
    const forB = outputs.find((o) => o.seq === b)!;
    expect([forB.finished, forB.finishReason, forB.newTokenIds]).toEqual([true, 'abort', []]);
    expect(scheduler.numWaiting).toBe(0);
    expect(scheduler.get(b.requestId)).toBeUndefined();
  });

  it('bans EOS and stop ids below min_tokens, and asks for prompt logprobs per chunk', async () => {
    const { scheduler, runner, step } = setup({
      numBlocks: 8,
      blockSize: 4,
      maxNumBatchedTokens: 4,
    });
    const seq = new Sequence({
      requestId: 'echo',
      seqId: 100,
      promptTokenIds: [5, 6, 7, 8, 9, 10],
      params: defaultSamplingParams({ minTokens: 2, maxTokens: 4, stopTokenIds: [7, EOS] }),
      arrivalTime: 0,
      wantPromptLogprobs: true,
    });
    scheduler.add(seq);
    const outputs: StepOutput[] = [];
    while (scheduler.hasUnfinished()) outputs.push(...(await step()));
    const view = runner.batches.map((b) => {
      const s = b.sequences[0]!;
      const targets = s.promptLogprobTargets && Array.from(s.promptLogprobTargets);
      const banned = s.bannedTokenIds && Array.from(s.bannedTokenIds).sort((x, y) => x - y);
      return [s.startPosition, s.tokenIds.length, s.sample, targets, banned];
    });
    expect(view.slice(0, 4)).toEqual([
      [0, 4, false, [6, 7, 8, 9], null],
      [4, 2, true, [10], [EOS, 7]],
      [6, 1, true, null, [EOS, 7]],
      [7, 1, true, null, null],
    ]);
    const prompt = outputs[0]!.promptLogprobs!;
    expect(prompt.map((p) => p?.tokenId ?? null)).toEqual([null, 6, 7, 8, 9, 10]);
    expect(outputs.slice(1).every((o) => o.promptLogprobs === null)).toBe(true);
  });

  it('throws when the runner answers for a different number of sequences', () => {
    const { scheduler } = setup({ numBlocks: 8, blockSize: 4 });
    scheduler.add(seqOf(promptOf(1, 3)));
    const { batch } = scheduler.schedule();
    expect(() => scheduler.update(batch, { sampled: [], promptLogprobs: [] })).toThrow(
      /1 sequences/,
    );
  });
});
