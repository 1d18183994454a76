/**
 * The decoder as one ONNX graph over a flattened batch of T new tokens (ragged sequences and
 * prefill chunks alike). Attention reads each sequence's history straight out of the host KV pool:
 * the pool's per-layer arrays are graph inputs (passed zero-copy), `hist_index` gathers each
 * sequence's past slots into a padded [B, Kh] layout, the new tokens' own K/V are appended, and an
 * additive mask [B,1,1,Q,Kh+Q] hides padding, the future and (Mistral) out-of-window keys. The graph
 * returns the new tokens' K/V per layer; the runner scatters them into the pool by slotMapping.
 * Logits are computed only for the rows in `logit_index`.
 */
import type { ModelSpec } from '../../model/config.ts';
import type { WeightSet } from '../../model/loader.ts';
import { type BuiltModel, GraphBuilder } from './graph-builder.ts';
import { TensorDataType as DT } from './onnx-proto.ts';
import { type QuantizeOptions, quantizeMatrix } from './quantize.ts';

export type Quantization = 'none' | 'int8' | 'int4';

export interface DecoderGraphOptions {
  quantization: Quantization;
  /** MatMulNBits block size (default 32). */
  quantBlockSize?: 16 | 32 | 64 | 128;
  /** Symmetric (no zero points) or asymmetric quantisation (default asymmetric). */
  quantSymmetric?: boolean;
  /** MatMulNBits accuracy_level: 0 = fp32 compute, 4 = int8 activations (faster; default). */
  accuracyLevel?: 0 | 1 | 4;
}

export const pastKeyName = (layer: number) => `past_key_${layer}`;
export const pastValueName = (layer: number) => `past_value_${layer}`;
export const presentKeyName = (layer: number) => `present_key_${layer}`;
export const presentValueName = (layer: number) => `present_value_${layer}`;

const MS = 'com.microsoft';

class DecoderBuilder {
  readonly g = new GraphBuilder();
  private readonly quant: QuantizeOptions | null;
  private readonly kvDim: number;
  private shapes!: Record<'hist' | 'newKv' | 'q5' | 'scores5' | 'scores4' | 'out5', string>;

  constructor(
    private readonly spec: ModelSpec,
    private readonly weights: WeightSet,
    private readonly options: DecoderGraphOptions,
  ) {
    this.kvDim = spec.numKvHeads * spec.headDim;
    const q = options.quantization;
    this.quant =
      q === 'none'
        ? null
        : {
            bits: q === 'int4' ? 4 : 8,
            blockSize: options.quantBlockSize ?? 32,
            symmetric: options.quantSymmetric ?? false,
          };
  }

  private concatRows(names: string[]): Float32Array {
    const parts = names.map((n) => this.weights.float32(n));
    const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }

  /** y = x·Wᵀ (+ bias) for an HF [n, k] weight, in fp32 (Gemm, transB) or quantised (MatMulNBits). */
  linear(x: string, id: string, weight: Float32Array, n: number, k: number, bias?: Float32Array) {
    const g = this.g;
    const biasName = bias ? g.initializer(`${id}.bias`, bias, [n]) : null;
    if (!this.quant) {
      const inputs = [x, g.initializer(`${id}.weight`, weight, [n, k])];
      if (biasName) inputs.push(biasName);
      return g.op('Gemm', inputs, { transB: 1 });
    }
    const m = quantizeMatrix(weight, n, k, this.quant);
    const blocks = Math.ceil(k / m.blockSize);
    const inputs = [
      x,
      g.initializer(`${id}.qweight`, m.data, [n, blocks, (m.blockSize * m.bits) / 8]),
      g.initializer(`${id}.scales`, m.scales, [n * blocks]),
    ];
    if (m.zeroPoints)
      inputs.push(g.initializer(`${id}.zeros`, m.zeroPoints, [m.zeroPoints.length]));
    const y = g.op(
      'MatMulNBits',
      inputs,
      {
        K: k,
        N: n,
        bits: m.bits,
        block_size: m.blockSize,
        accuracy_level: this.options.accuracyLevel ?? 4,
      },
      { domain: MS },
    );
    return biasName ? g.op('Add', [y, biasName]) : y;
  }

  rmsNorm(x: string, weightName: string, factor = 1): string {
    const w = this.weights.float32(weightName).map((v) => v * factor);
    const scale = this.g.initializer(weightName, w, [w.length]);
    return this.g.op('SimplifiedLayerNormalization', [x, scale], {
      axis: -1,
      epsilon: { f: this.spec.rmsNormEps },
    });
  }

  /** Fused residual add + RMSNorm; returns [normed, residualSum]. */
  skipRmsNorm(x: string, residual: string, weightName: string): [string, string] {
    const g = this.g;
    const w = this.weights.float32(weightName);
    const scale = g.initializer(weightName, w, [w.length]);
    const id = g.opMulti(
      'SkipSimplifiedLayerNormalization',
      [x, residual, scale],
      { epsilon: { f: this.spec.rmsNormEps } },
      { domain: MS, count: 4 },
    );
    return [id[0], id[3]];
  }

  build(): BuiltModel {
    const { spec, g } = this;
    const ids = g.input('input_ids', DT.INT64, ['T']);
    g.input('rope_position', DT.INT64, [1, 'T']);
    g.input('rope_cos', DT.FLOAT, ['T', spec.headDim / 2]);
    g.input('rope_sin', DT.FLOAT, ['T', spec.headDim / 2]);
    g.input('query_index', DT.INT64, ['BQ']);
    g.input('out_index', DT.INT64, ['T']);
    g.input('hist_index', DT.INT64, ['BKh']);
    g.input('attn_mask', DT.FLOAT, ['B', 1, 1, 'Q', 'K']);
    g.input('logit_index', DT.INT64, ['N']);
    this.buildShapes();

    const embed = this.weights.float32('model.embed_tokens.weight');
    const embedName = g.initializer('embed', embed, [spec.vocabSize, spec.hiddenSize]);
    let residual = g.op('Gather', [embedName, ids], { axis: 0 });
    let hidden = this.rmsNorm(residual, 'model.layers.0.input_layernorm.weight');
    for (let layer = 0; layer < spec.numLayers; layer++) {
      const p = `model.layers.${layer}`;
      const attn = this.attention(layer, hidden);
      const [normed, sum] = this.skipRmsNorm(
        attn,
        residual,
        `${p}.post_attention_layernorm.weight`,
      );
      const mlp = this.mlp(layer, normed);
      if (layer + 1 < spec.numLayers) {
        [hidden, residual] = this.skipRmsNorm(
          mlp,
          sum,
          `model.layers.${layer + 1}.input_layernorm.weight`,
        );
      } else {
        residual = g.op('Add', [mlp, sum]);
      }
    }
    const rows = g.op('Gather', [residual, 'logit_index'], { axis: 0 });
    const final = this.rmsNorm(rows, 'model.norm.weight');
    const logits = this.lmHead(final, embed, embedName);
    g.output(logits, 'logits', DT.FLOAT, ['N', spec.vocabSize]);
    return g.build();
  }

  private lmHead(x: string, embed: Float32Array, embedName: string): string {
    const { spec, g } = this;
    if (!spec.tieWordEmbeddings) {
      const w = this.weights.float32('lm_head.weight');
      return this.linear(x, 'lm_head', w, spec.vocabSize, spec.hiddenSize);
    }
    if (!this.quant) return g.op('Gemm', [x, embedName], { transB: 1 });
    return this.linear(x, 'lm_head', embed, spec.vocabSize, spec.hiddenSize);
  }

  /** Shape tensors derived once from attn_mask's [B, 1, 1, Q, K]. */
  private buildShapes(): void {
    const { spec, g } = this;
    const kvH = spec.numKvHeads;
    const group = spec.numHeads / kvH;
    const D = spec.headDim;
    const ms = g.op('Shape', ['attn_mask']);
    const pick = (i: number) => g.op('Slice', [ms, g.int64s([i]), g.int64s([i + 1])]);
    const [B, Q, K] = [pick(0), pick(3), pick(4)];
    const Kh = g.op('Sub', [K, Q]);
    const cat = (parts: string[]) => g.op('Concat', parts, { axis: 0 });
    this.shapes = {
      hist: cat([B, Kh, g.int64s([kvH, D])]),
      newKv: cat([B, Q, g.int64s([kvH, D])]),
      q5: cat([B, Q, g.int64s([kvH, group, D])]),
      scores5: cat([B, g.int64s([kvH, group]), Q, K]),
      scores4: cat([B, g.int64s([kvH, -1]), K]),
      out5: cat([B, g.int64s([kvH, group]), Q, g.int64s([D])]),
    };
  }

  /** `factor` scales the per-head norm's weight (how q carries the attention scale on Qwen3). */
  private rope(x: string, numHeads: number, normWeight: string | null, factor = 1): string {
    const { spec, g } = this;
    let y = x;
    if (normWeight) {
      const heads = g.op('Reshape', [y, g.int64s([0, numHeads, spec.headDim])]);
      y = g.op('Reshape', [
        this.rmsNorm(heads, normWeight, factor),
        g.int64s([0, numHeads * spec.headDim]),
      ]);
    }
    const y3 = g.op('Unsqueeze', [y, g.int64s([0])]);
    const rotated = g.op(
      'RotaryEmbedding',
      [y3, 'rope_position', 'rope_cos', 'rope_sin'],
      { interleaved: 0, num_heads: numHeads },
      { domain: MS },
    );
    return g.op('Squeeze', [rotated, g.int64s([0])]);
  }

  private attention(layer: number, x: string): string {
    const { spec, g, kvDim } = this;
    const p = `model.layers.${layer}.self_attn`;
    const qDim = spec.numHeads * spec.headDim;
    const names = ['q_proj', 'k_proj', 'v_proj'].map((n) => `${p}.${n}`);
    const weight = this.concatRows(names.map((n) => `${n}.weight`));
    const bias = spec.attentionBias ? this.concatRows(names.map((n) => `${n}.bias`)) : undefined;
    // The 1/sqrt(headDim) attention scale rides on q's projection (RoPE is linear), or on q's
    // norm weight when there is one, instead of costing a Mul per layer.
    const attentionScale = 1 / Math.sqrt(spec.headDim);
    if (!spec.qkNorm) {
      for (let i = 0; i < qDim * spec.hiddenSize; i++) weight[i] *= attentionScale;
      if (bias) for (let i = 0; i < qDim; i++) bias[i] *= attentionScale;
    }
    const qkv = this.linear(x, `${p}.qkv`, weight, qDim + 2 * kvDim, spec.hiddenSize, bias);
    const [q, k, v] = g.opMulti(
      'Split',
      [qkv, g.int64s([qDim, kvDim, kvDim])],
      { axis: 1 },
      { count: 3 },
    );
    const qNorm = spec.qkNorm ? `${p}.q_norm.weight` : null;
    const qRot = this.rope(q, spec.numHeads, qNorm, attentionScale);
    const kRot = this.rope(k, spec.numKvHeads, spec.qkNorm ? `${p}.k_norm.weight` : null);
    g.output(kRot, presentKeyName(layer), DT.FLOAT, ['T', kvDim]);
    g.output(v, presentValueName(layer), DT.FLOAT, ['T', kvDim]);
    g.input(pastKeyName(layer), DT.FLOAT, ['S', kvDim]);
    g.input(pastValueName(layer), DT.FLOAT, ['S', kvDim]);
    const keys = this.keysFor(pastKeyName(layer), kRot);
    const values = this.keysFor(pastValueName(layer), v);
    return this.scaledDotProduct(layer, qRot, keys, values);
  }

  /** [B, Kh+Q, kvH, D]: the sequence's history from the pool followed by its new rows. */
  private keysFor(pool: string, fresh: string): string {
    const g = this.g;
    const gathered = g.op('Gather', [pool, 'hist_index'], { axis: 0 });
    // allowzero: an empty history (Kh = 0) must stay 0, not copy the input's dimension.
    const hist = g.op('Reshape', [gathered, this.shapes.hist], { allowzero: 1 });
    const padded = g.op('Gather', [fresh, 'query_index'], { axis: 0 });
    const own = g.op('Reshape', [padded, this.shapes.newKv]);
    return g.op('Concat', [hist, own], { axis: 1 });
  }

  private scaledDotProduct(layer: number, q: string, keys: string, values: string): string {
    const { spec, g, shapes } = this;
    const qDim = spec.numHeads * spec.headDim;
    const qPad = g.op('Reshape', [g.op('Gather', [q, 'query_index'], { axis: 0 }), shapes.q5]);
    const qHeads = g.op('Transpose', [qPad], { perm: [0, 2, 3, 1, 4] });
    const q4 = g.op('Reshape', [qHeads, g.int64s([0, 0, -1, spec.headDim])]);
    const kT = g.op('Transpose', [keys], { perm: [0, 2, 3, 1] });
    const scores = g.op('Reshape', [g.op('MatMul', [q4, kT]), shapes.scores5]);
    const probs = g.op('Softmax', [g.op('Add', [scores, 'attn_mask'])], { axis: -1 });
    const v4 = g.op('Transpose', [values], { perm: [0, 2, 1, 3] });
    const ctx = g.op('MatMul', [g.op('Reshape', [probs, shapes.scores4]), v4]);
    const ctx5 = g.op('Reshape', [ctx, shapes.out5]);
    const tokens = g.op('Transpose', [ctx5], { perm: [0, 3, 1, 2, 4] });
    const flat = g.op('Reshape', [tokens, g.int64s([-1, qDim])]);
    const out = g.op('Gather', [flat, 'out_index'], { axis: 0 });
    const w = this.weights.float32(`model.layers.${layer}.self_attn.o_proj.weight`);
    return this.linear(out, `model.layers.${layer}.o_proj`, w, spec.hiddenSize, qDim);
  }

  private mlp(layer: number, x: string): string {
    const { spec, g } = this;
    const p = `model.layers.${layer}.mlp`;
    const inter = spec.intermediateSize;
    const gateUp = this.concatRows([`${p}.gate_proj.weight`, `${p}.up_proj.weight`]);
    const gu = this.linear(x, `${p}.gate_up`, gateUp, 2 * inter, spec.hiddenSize);
    const [gate, up] = g.opMulti(
      'Split',
      [gu, g.int64s([inter, inter])],
      { axis: 1 },
      { count: 2 },
    );
    const act = g.op('Mul', [gate, g.op('Sigmoid', [gate])]);
    const down = this.weights.float32(`${p}.down_proj.weight`);
    return this.linear(g.op('Mul', [act, up]), `${p}.down`, down, spec.hiddenSize, inter);
  }
}

export function buildDecoderGraph(
  spec: ModelSpec,
  weights: WeightSet,
  options: DecoderGraphOptions,
): BuiltModel {
  return new DecoderBuilder(spec, weights, options).build();
}
