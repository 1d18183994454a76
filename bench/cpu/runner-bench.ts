/**
 * CPU runner micro-benchmark on a Qwen2.5-0.5B-shaped random model: prompt processing, single-
 * stream decode and batched decode (8 and 16 sequences) through the real worker-thread runner.
 *
 *   npx tsx bench/cpu/runner-bench.ts [--quantization none|int4|int8] [--threads N]
 *        [--prompt 256] [--decode 32] [--batches 8,16] [--layers 24] [--out results.json]
 *        [--quant-block-size 32] [--quant-symmetric] [--accuracy-level 4] [--spin on|off]
 *        [--model DIR]   (a checkpoint directory instead of the random Qwen2.5-0.5B shape)
 *
 * Load time is split: generating the random weights (a stand-in for reading a checkpoint) and
 * starting the runner (quantisation, graph, ORT session) are timed apart.
 */
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadModelSpec } from '../../backend/model/config.ts';
import { dummyWeights } from '../../backend/model/loader.ts';
import { greedy } from '../../backend/runner/contract-driver.ts';
import {
  createCpuRunner,
  defaultNumThreads,
  type Quantization,
} from '../../backend/runner/cpu/cpu-runner.ts';
import { exportFloat32, MemoryWeights } from '../../backend/runner/cpu/memory-weights.ts';
import type { Runner, ScheduledSequence, SchedulerOutput } from '../../backend/runner/runner.ts';
import { qwen25HalfBSpec } from './runner-bench-spec.ts';

const { values: args } = parseArgs({
  options: {
    quantization: { type: 'string', default: 'int4' },
    threads: { type: 'string' },
    prompt: { type: 'string', default: '256' },
    decode: { type: 'string', default: '32' },
    batches: { type: 'string', default: '8,16' },
    layers: { type: 'string', default: '24' },
    'quant-block-size': { type: 'string' },
    'quant-symmetric': { type: 'boolean' },
    'accuracy-level': { type: 'string' },
    spin: { type: 'string' },
    model: { type: 'string' },
    out: { type: 'string' },
  },
});

const blockSize = 16;
let vocabSize = 150000;
const optionalNumber = (value: string | undefined) =>
  value === undefined ? undefined : Number(value);

/** A sequence with its own contiguous run of blocks. */
class BenchSequence {
  readonly tokens: number[];
  computed = 0;
  constructor(
    readonly seqId: number,
    prompt: number[],
    readonly firstBlock: number,
  ) {
    this.tokens = [...prompt];
  }

  schedule(count: number): ScheduledSequence {
    const start = this.computed;
    const end = start + count;
    const numBlocks = Math.ceil(end / blockSize);
    return {
      seqId: this.seqId,
      tokenIds: Int32Array.from(this.tokens.slice(start, end)),
      startPosition: start,
      slotMapping: Int32Array.from(
        { length: count },
        (_, i) => this.firstBlock * blockSize + start + i,
      ),
      blockTable: Int32Array.from({ length: numBlocks }, (_, i) => this.firstBlock + i),
      sample: end === this.tokens.length,
      sampling: greedy,
      promptTokenIds: new Int32Array(0),
      outputTokenIds: new Int32Array(0),
      bannedTokenIds: null,
      promptLogprobTargets: null,
    };
  }
}

let stepNumber = 0;
async function step(runner: Runner, seqs: BenchSequence[], counts: number[]): Promise<void> {
  const sequences = seqs.map((s, i) => s.schedule(counts[i]));
  const batch: SchedulerOutput = {
    step: stepNumber++,
    sequences,
    numBatchedTokens: counts.reduce((a, b) => a + b, 0),
  };
  const out = await runner.execute(batch);
  seqs.forEach((s, i) => {
    s.computed += counts[i];
    const sampled = out.sampled[i];
    if (sampled) s.tokens.push(sampled.tokenId);
  });
}

function randomTokens(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % vocabSize;
  });
}

const cpuSeconds: Record<string, number> = {};

/**
 * Wall seconds of `fn`; also records the process's CPU seconds (worker included) under `label`,
 * which says how much work a step is when other processes share the cores.
 */
async function timeIt(label: string, fn: () => Promise<void>): Promise<number> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const cpu = process.cpuUsage(cpu0);
  cpuSeconds[label] = (cpu.user + cpu.system) / 1e6;
  return (performance.now() - t0) / 1000;
}

async function main(): Promise<void> {
  const quantization = args.quantization as Quantization;
  const numThreads = args.threads ? Number(args.threads) : defaultNumThreads();
  const promptLen = Number(args.prompt);
  const decodeSteps = Number(args.decode);
  const batchSizes = args.batches.split(',').filter(Boolean).map(Number);
  const spec = args.model ? await loadModelSpec(args.model) : qwen25HalfBSpec(Number(args.layers));
  vocabSize = spec.vocabSize;
  const maxBatch = Math.max(1, ...batchSizes);
  const blocksPerSeq = Math.ceil((promptLen + decodeSteps + 1) / blockSize);
  const numBlocks = blocksPerSeq * (maxBatch + 1);

  // Random weights are materialised first, so the runner's own start-up is timed alone.
  const weightStart = performance.now();
  const weights = args.model
    ? null
    : new MemoryWeights(exportFloat32(dummyWeights(spec, 1)).tensors);
  const weightSeconds = (performance.now() - weightStart) / 1000;
  const quantOptions = {
    quantBlockSize: optionalNumber(args['quant-block-size']) as 32 | undefined,
    quantSymmetric: args['quant-symmetric'],
    accuracyLevel: optionalNumber(args['accuracy-level']) as 4 | undefined,
    allowSpinning: args.spin === undefined ? undefined : args.spin === 'on',
  };
  const loadStart = performance.now();
  const runner = await createCpuRunner({
    spec,
    ...(weights ? { weights } : { modelDir: args.model }),
    numBlocks,
    blockSize,
    quantization,
    numThreads,
    ...quantOptions,
  });
  const loadSeconds = (performance.now() - loadStart) / 1000;

  // Warm-up: ORT allocates and tunes on the first runs of each shape family.
  const warm = new BenchSequence(0, randomTokens(16, 99), 0);
  await step(runner, [warm], [16]);
  for (let i = 0; i < 3; i++) await step(runner, [warm], [1]);

  const single = new BenchSequence(1, randomTokens(promptLen, 1), 0);
  const prefillSeconds = await timeIt('prompt', () => step(runner, [single], [promptLen]));
  const decodeSeconds = await timeIt('decode x1', async () => {
    for (let i = 0; i < decodeSteps; i++) await step(runner, [single], [1]);
  });

  const batched: Record<string, number> = {};
  for (const size of batchSizes) {
    const seqs = Array.from(
      { length: size },
      (_, i) => new BenchSequence(100 + i, randomTokens(promptLen, 10 + i), i * blocksPerSeq),
    );
    for (const s of seqs) await step(runner, [s], [promptLen]);
    const seconds = await timeIt(`decode x${size}`, async () => {
      for (let i = 0; i < decodeSteps; i++)
        await step(
          runner,
          seqs,
          seqs.map(() => 1),
        );
    });
    batched[size] = (size * decodeSteps) / seconds;
  }
  await runner.close();

  const result = {
    benchmark: 'cpu-runner',
    model: args.model ?? `qwen2.5-0.5b-shaped random (${spec.numLayers} layers)`,
    quantization,
    // Unset options are the runner's defaults.
    ...quantOptions,
    numThreads,
    promptTokens: promptLen,
    decodeSteps,
    weightSeconds,
    loadSeconds,
    promptTokensPerSecond: promptLen / prefillSeconds,
    singleStreamDecodeTokensPerSecond: decodeSteps / decodeSeconds,
    batchedDecodeTokensPerSecond: batched,
    cpuSeconds,
    loadAverage: loadavg(),
    device: `${cpus()[0]?.model ?? 'cpu'} × ${availableParallelism()}`,
    commit: execSync('git rev-parse --short HEAD').toString().trim(),
    date: new Date().toISOString(),
  };
  const rows: [string, number, number][] = [
    ['prompt', promptLen, result.promptTokensPerSecond],
    ['decode x1', decodeSteps, result.singleStreamDecodeTokensPerSecond],
    ...Object.entries(batched).map(([b, v]): [string, number, number] => [
      `decode x${b}`,
      Number(b) * decodeSteps,
      v,
    ]),
  ];
  console.table(
    Object.fromEntries(
      rows.map(([label, tokens, perSecond]) => [
        label,
        {
          'tokens/s': perSecond.toFixed(1),
          'CPU ms/token': ((cpuSeconds[label] / tokens) * 1000).toFixed(1),
        },
      ]),
    ),
  );
  console.log(JSON.stringify(result));
  if (args.out) writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
}

await main();
