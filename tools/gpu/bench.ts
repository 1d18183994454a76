/**
 * Offline GPU benchmarks of the CUDA runner through LLMEngine, random (dummy) bf16 weights,
 * ignore_eos. Usage: node bench.mjs OUT.json ROOFLINE.json [throughput|decode8b ...]
 *  - throughput: nano-vllm's workload (256 seqs, input and output lengths uniform in [100, 1024],
 *    Qwen3-0.6B shape, temperature 0.6): output tokens/s.
 *  - decode8b: Llama-3.1-8B shape: startup to ready, then one stream (128-token prompt, 256
 *    greedy tokens): decode tokens/s.
 *  - decodeStep: the runner alone, 256 sequences at context 512: time per decode step.
 * Each figure is printed beside its roofline from the measured copy bandwidth and GEMM rate.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Runner } from '../../backend/runner/runner.ts';
import { random8b } from './bench-latency.ts';
import { kvBytesPerToken, llama31_8b, qwen3_0_6b, weightParams } from './bench-specs.ts';
import { decodeSequence, dummyCudaRunner, prefill } from './dummy-runner.ts';
import { makeEngine, nanoVllmRequests, runAll } from './engine-run.ts';

/** Counts steps and the time inside runner.execute (GPU + native), to split engine overhead out. */
function timed(runner: Runner) {
  const stats = { steps: 0, executeSeconds: 0 };
  const execute = runner.execute.bind(runner);
  runner.execute = async (batch) => {
    const t0 = performance.now();
    const out = await execute(batch);
    stats.executeSeconds += (performance.now() - t0) / 1000;
    stats.steps++;
    return out;
  };
  return stats;
}

async function throughput(roof: { copy_bytes_per_s: number; bf16_gemm_tflops: number }) {
  const spec = qwen3_0_6b;
  const limits = { maxNumSeqs: 256, maxNumBatchedTokens: 16384, maxModelLen: 2048 };
  const runner = await dummyCudaRunner(spec, limits);
  const stats = timed(runner);
  const engine = makeEngine(runner, limits);
  const requests = nanoVllmRequests();
  await runAll(engine, [{ prompt: [1, 2, 3], maxTokens: 8 }], 'warmup');
  stats.steps = 0;
  stats.executeSeconds = 0;
  const t0 = performance.now();
  const outs = await runAll(engine, requests, 'bench');
  const seconds = (performance.now() - t0) / 1000;
  await engine.close();
  const outputTokens = outs.reduce((n, o) => n + o.length, 0);
  const promptTokens = requests.reduce((n, r) => n + r.prompt.length, 0);
  // Floors: every token's FLOPs at the GEMM peak; every decode step's KV reads at copy bandwidth.
  const flops = 2 * weightParams(spec) * (promptTokens + outputTokens);
  const kvRead =
    requests.reduce(
      (n, r) => n + (r.maxTokens * r.prompt.length + (r.maxTokens * r.maxTokens) / 2),
      0,
    ) * kvBytesPerToken(spec);
  const floorSeconds = Math.max(
    flops / (roof.bf16_gemm_tflops * 1e12),
    kvRead / roof.copy_bytes_per_s,
  );
  return {
    workload:
      'nano-vllm: 256 seqs, in/out uniform [100,1024], Qwen3-0.6B shape, temperature 0.6, ignore_eos',
    kvBlocks: runner.kvCache.numBlocks,
    ...stats,
    seconds,
    promptTokens,
    outputTokens,
    outputTokensPerSecond: outputTokens / seconds,
    target: 15000,
    roofline: {
      flopsSeconds: flops / (roof.bf16_gemm_tflops * 1e12),
      kvReadSeconds: kvRead / roof.copy_bytes_per_s,
      floorOutputTokensPerSecond: outputTokens / floorSeconds,
    },
  };
}

async function decode8b(roof: { copy_bytes_per_s: number }) {
  const spec = llama31_8b;
  const limits = { maxNumSeqs: 8, maxNumBatchedTokens: 2048, maxModelLen: 4096 };
  const t0 = performance.now();
  const runner = await dummyCudaRunner(spec, limits);
  const startupSeconds = (performance.now() - t0) / 1000;
  const stats = timed(runner);
  const engine = makeEngine(runner, limits);
  await runAll(engine, [{ prompt: [1, 2, 3], maxTokens: 8 }], 'warmup');
  stats.steps = 0;
  stats.executeSeconds = 0;
  const prompt = Array.from({ length: 128 }, (_, i) => (i * 7919) % 128000);
  const params = { temperature: 0, ignoreEos: true, maxTokens: 256 };
  const { defaultSamplingParams } = await import('../../backend/engine/sampling-params.ts');
  const start = performance.now();
  let first = 0;
  let count = 0;
  for await (const o of engine.generate({
    requestId: 'one',
    promptTokenIds: prompt,
    params: defaultSamplingParams(params),
  })) {
    if (count === 0) first = performance.now();
    count += o.newTokenIds.length;
  }
  const end = performance.now();
  await engine.close();
  const bytesPerToken = 2 * weightParams(spec) + 256 * kvBytesPerToken(spec);
  return {
    workload: 'Llama-3.1-8B shape, 1 stream, 128-token prompt, 256 greedy output tokens',
    startupSeconds,
    startupTarget: 20,
    kvBlocks: runner.kvCache.numBlocks,
    ...stats,
    ttftSeconds: (first - start) / 1000,
    decodeTokensPerSecond: (count - 1) / ((end - first) / 1000),
    target: 150,
    roofline: { bytesPerToken, floorTokensPerSecond: roof.copy_bytes_per_s / bytesPerToken },
  };
}

/** Runner alone (no engine): 256 sequences at context 512, 32 greedy decode steps. */
async function decodeStep(roof: { copy_bytes_per_s: number }) {
  const spec = qwen3_0_6b;
  const blocksPerSeq = 40;
  const numSeqs = 256;
  const ctx = 512;
  const steps = 32;
  const runner = await dummyCudaRunner(spec, {
    maxNumSeqs: numSeqs,
    maxNumBatchedTokens: 16384,
    maxModelLen: 1024,
    numGpuBlocksOverride: numSeqs * blocksPerSeq,
  });
  await prefill(runner, blocksPerSeq, numSeqs, ctx);
  const run = async (from: number) => {
    const seqs = Array.from({ length: numSeqs }, (_, i) =>
      decodeSequence(blocksPerSeq, i, from, [7], 0),
    );
    await runner.execute({ step: 0, sequences: seqs, numBatchedTokens: numSeqs });
  };
  await run(ctx);
  const t0 = performance.now();
  for (let s = 1; s <= steps; s++) await run(ctx + s);
  const stepSeconds = (performance.now() - t0) / 1000 / steps;
  await runner.close();
  const kvBytes = numSeqs * (ctx + steps / 2) * kvBytesPerToken(spec);
  const weightBytes = 2 * weightParams(spec);
  return {
    workload: 'runner only, Qwen3-0.6B shape, 256 sequences at context ~512, greedy decode steps',
    stepMs: stepSeconds * 1000,
    tokensPerSecond: numSeqs / stepSeconds,
    roofline: {
      bytesPerStep: kvBytes + weightBytes,
      floorStepMs: ((kvBytes + weightBytes) / roof.copy_bytes_per_s) * 1000,
    },
  };
}

const [out, rooflinePath, ...which] = process.argv.slice(2);
const roof = JSON.parse(readFileSync(rooflinePath, 'utf8'));
const report: Record<string, unknown> = { date: new Date().toISOString(), roofline: roof };
// random8b:WORKLOAD.json:COUNT runs the peer comparison on the workload's first COUNT prompts.
for (const name of which.length ? which : ['throughput', 'decode8b']) {
  try {
    const [kind, ...args] = name.split(':');
    const benches: Record<string, () => Promise<unknown>> = {
      throughput: () => throughput(roof),
      decode8b: () => decode8b(roof),
      decodeStep: () => decodeStep(roof),
      random8b: () => random8b(args[0]!, Number(args[1] ?? 1000)),
    };
    report[name] = await benches[kind!]!();
    console.log(name, JSON.stringify(report[name]));
  } catch (err) {
    console.error(`${name}: FAILED`, err);
    report[name] = { error: String((err as Error).stack ?? err) };
  }
  writeFileSync(out, JSON.stringify(report, null, 2));
}
