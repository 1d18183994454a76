/** Exact conversions between the checkpoint's 16-bit floats and float32. */
import type { DType } from './safetensors.ts';

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Every f16 value, so conversion is one lookup per element. */
let f16Table: Float32Array | null = null;

function f16Lookup(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32(h);
  }
  return f16Table;
}

function u16View(bytes: Uint8Array): Uint16Array {
  if (bytes.byteOffset % 2 === 0)
    return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  return new Uint16Array(bytes.slice().buffer);
}

/** Converts raw little-endian tensor bytes of a float dtype to a fresh Float32Array. */
export function toFloat32(bytes: Uint8Array, dtype: DType): Float32Array {
  const n = bytes.byteLength / (dtype === 'F32' ? 4 : 2);
  const out = new Float32Array(n);
  if (dtype === 'F32') {
    new Uint8Array(out.buffer).set(bytes);
  } else if (dtype === 'BF16') {
    const src = u16View(bytes);
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
  } else if (dtype === 'F16') {
    const src = u16View(bytes);
    const table = f16Lookup();
    for (let i = 0; i < n; i++) out[i] = table[src[i]];
  } else {
    throw new Error(`cannot convert ${dtype} to float32`);
  }
  return out;
}

/** float32 → bfloat16 bits, rounding to nearest even (NaN stays NaN). */
export function f32ToBf16Bits(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Raw little-endian bytes of `values` stored as dtype (F32 or BF16). */
export function fromFloat32(values: Float32Array, dtype: 'F32' | 'BF16'): Uint8Array {
  if (dtype === 'F32')
    return new Uint8Array(
      values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength),
    );
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToBf16Bits(values[i]);
  return new Uint8Array(out.buffer);
}
