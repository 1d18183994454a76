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

function quantizeBlock(
  row: Float32Array,
  start: number,
  end: number,
  maxQ: number,
  symmetric: boolean,
): { scale: number; zeroPoint: number } {
  let min = 0;
  let max = 0;
  for (let i = start; i < end; i++) {
    if (row[i] < min) min = row[i];
    if (row[i] > max) max = row[i];
  }
  const mid = (maxQ + 1) / 2;
  if (symmetric) {
    const absMax = Math.max(-min, max);
    return { scale: absMax === 0 ? 1 : absMax / (mid - 1), zeroPoint: mid };
  }
  const range = max - min;
  if (range === 0) return { scale: 1, zeroPoint: mid };
  const scale = range / maxQ;
  return { scale, zeroPoint: Math.min(maxQ, Math.max(0, Math.round(-min / scale))) };
}

/** Quantises a row-major [n, k] float matrix (the HF [out, in] layout). */
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
  for (let r = 0; r < n; r++) {
    const row = weight.subarray(r * k, (r + 1) * k);
    for (let b = 0; b < blocksPerRow; b++) {
      const start = b * blockSize;
      const end = Math.min(start + blockSize, k);
      const { scale, zeroPoint } = quantizeBlock(row, start, end, maxQ, symmetric);
      scales[r * blocksPerRow + b] = scale;
      if (zeroPoints) {
        if (bits === 8) zeroPoints[r * zpBytesPerRow + b] = zeroPoint;
        else zeroPoints[r * zpBytesPerRow + (b >> 1)] |= zeroPoint << ((b & 1) * 4);
      }
      const blob = (r * blocksPerRow + b) * blobBytes;
      for (let i = 0; i < blockSize; i++) {
        // Padding past k quantises to the zero point, i.e. to 0.0.
        const x = start + i < end ? row[start + i] : 0;
        const q = Math.min(maxQ, Math.max(0, Math.round(x / scale) + zeroPoint));
        if (bits === 8) data[blob + i] = q;
        else data[blob + (i >> 1)] |= q << ((i & 1) * 4);
      }
    }
  }
  return { n, k, bits, blockSize, data, scales, zeroPoints };
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
