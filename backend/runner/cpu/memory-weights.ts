/**
 * A `WeightSet` over float32 arrays already in memory: how weights handed to `createCpuRunner`
 * cross into the worker thread (transferred, not copied).
 */
import type { WeightSet, WeightTensor } from '../../model/loader.ts';

export interface MemoryTensor {
  shape: number[];
  data: Float32Array;
}

export class MemoryWeights implements WeightSet {
  constructor(private readonly tensors: Map<string, MemoryTensor>) {}

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): { dtype: 'F32'; shape: number[] } {
    return { dtype: 'F32', shape: [...this.locate(name).shape] };
  }

  get(name: string): WeightTensor {
    const t = this.locate(name);
    const data = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    return { name, dtype: 'F32', shape: [...t.shape], data };
  }

  float32(name: string): Float32Array {
    return this.locate(name).data;
  }

  private locate(name: string): MemoryTensor {
    const found = this.tensors.get(name);
    if (!found) throw new Error(`weight tensor ${name} was not handed to the CPU runner`);
    return found;
  }
}

/**
 * Reads every tensor of `weights` as float32, each in its own buffer so it can be transferred to
 * a worker without detaching anything the caller still uses.
 */
export function exportFloat32(weights: WeightSet): {
  tensors: Map<string, MemoryTensor>;
  transfer: ArrayBuffer[];
} {
  const tensors = new Map<string, MemoryTensor>();
  const transfer: ArrayBuffer[] = [];
  for (const name of weights.names()) {
    let data = weights.float32(name);
    const ownsBuffer = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
    if (!ownsBuffer || !(data.buffer instanceof ArrayBuffer)) data = data.slice();
    tensors.set(name, { shape: weights.info(name).shape, data });
    transfer.push(data.buffer as ArrayBuffer);
  }
  return { tensors, transfer };
}
