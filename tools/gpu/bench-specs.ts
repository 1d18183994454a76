/** Model shapes of the GPU benchmarks and the byte counts their rooflines use. */
import type { ModelSpec } from '../../backend/model/config.ts';

export const qwen3_0_6b: ModelSpec = {
  architecture: 'qwen3',
  vocabSize: 151936,
  hiddenSize: 1024,
  intermediateSize: 3072,
  numLayers: 28,
  numHeads: 16,
  numKvHeads: 8,
  headDim: 128,
  rmsNormEps: 1e-6,
  ropeTheta: 1000000,
  ropeScaling: null,
  maxPositionEmbeddings: 40960,
  tieWordEmbeddings: true,
  attentionBias: false,
  qkNorm: true,
  dtype: 'bfloat16',
  bosTokenId: null,
  eosTokenIds: [151645],
};

export const llama31_8b: ModelSpec = {
  architecture: 'llama',
  vocabSize: 128256,
  hiddenSize: 4096,
  intermediateSize: 14336,
  numLayers: 32,
  numHeads: 32,
  numKvHeads: 8,
  headDim: 128,
  rmsNormEps: 1e-5,
  ropeTheta: 500000,
  ropeScaling: {
    type: 'llama3',
    factor: 8,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositionEmbeddings: 8192,
  },
  maxPositionEmbeddings: 131072,
  tieWordEmbeddings: false,
  attentionBias: false,
  qkNorm: false,
  dtype: 'bfloat16',
  bosTokenId: 128000,
  eosTokenIds: [128001],
};

/** Parameter count (bytes at bf16 = 2×) of the weights one decode step reads. */
export function weightParams(s: ModelSpec): number {
  const q = s.numHeads * s.headDim;
  const kv = s.numKvHeads * s.headDim;
  const layer =
    s.hiddenSize * (q + 2 * kv) + q * s.hiddenSize + 3 * s.hiddenSize * s.intermediateSize;
  return s.numLayers * layer + s.vocabSize * s.hiddenSize;
}
export const kvBytesPerToken = (s: ModelSpec) => 2 * s.numLayers * s.numKvHeads * s.headDim * 2;
