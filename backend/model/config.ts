/** Hugging Face `config.json` → `ModelSpec`: the one description of a model every runner reads. */
// (implemented by the model layer; the type is fixed here so runners can be written against it)

export type Architecture = 'llama' | 'qwen2' | 'qwen3' | 'mistral';

export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'dynamic'; factor: number; originalMaxPositionEmbeddings: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  | {
      type: 'yarn';
      factor: number;
      originalMaxPositionEmbeddings: number;
      betaFast: number;
      betaSlow: number;
      mscale: number;
      mscaleAllDim: number;
    };

export interface ModelSpec {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases (Qwen2). */
  attentionBias: boolean;
  /** Per-head RMSNorm on q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  /** Checkpoint dtype as declared (torch_dtype / dtype). */
  dtype: 'float32' | 'float16' | 'bfloat16';
  bosTokenId: number | null;
  eosTokenIds: number[];
}
