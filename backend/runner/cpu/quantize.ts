/**
 * Weight-only block quantisation into the layout ONNX Runtime's MatMulNBits expects:
 * B is [N][blocksPerRow][blockSize * bits / 8] (4-bit: two values a byte, low nibble first),
 * one float scale per block, and optional zero points (4-bit: packed two a byte per row).
 * Without zero points MatMulNBits assumes the midpoint (8 or 128): that is the symmetric mode.
 */

export interface QuantizeOptions {
  bits: 4 | 8;
  blockSize: 16 | 32 | 64 | 128;
  symmetric: boolean;
}

export interface QuantizedMatrix {
  /** Output features (rows of the HF weight). */
  n: number;
  /** Input features. */
  k: number;
  bits: 4 | 8;
  blockSize: number;
  data: Uint8Array;
  scales: Float32Array;
  /** null in symmetric mode. */
  zeroPoints: Uint8Array | null;
}

/** Scale and zero point of one block, written to `out` (no allocation per block). */
function blockParams(
  weight: Float32Array,
  start: number,
  end: number,
  maxQ: number,
  symmetric: boolean,
  out: Float64Array,
): void {
  let min = 0;
  let max = 0;
  for (let i = start; i < end; i++) {
    const x = weight[i];
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const mid = (maxQ + 1) / 2;
  if (symmetric) {
    const absMax = Math.max(-min, max);
    out[0] = absMax === 0 ? 1 : absMax / (mid - 1);
    out[1] = mid;
    return;
  }
  const range = max - min;
  if (range === 0) {
    out[0] = 1;
    out[1] = mid;
    return;
  }
  const scale = range / maxQ;
  out[0] = scale;
  out[1] = Math.min(maxQ, Math.max(0, Math.round(-min / scale)));
}

/**
 * round(x / scale) + zeroPoint, clamped to [0, maxQ], given `offset` = zeroPoint + 0.5: a multiply
 * by the inverse scale and an integer truncation cost a fraction of Math.round and a division.
 */
function level(x: number, inverseScale: number, offset: number, maxQ: number): number {
  // Truncation is floor for the non-negative values that survive the clamp, and stays int32.
  const q = (x * inverseScale + offset) | 0;
  return q < 0 ? 0 : Math.min(q, maxQ);
}

/** Writes one block's levels at `blob`; padding past `end` quantises to the zero point (0.0). */
function packBlock(
  weight: Float32Array,
  start: number,
  end: number,
  blockSize: number,
  bits: 4 | 8,
  inverse: number,
  offset: number,
  data: Uint8Array,
  blob: number,
): void {
  const maxQ = (1 << bits) - 1;
  const full = end - start === blockSize;
  if (bits === 8) {
    for (let i = 0; i < blockSize; i++) {
      const x = full || start + i < end ? weight[start + i] : 0;
      data[blob + i] = level(x, inverse, offset, maxQ);
    }
    return;
  }
  if (full) {
    for (let i = 0; i < blockSize; i += 2) {
      const lo = level(weight[start + i], inverse, offset, maxQ);
      data[blob + (i >> 1)] = lo | (level(weight[start + i + 1], inverse, offset, maxQ) << 4);
    }
    return;
  }
  for (let i = 0; i < blockSize; i += 2) {
    const lo = start + i < end ? weight[start + i] : 0;
    const hi = start + i + 1 < end ? weight[start + i + 1] : 0;
    data[blob + (i >> 1)] =
      level(lo, inverse, offset, maxQ) | (level(hi, inverse, offset, maxQ) << 4);
  }
}

/**
 * Quantises a row-major [n, k] float matrix (the HF [out, in] layout). Loops are flat over typed
 * arrays, with no allocation per block: a 0.5B model quantises in seconds, not tens of seconds.
 */
export function quantizeMatrix(
  weight: Float32Array,
  n: number,
  k: number,
  options: QuantizeOptions,
): QuantizedMatrix {
  const { bits, blockSize, symmetric } = options;
  const maxQ = (1 << bits) - 1;
  const blocksPerRow = Math.ceil(k / blockSize);
  const blobBytes = (blockSize * bits) / 8;
  const data = new Uint8Array(n * blocksPerRow * blobBytes);
  const scales = new Float32Array(n * blocksPerRow);
  const zpBytesPerRow = bits === 4 ? Math.ceil(blocksPerRow / 2) : blocksPerRow;
  const zeroPoints = symmetric ? null : new Uint8Array(n * zpBytesPerRow);
  const params = new Float64Array(2);
  for (let r = 0; r < n; r++) {
    const rowEnd = (r + 1) * k;
    for (let b = 0; b < blocksPerRow; b++) {
      const start = r * k + b * blockSize;
      const end = Math.min(start + blockSize, rowEnd);
      blockParams(weight, start, end, maxQ, symmetric, params);
      const scale = params[0];
      const zeroPoint = params[1];
      scales[r * blocksPerRow + b] = scale;
      if (zeroPoints) {
        if (bits === 8) zeroPoints[r * zpBytesPerRow + b] = zeroPoint;
        else zeroPoints[r * zpBytesPerRow + (b >> 1)] |= zeroPoint << ((b & 1) * 4);
      }
      const blob = (r * blocksPerRow + b) * blobBytes;
      packBlock(weight, start, end, blockSize, bits, 1 / scale, zeroPoint + 0.5, data, blob);
    }
  }
  return { n, k, bits, blockSize, data, scales, zeroPoints };
}

/**
 * Row-wise concatenation of quantised matrices with the same k and options: rows quantise
 * independently, so this equals quantising the concatenated floats, without building that copy.
 */
export function concatQuantized(parts: QuantizedMatrix[]): QuantizedMatrix {
  const [first] = parts;
  const join = <T extends Uint8Array | Float32Array>(arrays: T[], make: (n: number) => T): T => {
    const out = make(arrays.reduce((sum, a) => sum + a.length, 0));
    let offset = 0;
    for (const a of arrays) {
      out.set(a, offset);
      offset += a.length;
    }
    return out;
  };
  for (const p of parts) {
    if (p.k !== first.k || p.bits !== first.bits || p.blockSize !== first.blockSize) {
      throw new Error('concatQuantized needs parts with the same k, bits and block size');
    }
  }
  const zeroPoints = parts.map((p) => p.zeroPoints);
  return {
    ...first,
    n: parts.reduce((sum, p) => sum + p.n, 0),
    data: join(
      parts.map((p) => p.data),
      (n) => new Uint8Array(n),
    ),
    scales: join(
      parts.map((p) => p.scales),
      (n) => new Float32Array(n),
    ),
    zeroPoints: zeroPoints.every((z) => z !== null)
      ? join(zeroPoints as Uint8Array[], (n) => new Uint8Array(n))
      : null,
  };
}

/** The float matrix a quantised one stands for (tests and accuracy reports). */
export function dequantizeMatrix(m: QuantizedMatrix): Float32Array {
  const { n, k, bits, blockSize, data, scales, zeroPoints } = m;
  const blocksPerRow = Math.ceil(k / blockSize);
  const blobBytes = (blockSize * bits) / 8;
  const zpBytesPerRow = bits === 4 ? Math.ceil(blocksPerRow / 2) : blocksPerRow;
  const mid = 1 << (bits - 1);
  const out = new Float32Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) {
      const b = Math.floor(c / blockSize);
      const i = c % blockSize;
      const blob = (r * blocksPerRow + b) * blobBytes;
      const q = bits === 8 ? data[blob + i] : (data[blob + (i >> 1)] >> ((i & 1) * 4)) & 15;
      let zp = mid;
      if (zeroPoints) {
        zp =
          bits === 8
            ? zeroPoints[r * zpBytesPerRow + b]
            : (zeroPoints[r * zpBytesPerRow + (b >> 1)] >> ((b & 1) * 4)) & 15;
      }
      out[r * k + c] = (q - zp) * scales[r * blocksPerRow + b];
    }
  }
  return out;
}
