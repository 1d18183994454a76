/**
 * The in-process engine the offline benchmarks drive: model spec → runner → `LLMEngine`, with
 * the backend's own flags and defaults, so `bench throughput` measures what `edgeserve backend`
 * serves minus HTTP. This is the one place that knows how runners are built.
 */
import { backendOptionSpecs, parseBytes } from '../backend/config.ts';
import { LLMEngine } from '../backend/engine/engine.ts';
import { loadModelSpec, type ModelSpec } from '../backend/model/config.ts';
import { dummyWeights, loadWeights } from '../backend/model/loader.ts';
import { createReferenceRunner } from '../backend/runner/reference/reference-runner.ts';
import type { Runner } from '../backend/runner/runner.ts';
import type { Options } from '../shared/config.ts';

const {
  model,
  device,
  maxNumSeqs,
  maxNumBatchedTokens,
  blockSize,
  gpuMemoryUtilization,
  kvCacheMemory,
  maxModelLen,
  enablePrefixCaching,
  loadFormat,
} = backendOptionSpecs;

export const engineOptionSpecs = {
  model,
  device: { ...device, default: 'reference' },
  maxNumSeqs,
  maxNumBatchedTokens,
  blockSize,
  gpuMemoryUtilization,
  kvCacheMemory,
  maxModelLen,
  enablePrefixCaching,
  loadFormat,
} as const;

export type EngineOptions = Options<typeof engineOptionSpecs>;

export interface BenchEngine {
  engine: LLMEngine;
  spec: ModelSpec;
  runner: { name: string; numBlocks: number; blockSize: number; kvBytes: number };
  config: { maxNumSeqs: number; maxNumBatchedTokens: number; maxModelLen: number };
}

/** K and V, every layer, float32 (the reference and CPU runners' cache dtype). */
const kvBytesPerBlock = (spec: ModelSpec, blockSize: number) =>
  2 * spec.numLayers * spec.numKvHeads * spec.headDim * blockSize * 4;

async function createRunner(o: EngineOptions, spec: ModelSpec, seed: number): Promise<Runner> {
  if (o.device !== 'reference')
    throw new Error(
      `bench: the ${o.device} runner is not wired into the offline benchmark yet (bench/offline-engine.ts createRunner); use --device reference, or bench serve against 'edgeserve backend --device ${o.device}'`,
    );
  const weights =
    o.loadFormat === 'dummy' ? dummyWeights(spec, seed) : await loadWeights(o.model!, spec);
  const numBlocks = Math.floor(parseBytes(o.kvCacheMemory) / kvBytesPerBlock(spec, o.blockSize));
  return createReferenceRunner({ spec, weights, numBlocks, blockSize: o.blockSize });
}

export async function createBenchEngine(
  o: EngineOptions,
  seed: number,
  maxQueueLen: number,
): Promise<BenchEngine> {
  if (!o.model) throw new RangeError('--model is required');
  const spec = await loadModelSpec(o.model);
  const runner = await createRunner(o, spec, seed);
  const gpu = o.device === 'cuda';
  const { numBlocks, blockSize, bytes } = runner.kvCache;
  const config = {
    maxNumSeqs: o.maxNumSeqs ?? (gpu ? 256 : 16),
    maxNumBatchedTokens: o.maxNumBatchedTokens ?? (gpu ? 4096 : 512),
    maxModelLen: o.maxModelLen ?? Math.min(spec.maxPositionEmbeddings, numBlocks * blockSize),
  };
  const engine = new LLMEngine(runner, {
    ...config,
    maxQueueLen,
    eosTokenIds: spec.eosTokenIds,
    enablePrefixCaching: o.enablePrefixCaching,
    vocabSize: spec.vocabSize,
  });
  return {
    engine,
    spec,
    runner: { name: runner.name, numBlocks, blockSize, kvBytes: bytes },
    config,
  };
}
