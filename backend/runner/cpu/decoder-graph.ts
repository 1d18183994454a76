/**
 * The decoder as one ONNX graph over a dense [B, Q] block of new tokens (B sequences, each chunk
 * padded to the longest, Q; decodes are Q = 1). Attention reads each sequence's history straight
 * out of the host KV pool: the pool's per-layer arrays are graph inputs (passed zero-copy),
 * `hist_index` [B, Kh] gathers each sequence's past slots, the new tokens' own K/V are appended,
 * and ONNX's Attention (grouped-query heads) applies an additive mask [B,1,Q,Kh+Q] that hides
 * padding, the future and (Mistral) out-of-window keys. The graph returns the new tokens' K/V per
 * layer; the runner scatters them into the pool by slotMapping. Logits are computed only for the
 * rows in `logit_index`. Few nodes per layer: at Q = 1 a step is dominated by per-node overhead
 * once the matmuls are quantised.
 */
import type { ModelSpec } from '../../model/config.ts';
import type { WeightSet } from '../../model/loader.ts';
import { type BuiltModel, GraphBuilder } from './graph-builder.ts';
import { TensorDataType as DT } from './onnx-proto.ts';
import {
  concatQuantized,
  type QuantizedMatrix,
  type QuantizeOptions,
  quantizeMatrix,
} from './quantize.ts';

export type Quantization = 'none' | 'int8' | 'int4';

export interface DecoderGraphOptions {
  quantization: Quantization;
  /**
   * MatMulNBits block size (default 128, GPTQ/AWQ's usual group size): on the 2-core box int4
   * b128 decodes with ~30 % less CPU than b32 (fewer scales to stream), at a small accuracy cost
   * (demo model: KL 0.018 vs 0.011 nats, top-1 89 % vs 95 %; bench/cpu/quant-accuracy.ts).
   */
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
  private batchShape: string | null = null;
  private readonly blockShapes = new Map<number, string>();

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
            blockSize: options.quantBlockSize ?? 128,
            symmetric: options.quantSymmetric ?? false,
          };
  }

  private concatRows(names: string[]): Float32Array {
    return concatFloats(names.map((n) => this.weights.float32(n)));
  }

  /**
   * y = x·Wᵀ (+ bias) for an HF [n, k] weight, in fp32 (Gemm) or quantised (MatMulNBits). A fused
   * projection passes W as row blocks (`parts`), whose first may be scaled (q carries the attention
   * scale): quantised, each block is quantised alone and only the packed bytes are concatenated.
   */
  linear(
    x: string,
    id: string,
    parts: Float32Array[],
    n: number,
    k: number,
    bias?: Float32Array,
    firstPartScale = 1,
  ) {
    const biasName = bias ? this.g.initializer(`${id}.bias`, bias, [n]) : '';
    if (!this.quant) return this.gemm(x, id, parts, n, k, biasName, firstPartScale);
    const quant = this.quant;
    const m = concatQuantized(
      parts.map((part, i) => {
        const q = quantizeMatrix(part, part.length / k, k, quant);
        // Scaling a block's scale scales every weight it holds: same levels, no float copy.
        if (i === 0 && firstPartScale !== 1) scaleInPlace(q.scales, firstPartScale);
        return q;
      }),
    );
    return this.matMulNBits(x, id, m, biasName);
  }

  private gemm(
    x: string,
    id: string,
    parts: Float32Array[],
    n: number,
    k: number,
    biasName: string,
    firstPartScale: number,
  ): string {
    const g = this.g;
    let weight = parts.length === 1 ? parts[0] : concatFloats(parts);
    if (firstPartScale !== 1) {
      if (weight === parts[0]) weight = weight.slice();
      scaleInPlace(weight.subarray(0, parts[0].length), firstPartScale);
    }
    // Gemm is 2-D: flatten [B, Q, k] (Reshape aliases, no copy) and restore [B, Q, n].
    const inputs = [this.flat(x, k), g.initializer(`${id}.weight`, weight, [n, k])];
    if (biasName) inputs.push(biasName);
    return g.op('Reshape', [g.op('Gemm', inputs, { transB: 1 }), this.blockShape(n)]);
  }

  /** MatMulNBits over any leading dims; optional inputs left empty, the bias is the sixth. */
  private matMulNBits(x: string, id: string, m: QuantizedMatrix, biasName: string): string {
    const g = this.g;
    const blocks = Math.ceil(m.k / m.blockSize);
    const inputs = [
      x,
      g.initializer(`${id}.qweight`, m.data, [m.n, blocks, (m.blockSize * m.bits) / 8]),
      g.initializer(`${id}.scales`, m.scales, [m.n * blocks]),
      m.zeroPoints ? g.initializer(`${id}.zeros`, m.zeroPoints, [m.zeroPoints.length]) : '',
      '',
      biasName,
    ];
    while (inputs[inputs.length - 1] === '') inputs.pop();
    const attributes = {
      K: m.k,
      N: m.n,
      bits: m.bits,
      block_size: m.blockSize,
      accuracy_level: this.options.accuracyLevel ?? 4,
    };
    return g.op('MatMulNBits', inputs, attributes, { domain: MS });
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

  /** [B*Q, width] view of a [B, Q, width] value. */
  private flat(x: string, width: number): string {
    return this.g.op('Reshape', [x, this.g.int64s([-1, width])]);
  }

  /** The shape [B, Q, width], from input_ids' [B, Q]; one Concat per distinct width. */
  private blockShape(width: number): string {
    let shape = this.blockShapes.get(width);
    if (!shape) {
      this.batchShape ??= this.g.op('Shape', ['input_ids']);
      shape = this.g.op('Concat', [this.batchShape, this.g.int64s([width])], { axis: 0 });
      this.blockShapes.set(width, shape);
    }
    return shape;
  }

  build(): BuiltModel {
    const { spec, g } = this;
    const ids = g.input('input_ids', DT.INT32, ['B', 'Q']);
    g.input('rope_position', DT.INT64, ['B', 'Q']);
    g.input('rope_cos', DT.FLOAT, ['BQ', spec.headDim / 2]);
    g.input('rope_sin', DT.FLOAT, ['BQ', spec.headDim / 2]);
    g.input('hist_index', DT.INT32, ['B', 'Kh']);
    g.input('attn_mask', DT.FLOAT, ['B', 1, 'Q', 'K']);
    g.input('logit_index', DT.INT32, ['N']);

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
    const rows = g.op('Gather', [this.flat(residual, spec.hiddenSize), 'logit_index'], {
      axis: 0,
    });
    const final = this.rmsNorm(rows, 'model.norm.weight');
    const logits = this.lmHead(final, embed, embedName);
    g.output(logits, 'logits', DT.FLOAT, ['N', spec.vocabSize]);
    return g.build();
  }

  /** The LM head on [N, hidden] rows (already 2-D, so fp32 needs no reshape). */
  private lmHead(x: string, embed: Float32Array, embedName: string): string {
    const { spec, g } = this;
    if (!spec.tieWordEmbeddings) {
      const w = this.weights.float32('lm_head.weight');
      if (!this.quant) {
        return g.op(
          'Gemm',
          [x, g.initializer('lm_head.weight', w, [spec.vocabSize, spec.hiddenSize])],
          {
            transB: 1,
          },
        );
      }
      return this.linear(x, 'lm_head', [w], spec.vocabSize, spec.hiddenSize);
    }
    if (!this.quant) return g.op('Gemm', [x, embedName], { transB: 1 });
    return this.linear(x, 'lm_head', [embed], spec.vocabSize, spec.hiddenSize);
  }

  /**
   * RoPE on [B, Q, heads * headDim]; `factor` scales the per-head norm's weight (how q carries the
   * attention scale on Qwen3). `output` names the result (the graph output for keys).
   */
  private rope(
    x: string,
    numHeads: number,
    normWeight: string | null,
    factor = 1,
    output?: string,
  ): string {
    const { spec, g } = this;
    let y = x;
    if (normWeight) {
      const heads = g.op('Reshape', [y, g.int64s([0, 0, numHeads, spec.headDim])]);
      y = g.op('Reshape', [this.rmsNorm(heads, normWeight, factor), g.int64s([0, 0, -1])]);
    }
    return g.op(
      'RotaryEmbedding',
      [y, 'rope_position', 'rope_cos', 'rope_sin'],
      { interleaved: 0, num_heads: numHeads },
      { domain: MS, outputs: output ? [output] : undefined },
    );
  }

  private attention(layer: number, x: string): string {
    const { spec, g, kvDim } = this;
    const p = `model.layers.${layer}.self_attn`;
    const qDim = spec.numHeads * spec.headDim;
    const names = ['q_proj', 'k_proj', 'v_proj'].map((n) => `${p}.${n}`);
    const weights = names.map((n) => this.weights.float32(`${n}.weight`));
    const bias = spec.attentionBias ? this.concatRows(names.map((n) => `${n}.bias`)) : undefined;
    // The 1/sqrt(headDim) attention scale rides on q's projection (RoPE is linear), or on q's
    // norm weight when there is one, instead of costing a Mul per layer.
    const attentionScale = 1 / Math.sqrt(spec.headDim);
    const qScale = spec.qkNorm ? 1 : attentionScale;
    if (bias) scaleInPlace(bias.subarray(0, qDim), qScale);
    const qkv = this.linear(
      x,
      `${p}.qkv`,
      weights,
      qDim + 2 * kvDim,
      spec.hiddenSize,
      bias,
      qScale,
    );
    // v is split straight into its graph output: the runner stores it as is.
    const [q, k, v] = g.opMulti(
      'Split',
      [qkv, g.int64s([qDim, kvDim, kvDim])],
      { axis: 2 },
      { count: 3, outputs: [`${p}.q`, `${p}.k`, presentValueName(layer)] },
    );
    const qNorm = spec.qkNorm ? `${p}.q_norm.weight` : null;
    const kNorm = spec.qkNorm ? `${p}.k_norm.weight` : null;
    const qRot = this.rope(q, spec.numHeads, qNorm, attentionScale);
    const kRot = this.rope(k, spec.numKvHeads, kNorm, 1, presentKeyName(layer));
    g.output(kRot, presentKeyName(layer), DT.FLOAT, ['B', 'Q', kvDim]);
    g.output(v, presentValueName(layer), DT.FLOAT, ['B', 'Q', kvDim]);
    g.input(pastKeyName(layer), DT.FLOAT, ['S', kvDim]);
    g.input(pastValueName(layer), DT.FLOAT, ['S', kvDim]);
    const keys = this.withHistory(pastKeyName(layer), kRot);
    const values = this.withHistory(pastValueName(layer), v);
    const ctx = g.op('Attention', [qRot, keys, values, 'attn_mask'], {
      q_num_heads: spec.numHeads,
      kv_num_heads: spec.numKvHeads,
      // q already carries 1/sqrt(headDim).
      scale: { f: 1 },
    });
    const w = this.weights.float32(`model.layers.${layer}.self_attn.o_proj.weight`);
    return this.linear(ctx, `model.layers.${layer}.o_proj`, [w], spec.hiddenSize, qDim);
  }

  /** [B, Kh+Q, kvDim]: each sequence's history gathered from the pool, then its new rows. */
  private withHistory(pool: string, fresh: string): string {
    const hist = this.g.op('Gather', [pool, 'hist_index'], { axis: 0 });
    return this.g.op('Concat', [hist, fresh], { axis: 1 });
  }

  private mlp(layer: number, x: string): string {
    const { spec, g } = this;
    const p = `model.layers.${layer}.mlp`;
    const inter = spec.intermediateSize;
    const gateUp = ['gate_proj', 'up_proj'].map((n) => this.weights.float32(`${p}.${n}.weight`));
    const gu = this.linear(x, `${p}.gate_up`, gateUp, 2 * inter, spec.hiddenSize);
    const [gate, up] = g.opMulti(
      'Split',
      [gu, g.int64s([inter, inter])],
      { axis: 2 },
      { count: 2 },
    );
    const act = g.op('Mul', [gate, g.op('Sigmoid', [gate])]);
    const down = this.weights.float32(`${p}.down_proj.weight`);
    return this.linear(g.op('Mul', [act, up]), `${p}.down`, [down], spec.hiddenSize, inter);
  }
}

function concatFloats(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function scaleInPlace(values: Float32Array, factor: number): void {
  for (let i = 0; i < values.length; i++) values[i] *= factor;
}

export function buildDecoderGraph(
  spec: ModelSpec,
  weights: WeightSet,
  options: DecoderGraphOptions,
): BuiltModel {
  return new DecoderBuilder(spec, weights, options).build();
}
