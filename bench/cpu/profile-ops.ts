/**
 * Where a CPU runner step spends its time: load phases (weights, graph build, session create) and
 * ORT's per-node profile of a few decode steps, summed by op type and by node.
 *
 *   npx tsx bench/cpu/profile-ops.ts [--quantization int4] [--layers 24] [--decode 8] [--prompt 128]
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dummyWeights } from '../../backend/model/loader.ts';
import { groupSequences, planGroup } from '../../backend/runner/cpu/batch-plan.ts';
import { CpuModel } from '../../backend/runner/cpu/cpu-model.ts';
import type { Quantization } from '../../backend/runner/cpu/decoder-graph.ts';
import type { ScheduledSequence } from '../../backend/runner/runner.ts';
import { qwen25HalfBSpec } from './runner-bench-spec.ts';

const { values: args } = parseArgs({
  options: {
    quantization: { type: 'string', default: 'int4' },
    layers: { type: 'string', default: '24' },
    decode: { type: 'string', default: '8' },
    prompt: { type: 'string', default: '128' },
    batch: { type: 'string', default: '1' },
    'quant-block-size': { type: 'string', default: '32' },
    'quant-symmetric': { type: 'boolean', default: false },
    top: { type: 'string', default: '25' },
    threads: { type: 'string', default: '1' },
  },
});

const spec = qwen25HalfBSpec(Number(args.layers));
const blockSize = 16;
const promptLen = Number(args.prompt);
const decodeSteps = Number(args.decode);
const batch = Number(args.batch);
const blocksPerSeq = Math.ceil((promptLen + decodeSteps + 1) / blockSize);

let t = performance.now();
const lap = (label: string) => {
  const now = performance.now();
  console.log(`${label}: ${((now - t) / 1000).toFixed(2)} s`);
  t = now;
};
const weights = dummyWeights(spec, 1);
const prefix = join(tmpdir(), `ort-profile-${process.pid}`);
const model = await CpuModel.create({
  spec,
  weights,
  numBlocks: blocksPerSeq * batch,
  blockSize,
  quantization: args.quantization as Quantization,
  quantBlockSize: Number(args['quant-block-size']) as 32,
  quantSymmetric: args['quant-symmetric'],
  numThreads: Number(args.threads),
  sessionOptions: { enableProfiling: true, profileFilePrefix: prefix },
});
lap('load (weights + graph + session)');

function seq(b: number, start: number, count: number): ScheduledSequence {
  const first = b * blocksPerSeq;
  return {
    seqId: b,
    tokenIds: Int32Array.from({ length: count }, (_, i) => (start + i + b * 7919) % 150000),
    startPosition: start,
    slotMapping: Int32Array.from({ length: count }, (_, i) => first * blockSize + start + i),
    blockTable: Int32Array.from(
      { length: Math.ceil((start + count) / blockSize) },
      (_, i) => first + i,
    ),
    sample: true,
    sampling: {} as ScheduledSequence['sampling'],
    promptTokenIds: new Int32Array(0),
    outputTokenIds: new Int32Array(0),
    bannedTokenIds: null,
    promptLogprobTargets: null,
  };
}
async function run(seqs: ScheduledSequence[]): Promise<void> {
  for (const group of groupSequences(seqs)) {
    await model.forward(planGroup(seqs, group, blockSize, model.rope, null));
  }
}
for (let b = 0; b < batch; b++) await run([seq(b, 0, promptLen)]);
lap(`prefill ${batch} x ${promptLen}`);
for (let i = 0; i < decodeSteps; i++) {
  await run(Array.from({ length: batch }, (_, b) => seq(b, promptLen + i, 1)));
}
lap(`decode ${decodeSteps} steps x ${batch}`);
model.endProfiling();
await model.close();

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  ts: number;
  args?: { op_name?: string };
}
const dir = tmpdir();
const { readdirSync } = await import('node:fs');
const name = readdirSync(dir).find((f) => join(dir, f).startsWith(prefix));
if (!name) throw new Error('ORT wrote no profile');
const events = JSON.parse(readFileSync(join(dir, name), 'utf8')) as ProfileEvent[];
rmSync(join(dir, name));
const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
const decodeRuns = runs.slice(-decodeSteps);
const inDecode = (e: ProfileEvent) =>
  decodeRuns.some((r) => e.ts >= r.ts && e.ts + e.dur <= r.ts + r.dur);
const nodes = events.filter(
  (e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && inDecode(e),
);
const runMs = decodeRuns.reduce((s, r) => s + r.dur, 0) / 1000 / decodeSteps;
const byType = new Map<string, { ms: number; count: number }>();
const byNode = new Map<string, number>();
for (const e of nodes) {
  const type = e.args?.op_name ?? '?';
  const entry = byType.get(type) ?? { ms: 0, count: 0 };
  entry.ms += e.dur / 1000 / decodeSteps;
  entry.count += 1 / decodeSteps;
  byType.set(type, entry);
  const node = e.name.replace(/_kernel_time$/, '');
  byNode.set(node, (byNode.get(node) ?? 0) + e.dur / 1000 / decodeSteps);
}
const kernelMs = [...byType.values()].reduce((s, v) => s + v.ms, 0);
console.log(
  `decode step: ${runMs.toFixed(2)} ms in model_run, ${kernelMs.toFixed(2)} ms in kernels`,
);
console.table(
  Object.fromEntries(
    [...byType.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .map(([k, v]) => [k, { 'ms/step': v.ms.toFixed(3), 'nodes/step': Math.round(v.count) }]),
  ),
);
const top = [...byNode.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top));
console.table(Object.fromEntries(top.map(([k, v]) => [k, { 'ms/step': v.toFixed(3) }])));
