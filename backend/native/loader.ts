/**
 * The one place that finds and loads the CUDA addon. When it is missing or cannot load, the
 * reason says exactly what to do (build it, or which library the loader could not find).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `edgeserve build-native` writes the addon. */
export const addonPath = join(
  dirname(fileURLToPath(import.meta.url)),
  'build',
  'edgeserve_cuda.node',
);

export interface DeviceInfo {
  name: string;
  deviceCount: number;
  totalBytes: number;
  freeBytes: number;
  major: number;
  minor: number;
  multiprocessors: number;
}

export interface NativeModelConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  attentionBias: number;
  qkNorm: number;
  tieWordEmbeddings: number;
  maxNumBatchedTokens: number;
  maxNumSeqs: number;
  maxModelLen: number;
  blockSize: number;
  invFreq: Float32Array;
  ropeAttentionScaling: number;
}

export interface NativeKvInfo {
  numBlocks: number;
  kvBytes: number;
  weightBytes: number;
  workspaceBytes: number;
  freeBytes: number;
  totalBytes: number;
}

/** One step's batch, flattened (see native/edgeserve-cuda.h, es_batch). */
export interface NativeBatch {
  numTokens: number;
  numSeqs: number;
  maxBlocksPerSeq: number;
  numRows: number;
  keepLogits: number;
  vocabSize: number;
  tokenIds: Int32Array;
  positions: Int32Array;
  slotMapping: Int32Array;
  queryStart: Int32Array;
  contextLens: Int32Array;
  blockTables: Int32Array;
  rowToken: Int32Array;
  rowTarget: Int32Array;
  rowNumTop: Int32Array;
  rowTopK: Int32Array;
  rowPenaltyOffsets: Int32Array;
  penaltyTokens: Int32Array;
  penaltyOutputCounts: Int32Array;
  penaltyInPrompt: Int32Array;
  rowBanOffsets: Int32Array;
  banTokens: Int32Array;
  rowTemperature: Float32Array;
  rowTopP: Float32Array;
  rowMinP: Float32Array;
  rowUniform: Float32Array;
  rowRepetitionPenalty: Float32Array;
  rowFrequencyPenalty: Float32Array;
  rowPresencePenalty: Float32Array;
}

export interface NativeStepResult {
  token: Int32Array;
  logprob: Float32Array;
  /** numRows × MAX_TOP_LOGPROBS, -1 padded. */
  topIds: Int32Array;
  topLogprobs: Float32Array;
  logits: Float32Array | null;
}

/** Opaque handle to a native model. */
export type ModelHandle = { readonly __brand: 'edgeserve-cuda-model' };

export interface CudaAddon {
  deviceInfo(): DeviceInfo;
  createModel(config: NativeModelConfig): ModelHandle;
  uploadWeight(
    model: ModelHandle,
    kind: number,
    layer: number,
    data: Uint8Array,
    dtype: number,
  ): void;
  dummyWeights(model: ModelHandle, seed: number): void;
  allocateKvCache(
    model: ModelHandle,
    gpuMemoryUtilization: number,
    numBlocksOverride: number,
  ): NativeKvInfo;
  execute(model: ModelHandle, batch: NativeBatch): Promise<NativeStepResult>;
  lastLogits(model: ModelHandle, rows: { rows: Int32Array }, vocabSize: number): Float32Array;
  destroy(model: ModelHandle): void;
}

/** Must match ES_MAX_TOP_LOGPROBS in edgeserve-cuda.h. */
export const MAX_TOP_LOGPROBS = 20;

export type AddonLoad = { ok: true; addon: CudaAddon } | { ok: false; reason: string };

let cached: AddonLoad | null = null;

/** Loads the addon once; never throws. */
export function tryLoadCudaAddon(): AddonLoad {
  if (cached) return cached;
  const path = process.env.EDGESERVE_CUDA_ADDON ?? addonPath;
  if (!existsSync(path)) {
    cached = {
      ok: false,
      reason: `the CUDA addon is not built (${path} is missing): run 'npm run build:native' on a machine with the CUDA toolkit (nvcc, cuBLAS)`,
    };
    return cached;
  }
  try {
    const addon = createRequire(import.meta.url)(path) as CudaAddon;
    cached = { ok: true, addon };
  } catch (err) {
    cached = {
      ok: false,
      reason: `the CUDA addon at ${path} failed to load: ${(err as Error).message} (is the CUDA runtime / libcublas on LD_LIBRARY_PATH? rebuild with 'npm run build:native')`,
    };
  }
  return cached;
}

/** Loads the addon or throws the reason it cannot be loaded. */
export function loadCudaAddon(): CudaAddon {
  const load = tryLoadCudaAddon();
  if (!load.ok) throw new Error(load.reason);
  return load.addon;
}
