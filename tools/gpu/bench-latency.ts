/**
 * Offline serving benchmark with per-request latency: every request is submitted at once
 * (infinite request rate) to LLMEngine over the CUDA runner, and each one's first and last token
 * times give TTFT and TPOT, as `vllm bench throughput`/`serve --request-rate inf` report them.
 * The workload file is the one the transformers peer reads (bench/peers/workload.py's JSON), so
 * both sides get identical prompts; `count` takes its first N requests.
 */
import { readFileSync } from 'node:fs';
import type { LLMEngine } from '../../backend/engine/engine.ts';
import { defaultSamplingParams } from '../../backend/engine/sampling-params.ts';
import { llama31_8b } from './bench-specs.ts';
import { blockSize, dummyCudaRunner } from './dummy-runner.ts';
import { makeEngine } from './engine-run.ts';

export interface TimedRequest {
  prompt: number[];
  maxTokens: number;
}

interface RequestTiming {
  firstMs: number;
  lastMs: number;
  tokens: number;
}

export function percentiles(values: number[]) {
  const v = [...values].sort((a, b) => a - b);
  const at = (q: number) => (v.length ? v[Math.min(v.length - 1, Math.floor(q * v.length))] : NaN);
  const mean = v.reduce((s, x) => s + x, 0) / (v.length || 1);
  return { mean, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: v[v.length - 1] ?? NaN };
}

async function timeOne(
  engine: LLMEngine,
  id: string,
  r: TimedRequest,
  t0: number,
): Promise<RequestTiming> {
  const params = defaultSamplingParams({ temperature: 0, ignoreEos: true, maxTokens: r.maxTokens });
  let firstMs = Number.NaN;
  let lastMs = Number.NaN;
  let tokens = 0;
  for await (const o of engine.generate({ requestId: id, promptTokenIds: r.prompt, params })) {
    const now = performance.now() - t0;
    if (tokens === 0 && o.newTokenIds.length > 0) firstMs = now;
    tokens += o.newTokenIds.length;
    lastMs = now;
  }
  return { firstMs, lastMs, tokens };
}

/** Submits everything at t0 and reports throughput and TTFT/TPOT percentiles (milliseconds). */
export async function runTimed(engine: LLMEngine, requests: TimedRequest[], tag: string) {
  const t0 = performance.now();
  const timings = await Promise.all(requests.map((r, i) => timeOne(engine, `${tag}-${i}`, r, t0)));
  const seconds = (performance.now() - t0) / 1000;
  const outputTokens = timings.reduce((n, t) => n + t.tokens, 0);
  const multi = timings.filter((t) => t.tokens > 1);
  return {
    completed: timings.filter((t) => t.tokens > 0).length,
    durationS: seconds,
    inputTokens: requests.reduce((n, r) => n + r.prompt.length, 0),
    outputTokens,
    outputTokensPerSecond: outputTokens / seconds,
    requestsPerSecond: requests.length / seconds,
    ttftMs: percentiles(timings.map((t) => t.firstMs)),
    tpotMs: percentiles(multi.map((t) => (t.lastMs - t.firstMs) / (t.tokens - 1))),
    e2eMs: percentiles(timings.map((t) => t.lastMs)),
  };
}

/** Requests from workload.py's JSON ({requests: [{prompt_token_ids, output_len}]}). */
export function loadWorkload(path: string, count: number, vocab: number): TimedRequest[] {
  const data = JSON.parse(readFileSync(path, 'utf8')) as {
    requests: { prompt_token_ids: number[]; output_len: number }[];
  };
  return data.requests.slice(0, count).map((r) => ({
    prompt: r.prompt_token_ids.map((t) => t % vocab),
    maxTokens: r.output_len,
  }));
}

/** Llama-3.1-8B shape, random weights, greedy, ignore_eos: the peer comparison's workload. */
export async function random8b(workloadPath: string, count: number) {
  const spec = llama31_8b;
  const limits = { maxNumSeqs: 256, maxNumBatchedTokens: 16384, maxModelLen: 2048 };
  const runner = await dummyCudaRunner(spec, limits);
  const engine = makeEngine(runner, limits);
  try {
    const warm = Array.from({ length: 8 }, (_, i) => ({
      prompt: Array.from({ length: 64 }, (_, j) => (i * 64 + j) % 1000),
      maxTokens: 16,
    }));
    await runTimed(engine, warm, 'warm');
    const requests = loadWorkload(workloadPath, count, spec.vocabSize);
    return {
      workload: `Llama-3.1-8B shape, ${requests.length} prompts from ${workloadPath}, greedy, ignore_eos, all submitted at t=0`,
      engine: { ...limits, blockSize, kvBlocks: runner.kvCache.numBlocks },
      ...(await runTimed(engine, requests, 'bench')),
    };
  } finally {
    await engine.close();
  }
}
