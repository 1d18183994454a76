/**
 * Writes the HF-comparison models (one per family, bf16 random weights, plus one per RoPE scaling:
 * llama3, linear, dynamic NTK and YaRN) and a prompt for each into DIR/<name>/, for hf_logits.py
 * and hf-compare.ts. The scaled ones have a 64-token original context, so the 320-token prompts
 * run far past it.
 * Usage: node gen-fixtures.mjs DIR
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelSpec } from '../../backend/model/config.ts';
import { randomPrompt } from '../../backend/runner/contract-driver.ts';
import { writeFixtureModel } from '../../test/fixtures/models.ts';

const root = process.argv[2];
if (!root) throw new Error('usage: gen-fixtures DIR');

// Wider than the contract fixtures so attention and the MLP see realistic head sizes.
const wide = {
  hidden_size: 256,
  intermediate_size: 512,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 3,
};
type FixtureOptions = Parameters<typeof writeFixtureModel>[1];
const scaled = (
  family: 'llama' | 'qwen2',
  seed: number,
  ropeScaling: Record<string, unknown>,
  maxPositions = 4096,
): FixtureOptions => ({
  family,
  seed,
  dtype: 'BF16',
  config: { ...wide, max_position_embeddings: maxPositions, rope_scaling: ropeScaling },
});
const models: [string, FixtureOptions][] = [
  ['llama', { family: 'llama', seed: 11, dtype: 'BF16', config: wide }],
  [
    'qwen2',
    { family: 'qwen2', seed: 12, dtype: 'BF16', config: { ...wide, num_key_value_heads: 1 } },
  ],
  ['qwen3', { family: 'qwen3', seed: 13, dtype: 'BF16', config: { ...wide, head_dim: 128 } }],
  ['mistral', { family: 'mistral', seed: 14, dtype: 'BF16', config: wide }],
  [
    'llama3-rope',
    {
      family: 'llama',
      seed: 15,
      dtype: 'BF16',
      config: {
        ...wide,
        max_position_embeddings: 4096,
        rope_theta: 500000,
        rope_scaling: {
          rope_type: 'llama3',
          factor: 8,
          low_freq_factor: 1,
          high_freq_factor: 4,
          original_max_position_embeddings: 64,
        },
      },
    },
  ],
  ['llama-linear', scaled('llama', 16, { rope_type: 'linear', factor: 2 })],
  // Transformers rescales dynamic NTK's base by the sequence length seen; the runners fix it at
  // original × factor (vLLM does the same), which a teacher-forced 320-token prompt reaches
  // exactly when the original context is 64 and the factor 5.
  ['llama-dynamic', scaled('llama', 17, { rope_type: 'dynamic', factor: 5 }, 64)],
  [
    'qwen2-yarn',
    scaled('qwen2', 18, { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 64 }),
  ],
];

for (const [name, options] of models) {
  const dir = join(root, name);
  writeFixtureModel(dir, options);
  const spec = await loadModelSpec(dir);
  writeFileSync(join(dir, 'tokens.json'), JSON.stringify(randomPrompt(320, spec.vocabSize, 5)));
  console.log(`wrote ${dir}`);
}
