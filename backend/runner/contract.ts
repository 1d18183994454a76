/**
 * The shared runner contract: every runner (reference, cpu, cuda) runs this vitest suite against
 * tiny fixture models. It drives the runner directly with hand-built SchedulerOutputs and checks
 * that batching, chunking, prefix reuse and preemption never change what the model computes, and
 * that sampling honours seeds, bans and logprobs. Needs `Runner.lastLogits`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type FixtureFamily,
  fixtureFamilies,
  fixtureModelCache,
} from '../../test/fixtures/models.ts';
import { loadModelSpec, type ModelSpec } from '../model/config.ts';
import {
  BlockPool,
  ContractDriver,
  DriverSequence,
  randomPrompt,
  type SeqOptions,
} from './contract-driver.ts';
import type { Runner } from './runner.ts';
import { logSoftmax } from './sampling.ts';

export type MakeRunner = (
  modelDir: string,
  opts: { numBlocks: number; blockSize: number },
) => Promise<Runner>;

export interface RunnerContractOptions {
  families?: FixtureFamily[];
  /** Fixture weight dtype (default F32). */
  dtype?: 'F32' | 'BF16';
  /** Largest |difference| accepted between logits that must agree (default 1e-4). */
  logitTolerance?: number;
  numBlocks?: number;
  blockSize?: number;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export function describeRunnerContract(
  name: string,
  makeRunner: MakeRunner,
  options: RunnerContractOptions = {},
) {
  const numBlocks = options.numBlocks ?? 256;
  const blockSize = options.blockSize ?? 4;
  const tolerance = options.logitTolerance ?? 1e-4;
  for (const family of options.families ?? fixtureFamilies) {
    describe(`${name} runner contract (${family})`, () => {
      let runner: Runner;
      let spec: ModelSpec;
      let nextSeqId = 0;
      beforeAll(async () => {
        const dir = fixtureModelCache(family, 7, { dtype: options.dtype ?? 'F32' });
        spec = await loadModelSpec(dir);
        runner = await makeRunner(dir, { numBlocks, blockSize });
        if (!runner.lastLogits)
          throw new Error(`${name} runner must implement lastLogits() for the contract`);
      });
      afterAll(async () => {
        await runner?.close();
      });
      const driver = (order: 'forward' | 'reverse' = 'forward') =>
        new ContractDriver(runner, new BlockPool(numBlocks, order), blockSize);
      const seq = (prompt: number[], opts?: SeqOptions) =>
        new DriverSequence(nextSeqId++, prompt, opts);
      const prompt = (length: number, seed: number) => randomPrompt(length, spec.vocabSize, seed);
      const expectClose = (a: Float32Array, b: Float32Array) =>
        expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(tolerance);

      it('reports its KV cache geometry', () => {
        expect(runner.kvCache.numBlocks).toBe(numBlocks);
        expect(runner.kvCache.blockSize).toBe(blockSize);
        expect(runner.kvCache.bytes).toBeGreaterThan(0);
      });

      it('greedy generation is the same alone and in a ragged batch', async () => {
        const prompts = [prompt(5, 1), prompt(13, 2), prompt(22, 3)];
        const alone: { tokens: number[]; logits: Float32Array[] }[] = [];
        for (const p of prompts) {
          const d = driver();
          const s = seq(p);
          const first = await d.step([{ seq: s }]);
          const history = await d.decode([s], 6);
          alone.push({
            tokens: s.output,
            logits: [first.sampledLogits.get(s)!, ...history.get(s)!],
          });
        }
        const d = driver('reverse');
        const seqs = prompts.map((p) => seq(p));
        const first = await d.step(seqs.map((s) => ({ seq: s })));
        const history = await d.decode(seqs, 6);
        seqs.forEach((s, i) => {
          expect(s.output).toEqual(alone[i].tokens);
          const logits = [first.sampledLogits.get(s)!, ...history.get(s)!];
          for (const [j, l] of logits.entries()) expectClose(l, alone[i].logits[j]);
        });
      });

      it('chunked prefill gives the same logits and tokens as one-shot prefill', async () => {
        const p = prompt(37, 4);
        const oneShot = seq(p);
        const d = driver();
        const reference = (await d.step([{ seq: oneShot }])).sampledLogits.get(oneShot)!;
        await d.decode([oneShot], 4);
        for (const chunks of [
          [16, 16, 5],
          [1, 36],
          [7, 30],
          [13, 11, 13],
        ]) {
          const dc = driver('reverse');
          const s = seq(p);
          const companion = seq(prompt(9, 5));
          await dc.step([{ seq: companion }]);
          let logits: Float32Array | undefined;
          for (const numTokens of chunks) {
            // Each chunk shares its step with another sequence's decode, as the scheduler mixes them.
            const { sampledLogits } = await dc.step([{ seq: companion }, { seq: s, numTokens }]);
            logits = sampledLogits.get(s);
          }
          expectClose(logits!, reference);
          await dc.decode([s], 4);
          expect(s.output).toEqual(oneShot.output);
        }
      });

      it('a prefix-cache hit reuses full blocks and computes only the rest', async () => {
        const shared = prompt(3 * blockSize, 6);
        const a = seq([...shared, ...prompt(2, 7)]);
        const tail = prompt(5, 8);
        const d = driver();
        await d.step([{ seq: a }]);
        const b = seq([...shared, ...tail]);
        b.blocks = a.blocks.slice(0, 3);
        b.computed = 3 * blockSize;
        const hit = await d.step([{ seq: b }]);
        await d.decode([a, b], 3);

        const fresh = seq([...shared, ...tail]);
        const dFresh = driver('reverse');
        const miss = await dFresh.step([{ seq: fresh }]);
        await dFresh.decode([fresh], 3);
        expectClose(hit.sampledLogits.get(b)!, miss.sampledLogits.get(fresh)!);
        expect(b.output).toEqual(fresh.output);

        const alone = seq(a.prompt);
        const dAlone = driver('reverse');
        await dAlone.step([{ seq: alone }]);
        await dAlone.decode([alone], 3);
        expect(a.output).toEqual(alone.output);
      });

      it('preemption by recompute continues exactly where it stopped', async () => {
        const p = prompt(11, 9);
        const straight = seq(p);
        const d = driver();
        await d.step([{ seq: straight }]);
        const straightLogits = await d.decode([straight], 8);

        const s = seq(p);
        const dp = driver();
        await dp.step([{ seq: s }]);
        await dp.decode([s], 4);
        const hold = Array.from({ length: 4 }, () => dp.pool.allocate());
        dp.evict(s);
        await dp.step([{ seq: s, numTokens: 6 }]);
        const resumed = await dp.step([{ seq: s }]);
        dp.pool.release(hold);
        expectClose(resumed.sampledLogits.get(s)!, straightLogits.get(straight)![4]);
        await dp.decode([s], 3);
        expect(s.output).toEqual(straight.output);
      });

      it('seeded sampling is reproducible whatever the batch composition', async () => {
        const sampling = { temperature: 0.9, topK: 40, topP: 0.95, seed: 1234 };
        const p = prompt(10, 10);
        const alone = seq(p, { sampling });
        const d = driver();
        await d.step([{ seq: alone }]);
        await d.decode([alone], 9);

        const db = driver('reverse');
        const s = seq(p, { sampling });
        const others = [
          seq(prompt(6, 11), { sampling: { ...sampling, seed: 99 } }),
          seq(prompt(15, 12)),
        ];
        await db.step([{ seq: others[0] }, { seq: s, numTokens: 4 }]);
        await db.step([{ seq: s }, { seq: others[1] }, { seq: others[0] }]);
        await db.decode([others[1], s, others[0]], 9);
        expect(s.output).toEqual(alone.output);
      });

      it('never samples a banned token', async () => {
        const p = prompt(8, 13);
        const free = seq(p);
        const d = driver();
        const { sampledLogits } = await d.step([{ seq: free }]);
        const favourite = free.output[0];
        const banned = seq(p, { bannedTokenIds: [favourite] });
        await driver().step([{ seq: banned }]);
        const logits = Float32Array.from(sampledLogits.get(free)!);
        logits[favourite] = Number.NEGATIVE_INFINITY;
        expect(banned.output[0]).not.toBe(favourite);
        expect(banned.output[0]).toBe(logits.indexOf(Math.max(...logits)));

        const even = Array.from({ length: Math.ceil(spec.vocabSize / 2) }, (_, i) => 2 * i);
        const hot = seq(p, { sampling: { temperature: 1.5, seed: 5 }, bannedTokenIds: even });
        const dh = driver();
        await dh.step([{ seq: hot }]);
        await dh.decode([hot], 15);
        expect(hot.output.filter((id) => id % 2 === 0)).toEqual([]);
      });

      it('sampled logprobs are the log-softmax of the logits, top alternatives first', async () => {
        const s = seq(prompt(9, 14), { sampling: { logprobs: 3 } });
        const { result, sampledLogits } = await driver().step([{ seq: s }]);
        const sampled = result.sampled[0]!;
        const expected = logSoftmax(sampledLogits.get(s)!);
        expect(sampled.logprob).toBeCloseTo(expected[sampled.tokenId], 4);
        expect(sampled.topLogprobs!.map((t) => t.tokenId)[0]).toBe(sampled.tokenId);
        expect(sampled.topLogprobs).toHaveLength(3);
        const sorted = [...expected].sort((x, y) => y - x).slice(0, 3);
        for (const [i, t] of sampled.topLogprobs!.entries())
          expect(t.logprob).toBeCloseTo(sorted[i], 4);
      });

      it('prompt logprobs match the log-softmax of teacher-forced logits, chunked or not', async () => {
        const p = prompt(15, 15);
        const forced = seq(p.slice(0, 1));
        const df = driver();
        const expected: number[] = [];
        for (let i = 1; i < p.length; i++) {
          const { sampledLogits } = await df.step([{ seq: forced }]);
          expected.push(logSoftmax(sampledLogits.get(forced)!)[p[i]]);
          forced.output[forced.output.length - 1] = p[i];
        }
        const whole = seq(p, { sampling: { logprobs: 2 } });
        const oneShot = (await driver().step([{ seq: whole, promptLogprobs: true }])).result
          .promptLogprobs[0]!;
        const chunked = seq(p, { sampling: { logprobs: 2 } });
        const dc = driver('reverse');
        const first = (await dc.step([{ seq: chunked, numTokens: 7, promptLogprobs: true }]))
          .result;
        const second = (await dc.step([{ seq: chunked, promptLogprobs: true }])).result;
        const joined = [...first.promptLogprobs[0]!, ...second.promptLogprobs[0]!];
        for (const got of [oneShot, joined]) {
          expect(got.map((e) => e.tokenId)).toEqual(p.slice(1));
          for (const [i, e] of got.entries()) {
            expect(Math.abs(e.logprob - expected[i])).toBeLessThanOrEqual(tolerance * 10);
          }
          for (const e of got) expect(e.topLogprobs).toHaveLength(2);
        }
      });
    });
  }
}
