import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './graph-builder.ts';
import { TensorDataType as DT } from './onnx-proto.ts';
import {
  concatQuantized,
  dequantizeMatrix,
  type QuantizeOptions,
  quantizeMatrix,
} from './quantize.ts';

function random(n: number, seed: number): Float32Array {
  let x = seed;
  return Float32Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 31 - 1;
  });
}

/** y = x·Wᵀ + bias through ORT's MatMulNBits over our packed layout (fp32 compute). */
async function matMulNBits(
  x: Float32Array,
  rows: number,
  q: ReturnType<typeof quantizeMatrix>,
  bias: Float32Array,
) {
  const g = new GraphBuilder();
  const blocks = Math.ceil(q.k / q.blockSize);
  const inputs = [
    g.input('x', DT.FLOAT, ['m', q.k]),
    g.initializer('b', q.data, [q.n, blocks, (q.blockSize * q.bits) / 8]),
    g.initializer('s', q.scales, [q.n * blocks]),
  ];
  inputs.push(q.zeroPoints ? g.initializer('z', q.zeroPoints, [q.zeroPoints.length]) : '');
  // The bias is MatMulNBits' sixth input (after the unused g_idx), as the decoder graph passes it.
  inputs.push('', g.initializer('bias', bias, [q.n]));
  const y = g.op(
    'MatMulNBits',
    inputs,
    { K: q.k, N: q.n, bits: q.bits, block_size: q.blockSize, accuracy_level: 0 },
    { domain: 'com.microsoft' },
  );
  g.output(y, 'y', DT.FLOAT, ['m', q.n]);
  const built = g.build();
  const session = await ort.InferenceSession.create(built.modelBytes, {
    externalData: built.externalData,
  });
  const out = await session.run({ x: new ort.Tensor('float32', x, [rows, q.k]) });
  await session.release();
  return out.y.data as Float32Array;
}

const cases: QuantizeOptions[] = [
  { bits: 4, blockSize: 32, symmetric: false },
  { bits: 4, blockSize: 32, symmetric: true },
  { bits: 4, blockSize: 64, symmetric: false },
  { bits: 4, blockSize: 128, symmetric: true },
  { bits: 8, blockSize: 32, symmetric: false },
  { bits: 8, blockSize: 16, symmetric: true },
];

describe.each(cases)('quantizeMatrix %o', (options) => {
  const [n, k, m] = [24, 80, 3];
  const weight = random(n * k, 7);
  const q = quantizeMatrix(weight, n, k, options);

  it('quantises row blocks separately into the same bytes as the whole matrix', () => {
    const split = 10;
    const parts = [weight.subarray(0, split * k), weight.subarray(split * k)];
    const joined = concatQuantized([
      quantizeMatrix(parts[0], split, k, options),
      quantizeMatrix(parts[1], n - split, k, options),
    ]);
    expect(joined.n).toBe(n);
    expect(joined.data).toEqual(q.data);
    expect(joined.scales).toEqual(q.scales);
    expect(joined.zeroPoints).toEqual(q.zeroPoints);
  });

  it('dequantises to within half a step of every weight', () => {
    const back = dequantizeMatrix(q);
    const blocks = Math.ceil(k / options.blockSize);
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < k; c++) {
        const scale = q.scales[r * blocks + Math.floor(c / options.blockSize)];
        expect(Math.abs(back[r * k + c] - weight[r * k + c])).toBeLessThanOrEqual(scale / 2 + 1e-6);
      }
    }
  });

  it('is read by MatMulNBits exactly as dequantizeMatrix reads it, bias added', async () => {
    const x = random(m * k, 11);
    const bias = random(n, 13);
    const y = await matMulNBits(x, m, q, bias);
    const w = dequantizeMatrix(q);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let dot = bias[j];
        for (let c = 0; c < k; c++) dot += x[i * k + c] * w[j * k + c];
        expect(Math.abs(y[i * n + j] - dot)).toBeLessThan(1e-4);
      }
    }
  });
});
