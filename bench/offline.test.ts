import { describe, expect, it } from 'vitest';
import { loadModelSpec } from '../backend/model/config.ts';
import { fixtureModelCache } from '../test/fixtures/models.ts';
import { buildDataset } from './dataset.ts';
import { datasetSpec } from './dataset-options.ts';
import { parseOfflineOptions, runOfflineCommand } from './offline-command.ts';

const model = () => fixtureModelCache('llama', 1);
const quiet = () => {};

describe('offline benchmarks through the in-process engine', () => {
  it('throughput runs the whole workload and counts every requested output token', async () => {
    const argv = [
      '--model',
      model(),
      '--device',
      'reference',
      '--kv-cache-memory',
      '8MiB',
      '--num-prompts',
      '6',
    ];
    argv.push(
      '--random-input-len',
      '12',
      '--random-output-len',
      '5',
      '--random-range-ratio',
      '0.5',
    );
    const o = parseOfflineOptions(argv, {});
    const result = await runOfflineCommand('throughput', o, quiet);
    const metrics = result.metrics as { completed: number; totalOutputTokens: number };
    expect(metrics.completed).toBe(6);
    expect(result.engine.runner.name).toBe('reference');
    expect(result.schema).toBe('edgeserve.bench.offline/1');
    // ignore_eos: each request generates exactly the output length the seeded workload drew.
    const vocabSize = (await loadModelSpec(model())).vocabSize;
    const requests = buildDataset(datasetSpec(o), { vocabSize, seed: 0 });
    expect(metrics.totalOutputTokens).toBe(requests.reduce((n, r) => n + r.outputLen, 0));
  });

  it('latency times the requested number of batches after the warm-up', async () => {
    const o = parseOfflineOptions(
      [
        '--model',
        model(),
        '--kv-cache-memory',
        '8MiB',
        '--batch-size',
        '2',
        '--input-len',
        '8',
        '--output-len',
        '4',
        '--num-iters',
        '3',
        '--num-iters-warmup',
        '1',
      ],
      {},
    );
    const result = await runOfflineCommand('latency', o, quiet);
    const metrics = result.metrics as { itersS: number[]; latencyS: { median: number } };
    expect(metrics.itersS).toHaveLength(3);
    expect(metrics.latencyS.median).toBeGreaterThan(0);
  });
});
