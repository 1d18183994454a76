/** The Hugging Face tensor names and shapes each supported family's checkpoint holds. */
import type { ModelSpec } from './config.ts';

/** Every tensor the spec's family must have, in checkpoint order. */
export function expectedTensorShapes(spec: ModelSpec): Map<string, number[]> {
  const { hiddenSize: h, intermediateSize: inter, headDim: d, vocabSize: v } = spec;
  const qDim = spec.numHeads * d;
  const kvDim = spec.numKvHeads * d;
  const shapes = new Map<string, number[]>();
  shapes.set('model.embed_tokens.weight', [v, h]);
  for (let i = 0; i < spec.numLayers; i++) {
    const p = `model.layers.${i}`;
    shapes.set(`${p}.input_layernorm.weight`, [h]);
    shapes.set(`${p}.self_attn.q_proj.weight`, [qDim, h]);
    shapes.set(`${p}.self_attn.k_proj.weight`, [kvDim, h]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [kvDim, h]);
    if (spec.attentionBias) {
      shapes.set(`${p}.self_attn.q_proj.bias`, [qDim]);
      shapes.set(`${p}.self_attn.k_proj.bias`, [kvDim]);
      shapes.set(`${p}.self_attn.v_proj.bias`, [kvDim]);
    }
    if (spec.qkNorm) {
      shapes.set(`${p}.self_attn.q_norm.weight`, [d]);
      shapes.set(`${p}.self_attn.k_norm.weight`, [d]);
    }
    shapes.set(`${p}.self_attn.o_proj.weight`, [h, qDim]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [h]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [inter, h]);
    shapes.set(`${p}.mlp.up_proj.weight`, [inter, h]);
    shapes.set(`${p}.mlp.down_proj.weight`, [h, inter]);
  }
  shapes.set('model.norm.weight', [h]);
  if (!spec.tieWordEmbeddings) shapes.set('lm_head.weight', [v, h]);
  return shapes;
}

/** Tensors a checkpoint may carry that we do not read (old Llama exports keep RoPE buffers). */
function isIgnorable(name: string, spec: ModelSpec): boolean {
  if (name.endsWith('.rotary_emb.inv_freq')) return true;
  // Some tied checkpoints still ship a copy of lm_head.
  return spec.tieWordEmbeddings && name === 'lm_head.weight';
}

/**
 * Checks that a checkpoint holds exactly the family's tensors with the right shapes; throws one
 * error listing every problem (missing, unexpected, mis-shaped) so a bad export is fixed in one go.
 */
export function checkTensorShapes(
  spec: ModelSpec,
  actual: Map<string, number[]>,
  where: string,
): void {
  const expected = expectedTensorShapes(spec);
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const got = actual.get(name);
    if (!got) problems.push(`missing ${name} ${JSON.stringify(shape)}`);
    else if (got.join(',') !== shape.join(',')) {
      problems.push(`${name} has shape ${JSON.stringify(got)}, expected ${JSON.stringify(shape)}`);
    }
  }
  for (const name of actual.keys()) {
    if (!expected.has(name) && !isIgnorable(name, spec)) problems.push(`unexpected tensor ${name}`);
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10).join('; ');
    const more = problems.length > 10 ? ` (and ${problems.length - 10} more)` : '';
    throw new Error(`${where} does not match a ${spec.architecture} model: ${shown}${more}`);
  }
}
