/**
 * The in-process engine the offline benchmarks drive: model spec → runner → `LLMEngine`, with
 * the backend's own flags and defaults, so `bench throughput` measures what `edgeserve backend`
 * serves minus HTTP. Runners come from the backend's own selection (backend/runner/select.ts).
 */
import { resolve } from 'node:path';
import { type BackendOptions, backendOptionSpecs, parseBackendOptions } from '../backend/config.ts';
import { LLMEngine } from '../backend/engine/engine.ts';
import { loadModelSpec, type ModelSpec } from '../backend/model/config.ts';
import { createRunner } from '../backend/runner/select.ts';
import type { Options } from '../shared/config.ts';

/** The backend flags that shape the engine, under the backend's names, specs and defaults. */
const engineOptionNames = [
  'model',
  'device',
  'maxNumSeqs',
  'maxNumBatchedTokens',
  'blockSize',
  'gpuMemoryUtilization',
  'kvCacheMemory',
  'maxModelLen',
  'enablePrefixCaching',
  'loadFormat',
  'dtype',
  'quantization',
] as const;

export const engineOptionSpecs = Object.fromEntries(
  engineOptionNames.map((name) => [name, backendOptionSpecs[name]]),
) as Pick<typeof backendOptionSpecs, (typeof engineOptionNames)[number]>;

export type EngineOptions = Options<typeof engineOptionSpecs>;

export interface BenchEngine {
  engine: LLMEngine;
  spec: ModelSpec;
  runner: { device: string; name: string; numBlocks: number; blockSize: number; kvBytes: number };
  config: { maxNumSeqs: number; maxNumBatchedTokens: number; maxModelLen: number };
}

export async function createBenchEngine(
  o: EngineOptions,
  seed: number,
  maxQueueLen: number,
): Promise<BenchEngine> {
  if (!o.model) throw new RangeError('--model is required');
  const dir = resolve(o.model);
  const spec = await loadModelSpec(dir);
  // The backend's own runner selection and KV sizing, so offline and served numbers match.
  const backendOptions: BackendOptions = { ...parseBackendOptions([], {}), ...o, seed };
  const { device, runner } = await createRunner(dir, spec, backendOptions);
  const gpu = device === 'cuda';
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
    runner: { device, name: runner.name, numBlocks, blockSize, kvBytes: bytes },
    config,
  };
}
