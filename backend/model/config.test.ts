import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelSpec, parseModelSpec } from './config.ts';

const llama = {
  architectures: ['LlamaForCausalLM'],
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  vocab_size: 128256,
  torch_dtype: 'bfloat16',
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  rope_scaling: {
    factor: 8,
    low_freq_factor: 1,
    high_freq_factor: 4,
    original_max_position_embeddings: 8192,
    rope_type: 'llama3',
  },
};

describe('parseModelSpec', () => {
  it('reads a Llama 3.1 config, defaulting head_dim to hidden/heads', () => {
    const spec = parseModelSpec(llama);
    expect(spec).toMatchObject({
      architecture: 'llama',
      headDim: 128,
      numKvHeads: 8,
      dtype: 'bfloat16',
      eosTokenIds: [128001, 128008, 128009],
      attentionBias: false,
      qkNorm: false,
      tieWordEmbeddings: false,
      ropeScaling: {
        type: 'llama3',
        factor: 8,
        lowFreqFactor: 1,
        highFreqFactor: 4,
        originalMaxPositionEmbeddings: 8192,
      },
    });
  });

  it('gives Qwen2 q/k/v biases and Qwen3 q/k norms with an explicit head_dim', () => {
    const qwen2 = parseModelSpec({
      ...llama,
      rope_scaling: null,
      architectures: ['Qwen2ForCausalLM'],
      eos_token_id: 2,
    });
    expect(qwen2).toMatchObject({
      architecture: 'qwen2',
      attentionBias: true,
      qkNorm: false,
      eosTokenIds: [2],
      ropeScaling: null,
    });
    const qwen3 = parseModelSpec({
      ...llama,
      rope_scaling: null,
      architectures: ['Qwen3ForCausalLM'],
      head_dim: 64,
      dtype: 'float16',
    });
    expect(qwen3).toMatchObject({
      architecture: 'qwen3',
      attentionBias: false,
      qkNorm: true,
      headDim: 64,
      dtype: 'float16',
    });
  });

  it('accepts rope_parameters with type or rope_type, and rope_theta inside it', () => {
    const { rope_scaling: _, rope_theta: __, ...base } = llama;
    const spec = parseModelSpec({
      ...base,
      rope_parameters: { type: 'linear', factor: 2, rope_theta: 1234 },
    });
    expect(spec.ropeScaling).toEqual({ type: 'linear', factor: 2 });
    expect(spec.ropeTheta).toBe(1234);
    const yarn = parseModelSpec({
      ...base,
      rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32768 },
    });
    expect(yarn.ropeScaling).toMatchObject({
      type: 'yarn',
      factor: 4,
      betaFast: 32,
      betaSlow: 1,
      originalMaxPositionEmbeddings: 32768,
    });
    const plain = parseModelSpec({
      ...base,
      rope_parameters: { rope_type: 'default', rope_theta: 1e6 },
    });
    expect(plain.ropeScaling).toBeNull();
    expect(plain.ropeTheta).toBe(1e6);
  });

  it('keeps Mistral sliding windows shorter than the context', () => {
    const mistral = {
      ...llama,
      rope_scaling: null,
      architectures: ['MistralForCausalLM'],
      max_position_embeddings: 32768,
    };
    expect(parseModelSpec({ ...mistral, sliding_window: 4096 }).slidingWindow).toBe(4096);
    expect(parseModelSpec({ ...mistral, sliding_window: null }).slidingWindow).toBeNull();
  });

  it('names the offending key for unsupported or bad values', () => {
    expect(() => parseModelSpec({ ...llama, architectures: ['GPT2LMHeadModel'] })).toThrow(
      /architectures.*GPT2LMHeadModel/,
    );
    expect(() => parseModelSpec({ ...llama, hidden_size: -1 })).toThrow(/hidden_size/);
    expect(() => parseModelSpec({ ...llama, num_key_value_heads: 5 })).toThrow(
      /num_key_value_heads/,
    );
    expect(() => parseModelSpec({ ...llama, torch_dtype: 'int8' })).toThrow(/torch_dtype/);
    expect(() => parseModelSpec({ ...llama, eos_token_id: 'x' })).toThrow(/eos_token_id/);
    expect(() =>
      parseModelSpec({ ...llama, rope_scaling: { rope_type: 'longrope', factor: 2 } }),
    ).toThrow(/rope_scaling\.rope_type/);
    expect(() => parseModelSpec({ ...llama, rope_scaling: { rope_type: 'linear' } })).toThrow(
      /factor/,
    );
    expect(() => parseModelSpec({ ...llama, hidden_act: 'gelu' })).toThrow(/hidden_act/);
    const { vocab_size: _, ...noVocab } = llama;
    expect(() => parseModelSpec(noVocab)).toThrow(/vocab_size is required/);
  });
});

describe('loadModelSpec', () => {
  it('adds generation_config.json eos ids to config.json ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spec-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...llama, eos_token_id: 128001 }));
    writeFileSync(
      join(dir, 'generation_config.json'),
      JSON.stringify({ eos_token_id: [128001, 128009] }),
    );
    expect((await loadModelSpec(dir)).eosTokenIds).toEqual([128001, 128009]);
  });

  it('fails with the path when config.json is missing or malformed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spec-'));
    await expect(loadModelSpec(dir)).rejects.toThrow(/config\.json/);
    writeFileSync(join(dir, 'config.json'), '{oops');
    await expect(loadModelSpec(dir)).rejects.toThrow(/not valid JSON/);
  });
});
