/** The few dense kernels the reference forward needs, over row-major Float32Arrays. */

/** out[t, o] = sum_i x[t, i] * w[o, i] (+ bias[o]) — a linear layer with HF's [out, in] weights. */
export function linear(
  x: Float32Array,
  rows: number,
  inDim: number,
  w: Float32Array,
  outDim: number,
  bias: Float32Array | null,
  out: Float32Array,
): void {
  for (let t = 0; t < rows; t++) {
    const xBase = t * inDim;
    const outBase = t * outDim;
    for (let o = 0; o < outDim; o++) {
      const wBase = o * inDim;
      let sum = 0;
      for (let i = 0; i < inDim; i++) sum += x[xBase + i] * w[wBase + i];
      out[outBase + o] = bias ? sum + bias[o] : sum;
    }
  }
}

/** RMSNorm of `count` consecutive vectors of `dim` floats, from x into out (may alias). */
export function rmsNorm(
  x: Float32Array,
  count: number,
  dim: number,
  weight: Float32Array,
  eps: number,
  out: Float32Array,
  offset = 0,
): void {
  for (let r = 0; r < count; r++) {
    const base = offset + r * dim;
    let sumSquares = 0;
    for (let i = 0; i < dim; i++) sumSquares += x[base + i] * x[base + i];
    const scale = 1 / Math.sqrt(sumSquares / dim + eps);
    for (let i = 0; i < dim; i++) out[base + i] = x[base + i] * scale * weight[i];
  }
}

/** In place: gate = silu(gate) * up. */
export function swiglu(gate: Float32Array, up: Float32Array, length: number): void {
  for (let i = 0; i < length; i++) {
    const g = gate[i];
    gate[i] = (g / (1 + Math.exp(-g))) * up[i];
  }
}

export function addInPlace(x: Float32Array, y: Float32Array, length: number): void {
  for (let i = 0; i < length; i++) x[i] += y[i];
}
