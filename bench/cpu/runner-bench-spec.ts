import type { ModelSpec } from '../../backend/model/config.ts';

/** The shape of Qwen2.5-0.5B-Instruct (random weights stand in for the checkpoint). */
export function qwen25HalfBSpec(numLayers = 24): ModelSpec {
  return {
    architecture: 'qwen2',
    vocabSize: 151936,
    hiddenSize: 896,
    intermediateSize: 4864,
    numLayers,
    numHeads: 14,
    numKvHeads: 2,
    headDim: 64,
    rmsNormEps: 1e-6,
    ropeTheta: 1000000,
    ropeScaling: null,
    maxPositionEmbeddings: 32768,
    tieWordEmbeddings: true,
    attentionBias: true,
    qkNorm: false,
    dtype: 'float32',
    bosTokenId: null,
    eosTokenIds: [151645],
  };
}
