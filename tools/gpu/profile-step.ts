/**
 * The runner alone at the decode shapes of the nano-vllm workload: Qwen3-0.6B shape (dummy bf16
 * weights), 256 sequences prefilled to context 512, then decode steps of the given cases, each
 * `batch:temperature` (e.g. 256:0.6 144:0.6 256:0): one warm-up step (a new graph bucket is
 * captured there), then `steps` timed ones. With EDGESERVE_CUDA_PROFILE=1 the addon prints its
 * per-phase GPU table to stderr on close (graphs are off then). The configuration comes from the
 * environment (EDGESERVE_CUDA_SAMPLING, EDGESERVE_CUDA_GRAPH_BUCKETS, …).
 * Usage: node profile-step.mjs OUT.json STEPS CASE...
 */
import { writeFileSync } from 'node:fs';
import { createCudaRunner } from '../../backend/runner/cuda/cuda-runner.ts';
import type { SamplingSpec, ScheduledSequence } from '../../backend/runner/runner.ts';
import { qwen3_0_6b } from './bench-specs.ts';

const blockSize = 16;
const numSeqs = 256;
const blocksPerSeq = 48;
const context = 512;

function sampling(temperature: number): SamplingSpec {
  return {
    temperature,
    topP: 1,
    topK: 0,
    minP: 0,
    presencePenalty: 0,
    frequencyPenalty: 0,
    repetitionPenalty: 1,
    seed: null,
    logprobs: null,
  };
}

function sequence(i: number, start: number, tokens: number[], temperature: number) {
  const block = (p: number) => i * blocksPerSeq + Math.floor(p / blockSize);
  const end = start + tokens.length;
  const seq: ScheduledSequence = {
    seqId: i,
    tokenIds: Int32Array.from(tokens),
    startPosition: start,
    slotMapping: Int32Array.from(
      tokens,
      (_, j) => block(start + j) * blockSize + ((start + j) % blockSize),
    ),
    blockTable: Int32Array.from({ length: Math.ceil(end / blockSize) }, (_, b) =>
      block(b * blockSize),
    ),
    sample: true,
    sampling: sampling(temperature),
    promptTokenIds: new Int32Array(0),
    outputTokenIds: new Int32Array(0),
    bannedTokenIds: null,
    promptLogprobTargets: null,
  };
  return seq;
}

const [out, stepsArg, ...cases] = process.argv.slice(2);
const steps = Number(stepsArg ?? 16);
const runner = await createCudaRunner({
  spec: qwen3_0_6b,
  loadFormat: 'dummy',
  blockSize,
  gpuMemoryUtilization: 0.9,
  seed: 0,
  maxNumSeqs: numSeqs,
  maxNumBatchedTokens: 16384,
  maxModelLen: blocksPerSeq * blockSize,
  numGpuBlocksOverride: numSeqs * blocksPerSeq,
});
for (let i = 0; i < numSeqs; i += 32) {
  const seqs = Array.from({ length: 32 }, (_, k) =>
    sequence(
      i + k,
      0,
      Array.from({ length: context }, (_, j) => (j * 13 + k) % 10000),
      0,
    ),
  );
  await runner.execute({ step: 0, sequences: seqs, numBatchedTokens: 32 * context });
}
// Each sequence's next position: a smaller batch advances only its first sequences, no gaps.
const position = new Array<number>(numSeqs).fill(context);
const results: Record<string, number> = {};
for (const c of cases.length ? cases : ['256:0.6']) {
  const [batch, temperature] = c.split(':').map(Number);
  const step = async () => {
    const seqs = Array.from({ length: batch }, (_, i) =>
      sequence(i, position[i]++, [7], temperature),
    );
    await runner.execute({ step: 0, sequences: seqs, numBatchedTokens: batch });
  };
  await step();
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) await step();
  results[c] = (performance.now() - t0) / steps;
  console.log(`step ${c}: ${results[c].toFixed(3)} ms`);
}
await runner.close();
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k.startsWith('EDGESERVE_CUDA_')),
);
writeFileSync(
  out,
  JSON.stringify({ date: new Date().toISOString(), env, stepMs: results }, null, 2),
);
