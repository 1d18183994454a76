/**
 * The GPU sampler against the reference semantics (backend/runner/sampling.ts): every row of a
 * batch carries its own seeded sampling parameters (greedy, temperatures, top-k/top-p/min-p,
 * penalties, bans, logprobs); after each step the row's logits come back through lastLogits and
 * sampleToken draws on the CPU with the same uniform number (seededUniform(seed, outputs so far)).
 * Greedy rows must agree exactly; seeded draws may differ only where float32 on the GPU and
 * float64 on the CPU round a cumulative sum to different sides of the target (rare); logprobs
 * within 2e-3. One prefill step (eager) then decode steps (graphs, a batch of 40 padded to its
 * bucket), on a fixture model (small vocabulary) and a 2-layer Qwen3-0.6B shape (151,936 ids).
 * Usage: node sampling-check.mjs OUT.json FIXTURE_DIR
 */
import { writeFileSync } from 'node:fs';
import { loadModelSpec, type ModelSpec } from '../../backend/model/config.ts';
import {
  BlockPool,
  ContractDriver,
  DriverSequence,
  randomPrompt,
} from '../../backend/runner/contract-driver.ts';
import { createCudaRunner } from '../../backend/runner/cuda/cuda-runner.ts';
import type { SamplingSpec } from '../../backend/runner/runner.ts';
import {
  logSoftmax,
  processLogits,
  sampleToken,
  topEntries,
} from '../../backend/runner/sampling.ts';
import { qwen3_0_6b } from './bench-specs.ts';

const blockSize = 16;
const numSeqs = 40;
const decodeSteps = 6;

const configs: Partial<SamplingSpec>[] = [
  { temperature: 0 },
  { temperature: 0.6 },
  { temperature: 1 },
  { temperature: 1.3 },
  { temperature: 0.9, topK: 40, topP: 0.95 },
  { temperature: 1, topP: 0.9 },
  { temperature: 1, topK: 5 },
  { temperature: 1, minP: 0.05 },
  { temperature: 0.8, repetitionPenalty: 1.3, frequencyPenalty: 0.4, presencePenalty: 0.3 },
  { temperature: 0, repetitionPenalty: 1.2, logprobs: 3 },
  { temperature: 0.7 },
  { temperature: 0.6, logprobs: 5 },
];

interface Tally {
  greedy: number;
  greedyAgree: number;
  drawn: number;
  drawnAgree: number;
  maxLogprobDiff: number;
  topChecked: number;
  topAgree: number;
  mismatches: string[];
}

async function check(name: string, spec: ModelSpec, modelDir: string | undefined) {
  const numBlocks = 1024;
  const runner = await createCudaRunner({
    modelDir,
    spec,
    loadFormat: modelDir ? 'auto' : 'dummy',
    blockSize,
    gpuMemoryUtilization: 0.5,
    maxNumSeqs: 64,
    maxNumBatchedTokens: 2048,
    maxModelLen: 256,
    seed: 0,
    numGpuBlocksOverride: numBlocks,
  });
  const driver = new ContractDriver(runner, new BlockPool(numBlocks), blockSize);
  const seqs = Array.from({ length: numSeqs }, (_, i) => {
    const sampling = { ...configs[i % configs.length], seed: 1000 + i };
    // Row 10 (and every 12th after) bans the 64 lowest ids and a spread of others.
    const banned =
      i % configs.length === 10
        ? Array.from({ length: 80 }, (_, k) => (k < 64 ? k : (k * 997) % spec.vocabSize))
        : null;
    return new DriverSequence(i, randomPrompt(6 + ((i * 7) % 25), spec.vocabSize, 50 + i), {
      sampling,
      bannedTokenIds: banned,
    });
  });
  const t: Tally = {
    greedy: 0,
    greedyAgree: 0,
    drawn: 0,
    drawnAgree: 0,
    maxLogprobDiff: 0,
    topChecked: 0,
    topAgree: 0,
    mismatches: [],
  };
  for (let step = 0; step <= decodeSteps; step++) {
    const before = seqs.map((s) => Int32Array.from(s.output));
    const { result, sampledLogits } = await driver.step(seqs.map((seq) => ({ seq })));
    seqs.forEach((seq, i) => {
      const got = result.sampled[i]!;
      const logits = sampledLogits.get(seq)!;
      const input = {
        sampling: seq.sampling,
        promptTokenIds: Int32Array.from(seq.prompt),
        outputTokenIds: before[i],
        bannedTokenIds: seq.bannedTokenIds,
      };
      const want = sampleToken(logits, input);
      // The CPU sampler skips the logprob when none was asked for; the GPU's is still checked.
      if (Number.isNaN(want.logprob))
        want.logprob = logSoftmax(processLogits(logits, input))[want.tokenId]!;
      const greedy = seq.sampling.temperature === 0;
      const agree = got.tokenId === want.tokenId;
      if (greedy) {
        t.greedy++;
        if (agree) t.greedyAgree++;
      } else {
        t.drawn++;
        if (agree) t.drawnAgree++;
      }
      if (!agree && t.mismatches.length < 20)
        t.mismatches.push(
          `step ${step} row ${i} ${JSON.stringify(seq.sampling)}: gpu ${got.tokenId} cpu ${want.tokenId}`,
        );
      if (agree)
        t.maxLogprobDiff = Math.max(t.maxLogprobDiff, Math.abs(got.logprob - want.logprob));
      const n = seq.sampling.logprobs ?? 0;
      if (n > 0 && got.topLogprobs) {
        // The reference's top entries of the penalised logits' log-softmax.
        const cpuTop = want.topLogprobs ?? topEntries(logSoftmax(logits), n);
        t.topChecked++;
        const same =
          cpuTop.length === got.topLogprobs.length &&
          cpuTop.every(
            (e, k) =>
              e.tokenId === got.topLogprobs![k].tokenId &&
              Math.abs(e.logprob - got.topLogprobs![k].logprob) < 2e-3,
          );
        if (same) t.topAgree++;
      }
    });
  }
  await runner.close();
  const pass =
    t.greedyAgree === t.greedy &&
    t.drawnAgree >= Math.floor(0.97 * t.drawn) &&
    t.maxLogprobDiff < 2e-3 &&
    t.topAgree === t.topChecked;
  console.log(
    `sampling-check ${name}: ${pass ? 'PASS' : 'FAIL'} greedy ${t.greedyAgree}/${t.greedy} drawn ${t.drawnAgree}/${t.drawn} top ${t.topAgree}/${t.topChecked} max |dlogprob| ${t.maxLogprobDiff.toExponential(2)}`,
  );
  for (const m of t.mismatches) console.log(`  ${m}`);
  return { name, pass, vocab: spec.vocabSize, ...t };
}

const [out, fixtureDir] = process.argv.slice(2);
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k.startsWith('EDGESERVE_CUDA_')),
);
const models = [
  await check('fixture', await loadModelSpec(fixtureDir!), fixtureDir),
  await check('qwen3-0.6b-2layer', { ...qwen3_0_6b, numLayers: 2 }, undefined),
];
const pass = models.every((m) => m.pass);
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), env, pass, models }, null, 2));
process.exitCode = pass ? 0 : 1;
