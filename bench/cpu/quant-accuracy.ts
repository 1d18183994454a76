/**
 * Accuracy of weight-only quantisation against fp32 on the same graph: max |logit difference| and
 * top-1 agreement over every position of a teacher-forced prompt, for the fixture families and a
 * Qwen2.5-0.5B-shaped random model.
 *
 *   npx tsx bench/cpu/quant-accuracy.ts [--tokens 64] [--qwen-layers 24] [--skip-qwen]
 *        [--skip-fixtures] [--variants 'int8 b32 asym,int4 b32 asym'] [--model DIR ...]
 *
 * `--model` adds checkpoints (e.g. models/demo, trained weights with a real value distribution,
 * where block size and symmetry matter more than on uniform random weights).
 */
import { parseArgs } from 'node:util';
import { loadModelSpec, type ModelSpec } from '../../backend/model/config.ts';
import { dummyWeights, loadWeights, type WeightSet } from '../../backend/model/loader.ts';
import { groupSequences, planGroup } from '../../backend/runner/cpu/batch-plan.ts';
import { CpuModel, type CpuModelOptions } from '../../backend/runner/cpu/cpu-model.ts';
import type { ScheduledSequence } from '../../backend/runner/runner.ts';
import { fixtureFamilies, fixtureModelCache } from '../../test/fixtures/models.ts';
import { qwen25HalfBSpec } from './runner-bench-spec.ts';

const { values: args } = parseArgs({
  options: {
    tokens: { type: 'string', default: '64' },
    'qwen-layers': { type: 'string', default: '24' },
    'skip-qwen': { type: 'boolean', default: false },
    'skip-fixtures': { type: 'boolean', default: false },
    variants: { type: 'string' },
    model: { type: 'string', multiple: true },
  },
});

type Variant = Pick<
  CpuModelOptions,
  'quantization' | 'quantBlockSize' | 'quantSymmetric' | 'accuracyLevel'
>;
const variants: Record<string, Variant> = {
  'int8 b32 asym': { quantization: 'int8', quantBlockSize: 32 },
  'int8 b32 asym fp32-compute': { quantization: 'int8', quantBlockSize: 32, accuracyLevel: 0 },
  'int4 b32 asym fp32-compute': { quantization: 'int4', quantBlockSize: 32, accuracyLevel: 0 },
  'int4 b32 asym': { quantization: 'int4', quantBlockSize: 32 },
  'int4 b32 sym': { quantization: 'int4', quantBlockSize: 32, quantSymmetric: true },
  'int4 b64 asym': { quantization: 'int4', quantBlockSize: 64 },
  'int4 b64 sym': { quantization: 'int4', quantBlockSize: 64, quantSymmetric: true },
  'int4 b128 asym': { quantization: 'int4', quantBlockSize: 128 },
  'int4 b128 sym': { quantization: 'int4', quantBlockSize: 128, quantSymmetric: true },
  'int8 b128 sym': { quantization: 'int8', quantBlockSize: 128, quantSymmetric: true },
};

/** Logits at every position of one prompt, computed in a single prefill. */
async function promptLogits(model: CpuModel, tokens: number[]): Promise<Float32Array> {
  const blockSize = model.pool.blockSize;
  const seq: ScheduledSequence = {
    seqId: 0,
    tokenIds: Int32Array.from(tokens),
    startPosition: 0,
    slotMapping: Int32Array.from(tokens, (_, i) => i),
    blockTable: Int32Array.from({ length: Math.ceil(tokens.length / blockSize) }, (_, i) => i),
    sample: false,
    sampling: {} as ScheduledSequence['sampling'],
    promptTokenIds: Int32Array.from(tokens),
    outputTokenIds: new Int32Array(0),
    bannedTokenIds: null,
    // Every position's row is wanted (the last one predicts nothing in the prompt, so it is left out).
    promptLogprobTargets: Int32Array.from(tokens.slice(1)),
  };
  const [group] = groupSequences([seq]);
  return model.forward(planGroup([seq], group, blockSize, model.rope, null));
}

/** KL(p ‖ q) between the softmaxes of two logit rows. */
function klDivergence(p: Float32Array, q: Float32Array): number {
  const logNorm = (x: Float32Array) => {
    let max = Number.NEGATIVE_INFINITY;
    for (const v of x) max = Math.max(max, v);
    let sum = 0;
    for (const v of x) sum += Math.exp(v - max);
    return max + Math.log(sum);
  };
  const [zp, zq] = [logNorm(p), logNorm(q)];
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const lp = p[i] - zp;
    kl += Math.exp(lp) * (lp - (q[i] - zq));
  }
  return kl;
}

function compare(reference: Float32Array, quantized: Float32Array, vocab: number) {
  let maxDiff = 0;
  let agree = 0;
  let kl = 0;
  const rows = reference.length / vocab;
  for (let r = 0; r < rows; r++) {
    let bestRef = 0;
    let bestQ = 0;
    for (let v = 0; v < vocab; v++) {
      const i = r * vocab + v;
      maxDiff = Math.max(maxDiff, Math.abs(reference[i] - quantized[i]));
      if (reference[i] > reference[r * vocab + bestRef]) bestRef = v;
      if (quantized[i] > quantized[r * vocab + bestQ]) bestQ = v;
    }
    if (bestRef === bestQ) agree++;
    const row = (x: Float32Array) => x.subarray(r * vocab, (r + 1) * vocab);
    kl += klDivergence(row(reference), row(quantized));
  }
  let maxRef = 0;
  for (const x of reference) maxRef = Math.max(maxRef, Math.abs(x));
  return {
    maxAbsDiff: maxDiff,
    maxAbsLogit: maxRef,
    top1Agreement: agree / rows,
    meanKlDivergence: kl / rows,
    positions: rows,
  };
}

async function measure(
  name: string,
  spec: ModelSpec,
  weights: () => WeightSet | Promise<WeightSet>,
) {
  const n = Number(args.tokens);
  let x = 12345;
  const tokens = Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % spec.vocabSize;
  });
  const base = { spec, numBlocks: Math.ceil(n / 16) + 1, blockSize: 16 };
  const fp32Model = await CpuModel.create({
    ...base,
    weights: await weights(),
    quantization: 'none',
  });
  const reference = await promptLogits(fp32Model, tokens);
  await fp32Model.close();
  const wanted = args.variants?.split(',');
  for (const [label, variant] of Object.entries(variants)) {
    if (wanted && !wanted.includes(label)) continue;
    const model = await CpuModel.create({ ...base, weights: await weights(), ...variant });
    const result = compare(reference, await promptLogits(model, tokens), spec.vocabSize);
    await model.close();
    console.log(JSON.stringify({ model: name, variant: label, ...result }));
  }
}

for (const family of args['skip-fixtures'] ? [] : fixtureFamilies) {
  const dir = fixtureModelCache(family, 3);
  const spec = await loadModelSpec(dir);
  await measure(`fixture ${family}`, spec, () => loadWeights(dir, spec));
}
for (const dir of args.model ?? []) {
  const spec = await loadModelSpec(dir);
  await measure(dir, spec, () => loadWeights(dir, spec));
}
if (!args['skip-qwen']) {
  const spec = qwen25HalfBSpec(Number(args['qwen-layers']));
  await measure(`qwen2.5-0.5b-shaped (${spec.numLayers} layers)`, spec, () =>
    dummyWeights(spec, 1),
  );
}
