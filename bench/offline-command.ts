/** `edgeserve bench latency|throughput`: the engine in-process, no HTTP; table + JSON. */
import { join } from 'node:path';
import { type Options, parseOptions } from '../shared/config.ts';
import { buildDataset } from './dataset.ts';
import { datasetOptionSpecs, datasetSpec } from './dataset-options.ts';
import { runLatency, runThroughput } from './offline.ts';
import { createBenchEngine, engineOptionSpecs } from './offline-engine.ts';
import { provenance } from './provenance.ts';
import { writeResult } from './report.ts';

export const offlineOptionSpecs = {
  ...engineOptionSpecs,
  ...datasetOptionSpecs,
  batchSize: { type: 'int', min: 1, default: 8, help: 'latency: sequences per batch' },
  inputLen: { type: 'int', min: 1, default: 32, help: 'latency: prompt tokens per sequence' },
  outputLen: { type: 'int', min: 1, default: 128, help: 'latency: output tokens per sequence' },
  numItersWarmup: { type: 'int', min: 0, default: 1, help: 'latency: untimed batches first' },
  numIters: { type: 'int', min: 1, default: 5, help: 'latency: timed batches' },
  seed: { type: 'int', default: 0, help: 'seed of the workload (and of dummy weights)' },
  label: { type: 'string', meta: 'NAME', help: 'name of the system measured' },
  deviceName: { type: 'string', meta: 'NAME', help: 'device measured, e.g. "H100 80GB"' },
  resultDir: { type: 'string', meta: 'DIR', help: 'write the JSON result here' },
  resultFile: {
    type: 'string',
    meta: 'FILE',
    help: 'JSON result file (inside --result-dir if given)',
  },
} as const;

export type OfflineOptions = Options<typeof offlineOptionSpecs>;

export const OFFLINE_SCHEMA = 'edgeserve.bench.offline/1';

export function parseOfflineOptions(argv: string[], env: Record<string, string | undefined>) {
  return parseOptions(offlineOptionSpecs, argv, env);
}

const f2 = (n: number) => n.toFixed(2);

async function measure(mode: 'latency' | 'throughput', o: OfflineOptions, log: typeof console.log) {
  const numPrompts = mode === 'latency' ? o.batchSize : (datasetSpec(o).numPrompts ?? 1);
  const bench = await createBenchEngine(o, o.seed, Math.max(numPrompts, 1024));
  const vocabSize = bench.spec.vocabSize;
  try {
    if (mode === 'latency') {
      const spec = {
        batchSize: o.batchSize,
        inputLen: o.inputLen,
        outputLen: o.outputLen,
        numItersWarmup: o.numItersWarmup,
        numIters: o.numIters,
        seed: o.seed,
        vocabSize,
      };
      const metrics = await runLatency(bench.engine, spec);
      log(
        `latency: batch ${o.batchSize} × (${o.inputLen} in, ${o.outputLen} out) on ${bench.runner.name}`,
      );
      log(
        `  mean ${f2(metrics.latencyS.mean)} s  median ${f2(metrics.latencyS.median)} s  p90 ${f2(metrics.latencyS.p90)} s  p99 ${f2(metrics.latencyS.p99)} s`,
      );
      log(`  output throughput at the median: ${f2(metrics.outputThroughput)} tok/s`);
      return { bench, workload: spec, metrics };
    }
    const dataset = datasetSpec(o);
    const requests = buildDataset(dataset, { vocabSize, seed: o.seed });
    const { metrics } = await runThroughput(bench.engine, requests);
    log(
      `throughput: ${metrics.completed} ${dataset.name} requests on ${bench.runner.name} in ${f2(metrics.durationS)} s`,
    );
    log(
      `  ${f2(metrics.requestThroughput)} req/s, ${f2(metrics.outputThroughput)} output tok/s, ${f2(metrics.totalTokenThroughput)} total tok/s`,
    );
    log(
      `  TTFT median ${f2(metrics.ttftMs.median)} ms, TPOT median ${f2(metrics.tpotMs.median)} ms (in-process)`,
    );
    return { bench, workload: { dataset, seed: o.seed, vocabSize }, metrics };
  } finally {
    await bench.engine.close();
  }
}

export async function runOfflineCommand(
  mode: 'latency' | 'throughput',
  o: OfflineOptions,
  log = console.log,
) {
  const { bench, workload, metrics } = await measure(mode, o, log);
  const result = {
    schema: OFFLINE_SCHEMA,
    mode,
    label: o.label ?? null,
    ...(await provenance()),
    device: o.deviceName ?? o.device,
    engine: {
      device: o.device,
      model: o.model,
      loadFormat: o.loadFormat,
      runner: bench.runner,
      ...bench.config,
      enablePrefixCaching: o.enablePrefixCaching,
    },
    workload,
    metrics,
  };
  if (o.resultDir || o.resultFile) {
    const name =
      o.resultFile ?? `${o.label ?? mode}-${mode}-${result.date.replace(/[:.]/g, '-')}.json`;
    const path = o.resultDir ? join(o.resultDir, name) : name;
    writeResult(path, result);
    log(`result: ${path}`);
  }
  return result;
}
