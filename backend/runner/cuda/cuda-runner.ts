/**
 * The CUDA runner: the TS side of our N-API addon. It checks the model against what the kernels
 * support, loads weights (checkpoint or dummy-on-GPU), sizes the KV pool from measured free
 * memory, and turns each SchedulerOutput into one native step that runs off the event loop.
 */
import type { ModelSpec } from '../../model/config.ts';
import { loadWeights, type WeightSet } from '../../model/loader.ts';
import {
  type CudaAddon,
  loadCudaAddon,
  type ModelHandle,
  type NativeKvInfo,
} from '../../native/loader.ts';
import type {
  KvCacheInfo,
  Runner,
  RunnerOutput,
  SamplingSpec,
  SchedulerOutput,
} from '../runner.ts';
import { seededUniform } from '../sampling.ts';
import { type PackLimits, packBatch, type RowMap, unpackResult } from './batch-pack.ts';
import { ropeTable } from './rope-frequencies.ts';
import { uploadWeights } from './weight-upload.ts';

export { cudaAvailable } from './availability.ts';

export interface CudaRunnerOptions {
  modelDir?: string;
  spec: ModelSpec;
  weights?: WeightSet;
  loadFormat: 'auto' | 'dummy';
  blockSize: number;
  gpuMemoryUtilization: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  maxModelLen: number;
  seed: number;
  /** Fixed pool size instead of measuring (tests, like vLLM's num_gpu_blocks_override). */
  numGpuBlocksOverride?: number;
  /** Called once with the memory plan (startup log). */
  onMemoryPlan?: (plan: NativeKvInfo) => void;
}

const supportedHeadDims = [16, 32, 64, 128];

/** What the kernels can run; throws naming the first unsupported property. */
export function checkSupported(spec: ModelSpec): void {
  const bad = (why: string) => new Error(`cuda runner: ${why}`);
  if (!supportedHeadDims.includes(spec.headDim))
    throw bad(`head_dim ${spec.headDim} is not one of ${supportedHeadDims}`);
  if (spec.numHeads % spec.numKvHeads !== 0 || spec.numHeads / spec.numKvHeads > 8)
    throw bad(
      `${spec.numHeads} q heads over ${spec.numKvHeads} kv heads (groups of at most 8 are supported)`,
    );
  if (spec.hiddenSize % 8 !== 0) throw bad(`hidden_size ${spec.hiddenSize} is not a multiple of 8`);
}

/** mulberry32: the stream unseeded requests draw from (seeded ones use seededUniform). */
function uniformStream(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class CudaRunner implements Runner {
  readonly name = 'cuda';
  private lastRows: Int32Array = new Int32Array(0);
  private closed = false;
  private readonly nextUniform: () => number;

  constructor(
    private readonly addon: CudaAddon,
    private readonly model: ModelHandle,
    readonly kvCache: KvCacheInfo,
    private readonly limits: PackLimits,
    seed: number,
  ) {
    this.nextUniform = uniformStream(seed);
  }

  async execute(batch: SchedulerOutput): Promise<RunnerOutput> {
    if (this.closed) throw new Error('cuda runner: execute after close');
    const uniform = (s: SamplingSpec, step: number) =>
      s.seed === null ? this.nextUniform() : seededUniform(s.seed, step);
    const { native, map } = packBatch(batch, this.limits, uniform, false);
    const result = await this.addon.execute(this.model, native);
    this.lastRows = sampledRows(map);
    return unpackResult(batch, map, result);
  }

  lastLogits(): Float32Array[] {
    const n = this.lastRows.length;
    if (n === 0) return [];
    const v = this.limits.vocabSize;
    const all = this.addon.lastLogits(this.model, { rows: this.lastRows }, v);
    return Array.from({ length: n }, (_, i) => all.slice(i * v, (i + 1) * v));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.addon.destroy(this.model);
  }
}

function sampledRows(map: RowMap): Int32Array {
  return Int32Array.from(map.sampleRow.filter((r) => r >= 0));
}

function nativeConfig(o: CudaRunnerOptions) {
  const { spec } = o;
  const rope = ropeTable(spec);
  return {
    vocabSize: spec.vocabSize,
    hiddenSize: spec.hiddenSize,
    intermediateSize: spec.intermediateSize,
    numLayers: spec.numLayers,
    numHeads: spec.numHeads,
    numKvHeads: spec.numKvHeads,
    headDim: spec.headDim,
    rmsNormEps: spec.rmsNormEps,
    attentionBias: spec.attentionBias ? 1 : 0,
    qkNorm: spec.qkNorm ? 1 : 0,
    tieWordEmbeddings: spec.tieWordEmbeddings ? 1 : 0,
    maxNumBatchedTokens: o.maxNumBatchedTokens,
    maxNumSeqs: o.maxNumSeqs,
    maxModelLen: o.maxModelLen,
    blockSize: o.blockSize,
    invFreq: rope.invFreq,
    ropeAttentionScaling: rope.attentionScaling,
  };
}

function checkOptions(o: CudaRunnerOptions): void {
  for (const key of ['blockSize', 'maxNumSeqs', 'maxNumBatchedTokens', 'maxModelLen'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1)
      throw new Error(`cuda runner: ${key} must be a positive integer, got ${o[key]}`);
  }
  if (!(o.gpuMemoryUtilization > 0 && o.gpuMemoryUtilization < 1))
    throw new Error(
      `cuda runner: gpuMemoryUtilization must be in (0, 1), got ${o.gpuMemoryUtilization}`,
    );
  if (o.loadFormat !== 'dummy' && !o.weights && !o.modelDir)
    throw new Error('cuda runner: give modelDir or weights, or loadFormat dummy');
}

export async function createCudaRunner(options: CudaRunnerOptions): Promise<Runner> {
  checkOptions(options);
  checkSupported(options.spec);
  const addon = loadCudaAddon();
  const model = addon.createModel(nativeConfig(options));
  try {
    if (options.loadFormat === 'dummy') addon.dummyWeights(model, options.seed);
    else {
      const weights = options.weights ?? (await loadWeights(options.modelDir!, options.spec));
      uploadWeights(addon, model, options.spec, weights);
    }
    const plan = addon.allocateKvCache(
      model,
      options.gpuMemoryUtilization,
      options.numGpuBlocksOverride ?? 0,
    );
    options.onMemoryPlan?.(plan);
    const kvCache = {
      numBlocks: plan.numBlocks,
      blockSize: options.blockSize,
      bytes: plan.kvBytes,
    };
    const limits: PackLimits = {
      vocabSize: options.spec.vocabSize,
      numBlocks: plan.numBlocks,
      blockSize: options.blockSize,
      maxModelLen: options.maxModelLen,
      maxNumBatchedTokens: options.maxNumBatchedTokens,
    };
    return new CudaRunner(addon, model, kvCache, limits, options.seed);
  } catch (err) {
    addon.destroy(model);
    throw err;
  }
}
