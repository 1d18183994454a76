/**
 * One forward pass over a flat batch of tokens from many sequences (ragged prefill chunks and
 * decodes together), the way a GPU runner lays it out: every token's K/V is written to its slot
 * first, then each token attends over its own sequence's cache positions [0, position].
 */
import type { ModelSpec } from '../../model/config.ts';
import { addInPlace, linear, rmsNorm, swiglu } from './kernels.ts';
import { type AttentionShape, attendOne, type PagedKvCache } from './paged-attention.ts';
import { applyRope, type RopeTables } from './rope.ts';
import type { LayerWeights, ModelWeights } from './weights.ts';

export interface FlatBatch {
  tokenIds: Int32Array;
  positions: Int32Array;
  slots: Int32Array;
  /** The block table of each token's sequence. */
  blockTables: Int32Array[];
}

export class ReferenceForward {
  private readonly shape: AttentionShape;
  private readonly qDim: number;
  private readonly kvDim: number;

  constructor(
    private readonly spec: ModelSpec,
    private readonly weights: ModelWeights,
    private readonly rope: RopeTables,
    private readonly cache: PagedKvCache,
  ) {
    this.shape = {
      numHeads: spec.numHeads,
      numKvHeads: spec.numKvHeads,
      headDim: spec.headDim,
      slidingWindow: spec.slidingWindow ?? null,
    };
    this.qDim = spec.numHeads * spec.headDim;
    this.kvDim = spec.numKvHeads * spec.headDim;
  }

  /** Runs the layers; returns the final hidden states (before the final norm), [numTokens, hidden]. */
  hidden(batch: FlatBatch): Float32Array {
    const h = this.spec.hiddenSize;
    const numTokens = batch.tokenIds.length;
    const x = new Float32Array(numTokens * h);
    for (let t = 0; t < numTokens; t++) {
      const id = batch.tokenIds[t];
      x.set(this.weights.embed.subarray(id * h, (id + 1) * h), t * h);
    }
    this.weights.layers.forEach((layer, i) => {
      this.attentionBlock(i, layer, x, batch);
      this.mlpBlock(layer, x, numTokens);
    });
    return x;
  }

  /** Final norm + LM head for one row of hidden states. */
  logits(hidden: Float32Array, row: number): Float32Array {
    const h = this.spec.hiddenSize;
    const normed = new Float32Array(h);
    rmsNorm(
      hidden.subarray(row * h, (row + 1) * h),
      1,
      h,
      this.weights.finalNorm,
      this.spec.rmsNormEps,
      normed,
    );
    const out = new Float32Array(this.spec.vocabSize);
    linear(normed, 1, h, this.weights.lmHead, this.spec.vocabSize, null, out);
    return out;
  }

  private attentionBlock(
    layerIndex: number,
    layer: LayerWeights,
    x: Float32Array,
    batch: FlatBatch,
  ): void {
    const { hiddenSize: h, headDim, rmsNormEps: eps } = this.spec;
    const n = batch.tokenIds.length;
    const normed = new Float32Array(n * h);
    rmsNorm(x, n, h, layer.inputNorm, eps, normed);
    const q = new Float32Array(n * this.qDim);
    const k = new Float32Array(n * this.kvDim);
    const v = new Float32Array(n * this.kvDim);
    linear(normed, n, h, layer.q, this.qDim, layer.qBias, q);
    linear(normed, n, h, layer.k, this.kvDim, layer.kBias, k);
    linear(normed, n, h, layer.v, this.kvDim, layer.vBias, v);
    if (layer.qNorm && layer.kNorm) {
      rmsNorm(q, n * this.spec.numHeads, headDim, layer.qNorm, eps, q);
      rmsNorm(k, n * this.spec.numKvHeads, headDim, layer.kNorm, eps, k);
    }
    const cos = new Float32Array(headDim / 2);
    const sin = new Float32Array(headDim / 2);
    for (let t = 0; t < n; t++) {
      const position = batch.positions[t];
      applyRope(q, t * this.qDim, this.spec.numHeads, headDim, position, this.rope, cos, sin);
      applyRope(k, t * this.kvDim, this.spec.numKvHeads, headDim, position, this.rope, cos, sin);
      this.cache.write(layerIndex, batch.slots[t], k, t * this.kvDim, v, t * this.kvDim);
    }
    const attended = new Float32Array(n * this.qDim);
    let maxPosition = 0;
    for (const p of batch.positions) maxPosition = Math.max(maxPosition, p);
    const scores = new Float32Array(maxPosition + 1);
    for (let t = 0; t < n; t++) {
      attendOne(
        this.cache,
        layerIndex,
        this.shape,
        q,
        t * this.qDim,
        batch.positions[t],
        batch.blockTables[t],
        attended,
        t * this.qDim,
        scores,
      );
    }
    const projected = new Float32Array(n * h);
    linear(attended, n, this.qDim, layer.o, h, null, projected);
    addInPlace(x, projected, n * h);
  }

  private mlpBlock(layer: LayerWeights, x: Float32Array, n: number): void {
    const { hiddenSize: h, intermediateSize: inter } = this.spec;
    const normed = new Float32Array(n * h);
    rmsNorm(x, n, h, layer.postNorm, this.spec.rmsNormEps, normed);
    const gate = new Float32Array(n * inter);
    const up = new Float32Array(n * inter);
    linear(normed, n, h, layer.gate, inter, null, gate);
    linear(normed, n, h, layer.up, inter, null, up);
    swiglu(gate, up, n * inter);
    const down = new Float32Array(n * h);
    linear(gate, n, inter, layer.down, h, null, down);
    addInPlace(x, down, n * h);
  }
}
