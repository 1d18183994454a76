/**
 * MatMulNBits / Gemm micro-benchmark: a chain of up/down projections (hidden → inter → hidden) as
 * deep as the model, so weights stream from memory as in a real decode step rather than sitting
 * in L3. Prints wall and process CPU ms per chain run for each quantisation variant.
 *
 *   npx tsx bench/cpu/matmul-micro.ts [--hidden 896] [--inter 4864] [--pairs 24] [--m 1]
 *        [--reps 20] [--threads 2] [variant ...]   (variant: bits:block:sym|asym:accuracy | f32)
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../../backend/runner/cpu/graph-builder.ts';
import { TensorDataType as DT } from '../../backend/runner/cpu/onnx-proto.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    hidden: { type: 'string', default: '896' },
    inter: { type: 'string', default: '4864' },
    pairs: { type: 'string', default: '24' },
    m: { type: 'string', default: '1' },
    reps: { type: 'string', default: '20' },
    threads: { type: 'string', default: '2' },
    spin: { type: 'string', default: '1' },
  },
});
const hidden = Number(args.hidden);
const inter = Number(args.inter);
const M = Number(args.m);

function projection(g: GraphBuilder, x: string, id: string, n: number, k: number, cfg: string) {
  if (cfg === 'f32') {
    const w = new Float32Array(n * k).map(() => Math.random() - 0.5);
    return g.op('Gemm', [x, g.initializer(`${id}.w`, w, [n, k])], { transB: 1 });
  }
  const [bitsS, blockS, mode, accS] = cfg.split(':');
  const bits = Number(bitsS);
  const block = Number(blockS);
  const blocks = Math.ceil(k / block);
  const data = new Uint8Array((n * blocks * block * bits) / 8).map(() => (Math.random() * 256) | 0);
  const inputs = [
    x,
    g.initializer(`${id}.b`, data, [n, blocks, (block * bits) / 8]),
    g.initializer(`${id}.s`, new Float32Array(n * blocks).fill(1 / k), [n * blocks]),
  ];
  if (mode === 'asym') {
    const zb = bits === 4 ? Math.ceil(blocks / 2) : blocks;
    inputs.push(g.initializer(`${id}.z`, new Uint8Array(n * zb).fill(0x88), [n * zb]));
  }
  const attrs = { K: k, N: n, bits, block_size: block, accuracy_level: Number(accS) };
  return g.op('MatMulNBits', inputs, attrs, { domain: 'com.microsoft' });
}

async function time(cfg: string): Promise<void> {
  const g = new GraphBuilder();
  let y = g.input('x', DT.FLOAT, ['m', hidden]);
  for (let p = 0; p < Number(args.pairs); p++) {
    y = projection(g, y, `up${p}`, inter, hidden, cfg);
    y = projection(g, y, `down${p}`, hidden, inter, cfg);
  }
  g.output(y, 'y', DT.FLOAT, ['m', hidden]);
  const built = g.build();
  const session = await ort.InferenceSession.create(built.modelBytes, {
    externalData: built.externalData,
    intraOpNumThreads: Number(args.threads),
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: args.spin } } },
  });
  const x = new ort.Tensor('float32', new Float32Array(M * hidden).fill(0.01), [M, hidden]);
  for (let i = 0; i < 3; i++) await session.run({ x });
  const reps = Number(args.reps);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await session.run({ x });
  const wallMs = (performance.now() - t0) / reps;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / reps;
  console.log(
    `${cfg.padEnd(14)} m=${M}: ${wallMs.toFixed(2)} ms wall, ${cpuMs.toFixed(2)} ms CPU per chain`,
  );
  await session.release();
}

for (const cfg of positionals.length > 0 ? positionals : ['4:32:asym:4', '4:128:sym:4']) {
  await time(cfg);
}
