/**
 * The paged KV cache as plain Float32Arrays and causal attention that reads it through a block
 * table, exactly as a GPU kernel would: slot = blockTable[position / blockSize] * blockSize +
 * position % blockSize, each slot holding numKvHeads × headDim floats per layer for K and for V.
 */
import type { ModelSpec } from '../../model/config.ts';

export class PagedKvCache {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  /** Floats per slot (numKvHeads × headDim). */
  readonly slotWidth: number;

  constructor(
    spec: ModelSpec,
    readonly numBlocks: number,
    readonly blockSize: number,
  ) {
    this.slotWidth = spec.numKvHeads * spec.headDim;
    const perLayer = numBlocks * blockSize * this.slotWidth;
    this.keys = Array.from({ length: spec.numLayers }, () => new Float32Array(perLayer));
    this.values = Array.from({ length: spec.numLayers }, () => new Float32Array(perLayer));
  }

  get bytes(): number {
    return this.keys.length * 2 * this.keys[0].byteLength;
  }

  get numSlots(): number {
    return this.numBlocks * this.blockSize;
  }

  /** Stores one token's K and V (slotWidth floats each, from the given offsets). */
  write(
    layer: number,
    slot: number,
    k: Float32Array,
    kOffset: number,
    v: Float32Array,
    vOffset: number,
  ): void {
    const at = slot * this.slotWidth;
    this.keys[layer].set(k.subarray(kOffset, kOffset + this.slotWidth), at);
    this.values[layer].set(v.subarray(vOffset, vOffset + this.slotWidth), at);
  }

  slotOf(blockTable: Int32Array, position: number): number {
    return (
      blockTable[Math.floor(position / this.blockSize)] * this.blockSize +
      (position % this.blockSize)
    );
  }
}

export interface AttentionShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** null: full causal attention. */
  slidingWindow: number | null;
}

/**
 * Attention of one query token at `position` over positions [start, position] of its sequence,
 * all heads, writing numHeads × headDim floats to out at outOffset. `scores` is scratch of at least
 * position + 1 floats.
 */
export function attendOne(
  cache: PagedKvCache,
  layer: number,
  shape: AttentionShape,
  q: Float32Array,
  qOffset: number,
  position: number,
  blockTable: Int32Array,
  out: Float32Array,
  outOffset: number,
  scores: Float32Array,
): void {
  const { numHeads, numKvHeads, headDim } = shape;
  const groupSize = numHeads / numKvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const start = shape.slidingWindow ? Math.max(0, position - shape.slidingWindow + 1) : 0;
  const keys = cache.keys[layer];
  const values = cache.values[layer];
  for (let h = 0; h < numHeads; h++) {
    const qBase = qOffset + h * headDim;
    const kvHeadOffset = Math.floor(h / groupSize) * headDim;
    let max = Number.NEGATIVE_INFINITY;
    for (let p = start; p <= position; p++) {
      const kBase = cache.slotOf(blockTable, p) * cache.slotWidth + kvHeadOffset;
      let dot = 0;
      for (let i = 0; i < headDim; i++) dot += q[qBase + i] * keys[kBase + i];
      const s = dot * scale;
      scores[p - start] = s;
      if (s > max) max = s;
    }
    let sum = 0;
    for (let p = 0; p <= position - start; p++) {
      scores[p] = Math.exp(scores[p] - max);
      sum += scores[p];
    }
    const oBase = outOffset + h * headDim;
    out.fill(0, oBase, oBase + headDim);
    for (let p = start; p <= position; p++) {
      const weight = scores[p - start] / sum;
      const vBase = cache.slotOf(blockTable, p) * cache.slotWidth + kvHeadOffset;
      for (let i = 0; i < headDim; i++) out[oBase + i] += weight * values[vBase + i];
    }
  }
}
