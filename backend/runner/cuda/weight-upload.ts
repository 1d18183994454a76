/**
 * Hugging Face tensor names → the addon's weight kinds. Shapes and dtypes are checked here, in
 * TS, before any byte reaches native code; the addon re-checks element counts.
 */
import type { ModelSpec } from '../../model/config.ts';
import type { WeightSet } from '../../model/loader.ts';
import { expectedTensorShapes } from '../../model/weight-names.ts';
import type { CudaAddon, ModelHandle } from '../../native/loader.ts';

/** Mirrors es_weight_kind in native/edgeserve-cuda.h. */
export const WeightKind = {
  embed: 0,
  finalNorm: 1,
  lmHead: 2,
  inputNorm: 3,
  postNorm: 4,
  q: 5,
  k: 6,
  v: 7,
  qBias: 8,
  kBias: 9,
  vBias: 10,
  qNorm: 11,
  kNorm: 12,
  o: 13,
  gate: 14,
  up: 15,
  down: 16,
} as const;

const layerKinds: Record<string, number> = {
  'input_layernorm.weight': WeightKind.inputNorm,
  'post_attention_layernorm.weight': WeightKind.postNorm,
  'self_attn.q_proj.weight': WeightKind.q,
  'self_attn.k_proj.weight': WeightKind.k,
  'self_attn.v_proj.weight': WeightKind.v,
  'self_attn.q_proj.bias': WeightKind.qBias,
  'self_attn.k_proj.bias': WeightKind.kBias,
  'self_attn.v_proj.bias': WeightKind.vBias,
  'self_attn.q_norm.weight': WeightKind.qNorm,
  'self_attn.k_norm.weight': WeightKind.kNorm,
  'self_attn.o_proj.weight': WeightKind.o,
  'mlp.gate_proj.weight': WeightKind.gate,
  'mlp.up_proj.weight': WeightKind.up,
  'mlp.down_proj.weight': WeightKind.down,
};

/** Mirrors es_dtype. */
const nativeDtype: Record<string, number> = { F32: 0, F16: 1, BF16: 2 };

export interface WeightTarget {
  kind: number;
  layer: number;
}

/** Where a checkpoint tensor goes, or null for a name the runner does not read. */
export function weightTarget(name: string): WeightTarget | null {
  if (name === 'model.embed_tokens.weight') return { kind: WeightKind.embed, layer: -1 };
  if (name === 'model.norm.weight') return { kind: WeightKind.finalNorm, layer: -1 };
  if (name === 'lm_head.weight') return { kind: WeightKind.lmHead, layer: -1 };
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(name);
  if (!m) return null;
  const kind = layerKinds[m[2]];
  return kind === undefined ? null : { kind, layer: Number(m[1]) };
}

/** Uploads every tensor the spec needs, one at a time (each read lazily from disk). */
export function uploadWeights(
  addon: CudaAddon,
  model: ModelHandle,
  spec: ModelSpec,
  weights: WeightSet,
): void {
  for (const [name, shape] of expectedTensorShapes(spec)) {
    const info = weights.info(name);
    if (info.shape.join(',') !== shape.join(',')) {
      throw new Error(`weight ${name} has shape [${info.shape}], expected [${shape}]`);
    }
    const dtype = nativeDtype[info.dtype];
    if (dtype === undefined)
      throw new Error(
        `weight ${name} has dtype ${info.dtype}; the cuda runner reads F32, F16 and BF16`,
      );
    const target = weightTarget(name);
    if (!target) throw new Error(`internal: no upload target for ${name}`);
    addon.uploadWeight(model, target.kind, target.layer, weights.get(name).data, dtype);
  }
}
