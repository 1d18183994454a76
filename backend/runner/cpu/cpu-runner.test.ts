import { beforeAll, describe, expect, it } from 'vitest';
import {
  type FixtureFamily,
  fixtureFamilies,
  fixtureModelCache,
} from '../../../test/fixtures/models.ts';
import { loadModelSpec, type ModelSpec } from '../../model/config.ts';
import { loadWeights } from '../../model/loader.ts';
import { describeRunnerContract } from '../contract.ts';
import { greedy, randomPrompt } from '../contract-driver.ts';
import { createReferenceRunner } from '../reference/reference-runner.ts';
import type { Runner, ScheduledSequence, SchedulerOutput } from '../runner.ts';
import { createCpuRunner, estimateKvBlockBytes } from './cpu-runner.ts';

const blockSize = 4;
const numBlocks = 64;

describeRunnerContract('cpu', async (modelDir, opts) => {
  const spec = await loadModelSpec(modelDir);
  return createCpuRunner({ spec, modelDir, ...opts, numThreads: 2, keepLogits: true });
});

/** A sequence in a hand-scripted scenario: fixed tokens, so both runners see identical input. */
interface Script {
  seqId: number;
  tokens: number[];
  blocks: number[];
}

function scheduled(s: Script, start: number, count: number, sample: boolean): ScheduledSequence {
  const tokenIds = Int32Array.from(s.tokens.slice(start, start + count));
  const slot = (p: number) => s.blocks[Math.floor(p / blockSize)] * blockSize + (p % blockSize);
  return {
    seqId: s.seqId,
    tokenIds,
    startPosition: start,
    slotMapping: Int32Array.from(tokenIds, (_, i) => slot(start + i)),
    blockTable: Int32Array.from(s.blocks.slice(0, Math.ceil((start + count) / blockSize))),
    sample,
    sampling: greedy,
    promptTokenIds: Int32Array.from(s.tokens),
    outputTokenIds: new Int32Array(0),
    bannedTokenIds: null,
    promptLogprobTargets: null,
  };
}

/**
 * Ragged batches, a prefill split into chunks that share steps with decodes, and a prefix hit
 * (C reuses A's first two blocks and computes only its tail).
 */
function scenario(vocabSize: number): SchedulerOutput[] {
  const a: Script = { seqId: 1, tokens: randomPrompt(12, vocabSize, 11), blocks: [3, 9, 4] };
  const b: Script = { seqId: 2, tokens: randomPrompt(17, vocabSize, 12), blocks: [7, 1, 12, 5, 0] };
  const cTokens = [...a.tokens.slice(0, 8), ...randomPrompt(6, vocabSize, 13)];
  const c: Script = { seqId: 3, tokens: cTokens, blocks: [3, 9, 14, 15] };
  const steps = [
    [scheduled(a, 0, 9, true), scheduled(b, 0, 6, false)],
    [scheduled(a, 9, 1, true), scheduled(b, 6, 8, false), scheduled(c, 8, 5, true)],
    [scheduled(a, 10, 1, true), scheduled(b, 14, 3, true), scheduled(c, 13, 1, true)],
    [scheduled(a, 11, 1, true), scheduled(b, 16, 1, true)],
  ];
  return steps.map((sequences, step) => ({
    step,
    sequences,
    numBatchedTokens: sequences.reduce((n, s) => n + s.tokenIds.length, 0),
  }));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

async function allLogits(runner: Runner, steps: SchedulerOutput[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const step of steps) {
    await runner.execute(step);
    out.push(...runner.lastLogits!());
  }
  return out;
}

const families: FixtureFamily[] = [...fixtureFamilies];

describe.each(families)('cpu runner vs reference (%s)', (family) => {
  let spec: ModelSpec;
  let dir: string;
  let expected: Float32Array[];
  beforeAll(async () => {
    dir = fixtureModelCache(family, 3);
    spec = await loadModelSpec(dir);
    const weights = await loadWeights(dir, spec);
    const reference = createReferenceRunner({ spec, weights, numBlocks, blockSize });
    expected = await allLogits(reference, scenario(spec.vocabSize));
    await reference.close();
  });

  it('matches fp32 logits through ragged batches, chunked prefill and a prefix hit', async () => {
    const weights = await loadWeights(dir, spec);
    const runner = await createCpuRunner({ spec, weights, numBlocks, blockSize, keepLogits: true });
    try {
      const got = await allLogits(runner, scenario(spec.vocabSize));
      expect(got.length).toBe(expected.length);
      for (const [i, logits] of got.entries()) {
        expect(maxAbsDiff(logits, expected[i])).toBeLessThan(1e-3);
      }
    } finally {
      await runner.close();
    }
  });

  it('int8 weights stay close to fp32 and mostly agree on the top token', async () => {
    const runner = await createCpuRunner({
      spec,
      modelDir: dir,
      numBlocks,
      blockSize,
      quantization: 'int8',
      keepLogits: true,
    });
    try {
      const got = await allLogits(runner, scenario(spec.vocabSize));
      let agree = 0;
      for (const [i, logits] of got.entries()) {
        const scale = Math.max(...expected[i].map(Math.abs));
        expect(maxAbsDiff(logits, expected[i])).toBeLessThan(0.1 * scale);
        if (argmax(logits) === argmax(expected[i])) agree++;
      }
      expect(agree / got.length).toBeGreaterThanOrEqual(0.75);
    } finally {
      await runner.close();
    }
  });
});

describe('estimateKvBlockBytes', () => {
  it('matches the pool a runner actually allocates', async () => {
    const dir = fixtureModelCache('qwen2', 3);
    const spec = await loadModelSpec(dir);
    const runner = await createCpuRunner({ spec, modelDir: dir, numBlocks: 10, blockSize: 8 });
    try {
      expect(runner.kvCache.bytes).toBe(10 * estimateKvBlockBytes(spec, 8));
    } finally {
      await runner.close();
    }
  });
});

describe('createCpuRunner', () => {
  it('rejects a batch whose block table does not cover its positions', async () => {
    const dir = fixtureModelCache('llama', 3);
    const spec = await loadModelSpec(dir);
    const runner = await createCpuRunner({ spec, modelDir: dir, numBlocks, blockSize });
    try {
      const [first] = scenario(spec.vocabSize);
      const broken = { ...first.sequences[0], blockTable: Int32Array.of(3) };
      await expect(runner.execute({ ...first, sequences: [broken] })).rejects.toThrow(
        /block table/,
      );
      // The runner stays usable after a rejected batch.
      const ok = await runner.execute({ ...first, sequences: [first.sequences[0]] });
      expect(ok.sampled[0]?.tokenId).toBeGreaterThanOrEqual(0);
    } finally {
      await runner.close();
    }
  });

  it('runs an int4 step whose only work is a non-final prefill chunk (no logits wanted)', async () => {
    const dir = fixtureModelCache('qwen3', 3);
    const spec = await loadModelSpec(dir);
    const runner = await createCpuRunner({
      spec,
      modelDir: dir,
      numBlocks,
      blockSize,
      quantization: 'int4',
      quantSymmetric: true,
    });
    try {
      const [first] = scenario(spec.vocabSize);
      const chunk = first.sequences[1];
      expect(chunk.sample).toBe(false);
      const out = await runner.execute({ ...first, sequences: [chunk] });
      expect(out.sampled).toEqual([null]);
      expect(out.promptLogprobs).toEqual([null]);
    } finally {
      await runner.close();
    }
  });
});
