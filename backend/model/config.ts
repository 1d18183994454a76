/** Hugging Face `config.json` → `ModelSpec`: the one description of a model every runner reads. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

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
      /** Explicit `attention_factor` from the config; when absent it is derived from mscale. */
      attentionFactor?: number;
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
  /**
   * Mistral v0.1's sliding-window attention: a token attends to at most this many positions
   * (itself included). null: full attention. Optional so specs built by hand may omit it.
   */
  slidingWindow?: number | null;
}

const architectures: Record<string, Architecture> = {
  LlamaForCausalLM: 'llama',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
  MistralForCausalLM: 'mistral',
};

type Json = Record<string, unknown>;

function fail(key: string, message: string): never {
  throw new Error(`config.json: ${key} ${message}`);
}

function positiveInt(config: Json, key: string, fallback?: number): number {
  const value = config[key] ?? fallback;
  if (value === undefined) fail(key, 'is required');
  if (!Number.isInteger(value) || (value as number) <= 0) {
    fail(key, `must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

function positiveNumber(
  config: Json,
  key: string,
  fallback: number,
  where = 'config.json',
): number {
  const value = config[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${where}: ${key} must be a positive number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function optionalTokenId(config: Json, key: string): number | null {
  const value = config[key];
  if (value === undefined || value === null) return null;
  if (!Number.isInteger(value) || (value as number) < 0) {
    fail(key, `must be a token id, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

/** `eos_token_id` is an int or a list of ints in HF configs. */
export function tokenIdList(value: unknown, key: string, file = 'config.json'): number[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const id of list) {
    if (!Number.isInteger(id) || id < 0) {
      throw new Error(
        `${file}: ${key} must be a token id or a list of them, got ${JSON.stringify(value)}`,
      );
    }
  }
  return list as number[];
}

function parseArchitecture(config: Json): Architecture {
  const list = config.architectures;
  if (!Array.isArray(list) || list.length === 0 || typeof list[0] !== 'string') {
    fail('architectures', 'must be a non-empty list of class names');
  }
  const arch = architectures[list[0]];
  if (!arch) {
    fail(
      'architectures',
      `names ${list[0]}, which is not supported (supported: ${Object.keys(architectures).join(', ')})`,
    );
  }
  return arch;
}

function parseDtype(config: Json): ModelSpec['dtype'] {
  // transformers 5 writes `dtype`; older exports `torch_dtype`. The newer spelling wins.
  const key = config.dtype !== undefined ? 'dtype' : 'torch_dtype';
  const value = config[key] ?? 'float32';
  if (value !== 'float32' && value !== 'float16' && value !== 'bfloat16') {
    fail(key, `must be float32, float16 or bfloat16, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** rope_scaling (transformers 4.x) or rope_parameters (5.x), keyed by rope_type or type. */
function ropeBlock(config: Json): { key: string; block: Json | null } {
  for (const key of ['rope_scaling', 'rope_parameters']) {
    const block = config[key];
    if (block === undefined || block === null) continue;
    if (typeof block !== 'object' || Array.isArray(block)) fail(key, 'must be an object');
    return { key, block: block as Json };
  }
  return { key: 'rope_scaling', block: null };
}

function parseRopeScaling(config: Json, maxPositions: number): RopeScaling | null {
  const { key, block } = ropeBlock(config);
  if (!block) return null;
  const type = block.rope_type ?? block.type ?? 'default';
  const where = `config.json ${key}`;
  const num = (name: string, fallback: number) => positiveNumber(block, name, fallback, where);
  const original = () => num('original_max_position_embeddings', maxPositions);
  switch (type) {
    case 'default':
      return null;
    case 'linear':
      return { type: 'linear', factor: num('factor', Number.NaN) };
    case 'dynamic':
      return {
        type: 'dynamic',
        factor: num('factor', Number.NaN),
        originalMaxPositionEmbeddings: original(),
      };
    case 'llama3':
      return {
        type: 'llama3',
        factor: num('factor', Number.NaN),
        lowFreqFactor: num('low_freq_factor', 1),
        highFreqFactor: num('high_freq_factor', 4),
        originalMaxPositionEmbeddings: original(),
      };
    case 'yarn':
      return parseYarn(block, where, original());
    default:
      fail(
        `${key}.rope_type`,
        `${JSON.stringify(type)} is not supported (default, linear, dynamic, llama3, yarn)`,
      );
  }
}

function parseYarn(block: Json, where: string, original: number): RopeScaling {
  const num = (name: string, fallback: number) => positiveNumber(block, name, fallback, where);
  const mscaleAllDim = block.mscale_all_dim ?? 0;
  if (typeof mscaleAllDim !== 'number' || mscaleAllDim < 0) {
    throw new Error(`${where}: mscale_all_dim must be a number >= 0`);
  }
  const yarn: RopeScaling = {
    type: 'yarn',
    factor: num('factor', Number.NaN),
    originalMaxPositionEmbeddings: original,
    betaFast: num('beta_fast', 32),
    betaSlow: num('beta_slow', 1),
    mscale: num('mscale', 1),
    mscaleAllDim,
  };
  if (block.attention_factor !== undefined && block.attention_factor !== null) {
    yarn.attentionFactor = num('attention_factor', 1);
  }
  return yarn;
}

function parseRopeTheta(config: Json): number {
  const { block } = ropeBlock(config);
  if (config.rope_theta === undefined && block?.rope_theta !== undefined) {
    return positiveNumber(block, 'rope_theta', 10000, 'config.json rope_parameters');
  }
  return positiveNumber(config, 'rope_theta', 10000);
}

function rejectUnsupported(config: Json, arch: Architecture): void {
  const act = config.hidden_act ?? config.hidden_activation ?? 'silu';
  if (act !== 'silu') fail('hidden_act', `must be silu, got ${JSON.stringify(act)}`);
  if (config.mlp_bias === true) fail('mlp_bias', 'true is not supported');
  // Qwen2's q/k/v biases are implied by the architecture; elsewhere the flag would add an o_proj bias too.
  if (arch !== 'qwen2' && config.attention_bias === true)
    fail('attention_bias', 'true is not supported');
  if (arch === 'qwen2' && config.use_sliding_window === true) {
    fail('use_sliding_window', 'true is not supported');
  }
}

function parseSlidingWindow(config: Json, arch: Architecture, maxPositions: number): number | null {
  if (arch !== 'mistral') return null;
  const window = config.sliding_window;
  if (window === undefined || window === null) return null;
  const value = positiveInt(config, 'sliding_window');
  return value >= maxPositions ? null : value;
}

/** Parses a HF config.json object; `generationConfig` (generation_config.json) adds eos ids. */
export function parseModelSpec(configJson: unknown, generationConfig?: unknown): ModelSpec {
  if (!configJson || typeof configJson !== 'object' || Array.isArray(configJson)) {
    throw new Error('config.json: must be a JSON object');
  }
  const config = configJson as Json;
  const architecture = parseArchitecture(config);
  rejectUnsupported(config, architecture);
  const hiddenSize = positiveInt(config, 'hidden_size');
  const numHeads = positiveInt(config, 'num_attention_heads');
  const numKvHeads = positiveInt(config, 'num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    fail('num_key_value_heads', `(${numKvHeads}) must divide num_attention_heads (${numHeads})`);
  }
  if (config.head_dim === undefined || config.head_dim === null) {
    if (hiddenSize % numHeads !== 0)
      fail('hidden_size', 'must be divisible by num_attention_heads');
  }
  const headDim = positiveInt(config, 'head_dim', hiddenSize / numHeads);
  if (headDim % 2 !== 0) fail('head_dim', `must be even for RoPE, got ${headDim}`);
  const maxPositionEmbeddings = positiveInt(config, 'max_position_embeddings', 2048);
  const eosTokenIds = tokenIdList(config.eos_token_id, 'eos_token_id');
  for (const id of generationEosIds(generationConfig))
    if (!eosTokenIds.includes(id)) eosTokenIds.push(id);
  const tie = config.tie_word_embeddings ?? false;
  if (typeof tie !== 'boolean') fail('tie_word_embeddings', 'must be a boolean');
  return {
    architecture,
    vocabSize: positiveInt(config, 'vocab_size'),
    hiddenSize,
    intermediateSize: positiveInt(config, 'intermediate_size'),
    numLayers: positiveInt(config, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: positiveNumber(config, 'rms_norm_eps', 1e-6),
    ropeTheta: parseRopeTheta(config),
    ropeScaling: parseRopeScaling(config, maxPositionEmbeddings),
    maxPositionEmbeddings,
    tieWordEmbeddings: tie,
    attentionBias: architecture === 'qwen2',
    qkNorm: architecture === 'qwen3',
    dtype: parseDtype(config),
    bosTokenId: optionalTokenId(config, 'bos_token_id'),
    eosTokenIds,
    slidingWindow: parseSlidingWindow(config, architecture, maxPositionEmbeddings),
  };
}

function generationEosIds(generationConfig: unknown): number[] {
  if (!generationConfig || typeof generationConfig !== 'object') return [];
  const value = (generationConfig as Json).eos_token_id;
  return tokenIdList(value, 'eos_token_id', 'generation_config.json');
}

async function readJson(path: string, optional: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads `dir/config.json` (+ `generation_config.json` when present). */
export async function loadModelSpec(dir: string): Promise<ModelSpec> {
  const config = await readJson(join(dir, 'config.json'), false);
  const generation = await readJson(join(dir, 'generation_config.json'), true);
  return parseModelSpec(config, generation);
}
