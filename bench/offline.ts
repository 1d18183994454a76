/**
 * Offline benchmarks: requests go straight into the in-process engine, no HTTP, so the gap to
 * `bench serve` on the same workload is what the server and the network cost.
 * throughput: a whole workload submitted at once (vLLM's `bench throughput`).
 * latency: one batch at a time, end to end, repeated (vLLM's `bench latency`).
 */
import type { LLMEngine } from '../backend/engine/engine.ts';
import { defaultSamplingParams } from '../backend/engine/sampling-params.ts';
import { type BenchRequest, buildDataset, promptTokenIds } from './dataset.ts';
import {
  type Distribution,
  distribution,
  type RequestTimeline,
  type ServeMetrics,
  summarize,
} from './metrics.ts';

let nextId = 0;

/** Runs one request through the engine, timed like a streamed HTTP request. */
export async function timeEngineRequest(
  engine: LLMEngine,
  req: BenchRequest,
  runStartMs: number,
): Promise<RequestTimeline> {
  const params = defaultSamplingParams({
    temperature: 0,
    ignoreEos: true,
    maxTokens: req.outputLen,
  });
  const sentMs = performance.now();
  let firstMs: number | null = null;
  let lastMs = 0;
  const itlMs: number[] = [];
  let last = { numPromptTokens: req.promptLen, numOutputTokens: 0, numCachedTokens: 0 };
  const stream = engine.generate({
    requestId: `bench-${nextId++}`,
    promptTokenIds: promptTokenIds(req),
    params,
  });
  for await (const out of stream) {
    last = out;
    if (out.newTokenIds.length === 0) continue;
    const now = performance.now();
    if (firstMs === null) firstMs = now;
    else itlMs.push(now - lastMs);
    lastMs = now;
  }
  const endMs = performance.now();
  return {
    ok: firstMs !== null,
    startMs: sentMs - runStartMs,
    ttftMs: (firstMs ?? endMs) - sentMs,
    e2eMs: endMs - sentMs,
    itlMs,
    promptTokens: last.numPromptTokens,
    outputTokens: last.numOutputTokens,
    cachedTokens: last.numCachedTokens,
  };
}

/** Every request submitted at once; the engine's scheduler decides the batching. */
export async function runThroughput(
  engine: LLMEngine,
  requests: BenchRequest[],
): Promise<{ metrics: ServeMetrics; timelines: RequestTimeline[] }> {
  const runStartMs = performance.now();
  const timelines = await Promise.all(
    requests.map((r) => timeEngineRequest(engine, r, runStartMs)),
  );
  const durationS = (performance.now() - runStartMs) / 1000;
  return { metrics: summarize(timelines, durationS, null), timelines };
}

export interface LatencySpec {
  batchSize: number;
  inputLen: number;
  outputLen: number;
  numItersWarmup: number;
  numIters: number;
  seed: number;
  vocabSize: number;
}

export interface LatencyMetrics {
  /** Seconds per batch (prefill + all decode steps of batchSize sequences). */
  latencyS: Distribution;
  itersS: number[];
  /** Output tokens per second of the median batch. */
  outputThroughput: number;
}

/** A fresh seeded batch per iteration, so later iterations do not hit the prefix cache. */
function latencyBatch(spec: LatencySpec, iteration: number): BenchRequest[] {
  const dataset = {
    name: 'random' as const,
    numPrompts: spec.batchSize,
    inputLen: spec.inputLen,
    outputLen: spec.outputLen,
    rangeRatio: 0,
  };
  return buildDataset(dataset, { vocabSize: spec.vocabSize, seed: spec.seed * 1000 + iteration });
}

export async function runLatency(engine: LLMEngine, spec: LatencySpec): Promise<LatencyMetrics> {
  const total = spec.numItersWarmup + spec.numIters;
  const itersS: number[] = [];
  for (let i = 0; i < total; i++) {
    const batch = latencyBatch(spec, i);
    const startMs = performance.now();
    await Promise.all(batch.map((r) => timeEngineRequest(engine, r, startMs)));
    if (i >= spec.numItersWarmup) itersS.push((performance.now() - startMs) / 1000);
  }
  const latencyS = distribution(itersS);
  return {
    latencyS,
    itersS,
    outputThroughput: (spec.batchSize * spec.outputLen) / latencyS.median,
  };
}
