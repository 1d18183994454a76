/** The reference runner's weights: every tensor as float32, grouped per layer. */
import type { ModelSpec } from '../../model/config.ts';
import { checkTensorShapes, type WeightSet } from '../../model/loader.ts';

export interface LayerWeights {
  inputNorm: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  qBias: Float32Array | null;
  kBias: Float32Array | null;
  vBias: Float32Array | null;
  qNorm: Float32Array | null;
  kNorm: Float32Array | null;
  o: Float32Array;
  postNorm: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
}

export interface ModelWeights {
  embed: Float32Array;
  layers: LayerWeights[];
  finalNorm: Float32Array;
  /** The embedding matrix itself when word embeddings are tied. */
  lmHead: Float32Array;
}

export function loadModelWeights(spec: ModelSpec, weights: WeightSet): ModelWeights {
  const shapes = new Map(weights.names().map((name) => [name, weights.info(name).shape]));
  checkTensorShapes(spec, shapes, 'weights');
  const f = (name: string) => weights.float32(name);
  const optional = (name: string, present: boolean) => (present ? f(name) : null);
  const layers = Array.from({ length: spec.numLayers }, (_, i): LayerWeights => {
    const p = `model.layers.${i}`;
    return {
      inputNorm: f(`${p}.input_layernorm.weight`),
      q: f(`${p}.self_attn.q_proj.weight`),
      k: f(`${p}.self_attn.k_proj.weight`),
      v: f(`${p}.self_attn.v_proj.weight`),
      qBias: optional(`${p}.self_attn.q_proj.bias`, spec.attentionBias),
      kBias: optional(`${p}.self_attn.k_proj.bias`, spec.attentionBias),
      vBias: optional(`${p}.self_attn.v_proj.bias`, spec.attentionBias),
      qNorm: optional(`${p}.self_attn.q_norm.weight`, spec.qkNorm),
      kNorm: optional(`${p}.self_attn.k_norm.weight`, spec.qkNorm),
      o: f(`${p}.self_attn.o_proj.weight`),
      postNorm: f(`${p}.post_attention_layernorm.weight`),
      gate: f(`${p}.mlp.gate_proj.weight`),
      up: f(`${p}.mlp.up_proj.weight`),
      down: f(`${p}.mlp.down_proj.weight`),
    };
  });
  const embed = f('model.embed_tokens.weight');
  return {
    embed,
    layers,
    finalNorm: f('model.norm.weight'),
    lmHead: spec.tieWordEmbeddings ? embed : f('lm_head.weight'),
  };
}
