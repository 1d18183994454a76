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
import { qwen3_0_6b } from './bench-specs.ts';
import { blockSize, decodeSequence, dummyCudaRunner, prefill } from './dummy-runner.ts';

const numSeqs = 256;
const blocksPerSeq = 48;
const context = 512;

const [out, stepsArg, ...cases] = process.argv.slice(2);
const steps = Number(stepsArg ?? 16);
const runner = await dummyCudaRunner(qwen3_0_6b, {
  maxNumSeqs: numSeqs,
  maxNumBatchedTokens: 16384,
  maxModelLen: blocksPerSeq * blockSize,
  numGpuBlocksOverride: numSeqs * blocksPerSeq,
});
await prefill(runner, blocksPerSeq, numSeqs, context);
// Each sequence's next position: a smaller batch advances only its first sequences, no gaps.
const position = new Array<number>(numSeqs).fill(context);
const results: Record<string, number> = {};
for (const c of cases.length ? cases : ['256:0.6']) {
  const [batch, temperature] = c.split(':').map(Number);
  const step = async () => {
    const seqs = Array.from({ length: batch }, (_, i) =>
      decodeSequence(blocksPerSeq, i, position[i]++, [7], temperature),
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
