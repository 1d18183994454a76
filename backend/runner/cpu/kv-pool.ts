/**
 * The paged KV cache in host memory: per layer, one K and one V array of
 * [numBlocks * blockSize, numKvHeads * headDim] floats, addressed by slot
 * (blockId * blockSize + offset) exactly like the GPU pool, so block tables, slot mappings and
 * prefix sharing from the scheduler apply unchanged.
 */
import type { ModelSpec } from '../../model/config.ts';

const BYTES_PER_FLOAT = 4;

/** KV bytes one block holds across all layers (K and V), for sizing numBlocks from a budget. */
export function estimateKvBlockBytes(spec: ModelSpec, blockSize: number): number {
  return 2 * spec.numLayers * blockSize * spec.numKvHeads * spec.headDim * BYTES_PER_FLOAT;
}

export class KvPool {
  readonly keys: Float32Array[] = [];
  readonly values: Float32Array[] = [];
  readonly numSlots: number;
  readonly rowSize: number;

  constructor(
    spec: ModelSpec,
    readonly numBlocks: number,
    readonly blockSize: number,
  ) {
    this.numSlots = numBlocks * blockSize;
    this.rowSize = spec.numKvHeads * spec.headDim;
    for (let layer = 0; layer < spec.numLayers; layer++) {
      this.keys.push(new Float32Array(this.numSlots * this.rowSize));
      this.values.push(new Float32Array(this.numSlots * this.rowSize));
    }
  }

  get bytes(): number {
    return this.keys.length * 2 * this.numSlots * this.rowSize * BYTES_PER_FLOAT;
  }

  /** Writes rows [T, rowSize] of new K and V for one layer into their slots; -1 skips a row. */
  scatter(layer: number, slots: Int32Array, newKeys: Float32Array, newValues: Float32Array): void {
    const { rowSize } = this;
    const keys = this.keys[layer];
    const values = this.values[layer];
    for (let t = 0; t < slots.length; t++) {
      const slot = slots[t];
      if (slot === -1) continue;
      if (slot < 0 || slot >= this.numSlots) {
        throw new Error(`KV slot ${slot} is outside the pool of ${this.numSlots} slots`);
      }
      keys.set(newKeys.subarray(t * rowSize, (t + 1) * rowSize), slot * rowSize);
      values.set(newValues.subarray(t * rowSize, (t + 1) * rowSize), slot * rowSize);
    }
  }
}
