/**
 * Property test of the scheduler and block manager together, over the fake runner: after any
 * random sequence of arrivals, aborts, steps (which finish and preempt sequences on their own
 * under a small block pool), every block is owned exactly as often as block tables name it, no
 * block is leaked or double-owned, and once everything has ended every block is free again.
 * Each finished sequence's tokens equal a solo run's, so preemption and prefix sharing never
 * corrupt KV.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockManager } from './block-manager.ts';
import { defaultSamplingParams } from './sampling-params.ts';
import { Scheduler } from './scheduler.ts';
import { Sequence } from './sequence.ts';
import { FakeRunner } from './testing/fake-runner.ts';
import { EOS, referenceTokens, VOCAB_SIZE } from './testing/harness.ts';

type Command =
  | {
      kind: 'add';
      prompt: number[];
      maxTokens: number;
      priority: number;
      ignoreEos: boolean;
    }
  | { kind: 'abort'; pick: number }
  | { kind: 'step' };

/** Prompts from a small alphabet and a few shared heads, so prefix-cache hits happen. */
const prompt = fc
  .tuple(
    fc.constantFrom([], [5, 6, 7, 8, 9, 10, 11, 12], [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]),
    fc.array(fc.integer({ min: 1, max: VOCAB_SIZE - 1 }), { minLength: 1, maxLength: 20 }),
  )
  .map(([head, tail]) => [...head, ...tail]);
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      prompt,
      maxTokens: fc.integer({ min: 1, max: 12 }),
      priority: fc.integer({ min: -1, max: 1 }),
      ignoreEos: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  { weight: 5, arbitrary: fc.constant({ kind: 'step' as const }) },
);

function checkOwnership(bm: BlockManager, live: Sequence[]): void {
  const uses = new Int32Array(bm.numBlocks);
  for (const seq of live) {
    if (seq.status !== 'running') {
      expect(seq.blockTable).toEqual([]);
      continue;
    }
    expect(new Set(seq.blockTable).size).toBe(seq.blockTable.length);
    for (const id of seq.blockTable) uses[id]!++;
  }
  let free = 0;
  for (let id = 0; id < bm.numBlocks; id++) {
    expect(bm.refCount(id)).toBe(uses[id]);
    if (uses[id] === 0) free++;
  }
  expect(bm.numFreeBlocks).toBe(free);
}

async function runCommands(commands: Command[], numBlocks: number, blockSize: number) {
  const config = {
    maxNumSeqs: 4,
    maxNumBatchedTokens: 24,
    // As the engine requires: the longest sequence fits the KV pool.
    maxModelLen: Math.min(48, numBlocks * blockSize),
    maxQueueLen: 6,
    eosTokenIds: [EOS],
  };
  const bm = new BlockManager({ numBlocks, blockSize });
  const scheduler = new Scheduler(config, bm);
  const runner = new FakeRunner({ numBlocks, blockSize, vocabSize: VOCAB_SIZE });
  const live: Sequence[] = [];
  const ended: Sequence[] = [];
  let nextId = 0;
  const step = async () => {
    const { batch } = scheduler.schedule();
    if (batch.sequences.length > 0) scheduler.update(batch, await runner.execute(batch));
    for (const seq of live.filter((s) => s.status === 'finished')) {
      live.splice(live.indexOf(seq), 1);
      ended.push(seq);
    }
    checkOwnership(bm, live);
  };
  for (const c of commands) {
    if (c.kind === 'add') {
      // The engine answers 400 to these before they reach the scheduler.
      if (c.prompt.length + c.maxTokens > config.maxModelLen) continue;
      const id = nextId++;
      const seq = new Sequence({
        requestId: `r${id}`,
        seqId: id,
        promptTokenIds: c.prompt,
        params: defaultSamplingParams({ maxTokens: c.maxTokens, ignoreEos: c.ignoreEos }),
        arrivalTime: id,
        priority: c.priority,
      });
      if (scheduler.add(seq)) live.push(seq);
    } else if (c.kind === 'abort') {
      if (live.length > 0) scheduler.abort(live[c.pick % live.length]!.requestId);
    } else await step();
  }
  for (let i = 0; i < 500 && scheduler.hasUnfinished(); i++) await step();
  return { bm, scheduler, live, ended };
}

describe('scheduler + block manager invariants under random workloads', () => {
  it('never leaks or double-owns a block, and frees them all at the end', async () => {
    const seen = { preemptions: 0, prefixHits: 0, aborts: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 1, maxLength: 60 }),
        fc.constantFrom(6, 8, 12),
        fc.constantFrom(4, 8),
        async (commands, numBlocks, blockSize) => {
          const { bm, scheduler, live, ended } = await runCommands(commands, numBlocks, blockSize);
          seen.preemptions += scheduler.numPreemptions;
          seen.prefixHits += bm.prefixCacheHits;
          seen.aborts += ended.filter((q) => q.finishReason === 'abort').length;
          expect(scheduler.hasUnfinished()).toBe(false);
          expect(live).toEqual([]);
          expect(bm.numFreeBlocks).toBe(bm.numBlocks);
          expect(bm.usage).toBe(0);
          for (const seq of ended) {
            expect(seq.blockTable).toEqual([]);
            if (seq.finishReason === 'abort') continue;
            const reference = referenceTokens([...seq.promptTokenIds], {
              maxTokens: seq.params.maxTokens!,
              ignoreEos: seq.params.ignoreEos,
            });
            expect(seq.outputTokenIds).toEqual(reference);
          }
        },
      ),
      { numRuns: 150 },
    );
    // The workloads really exercised preemption, prefix sharing and aborts.
    expect(seen.preemptions).toBeGreaterThan(0);
    expect(seen.prefixHits).toBeGreaterThan(0);
    expect(seen.aborts).toBeGreaterThan(0);
  });
});
