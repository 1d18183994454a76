/**
 * Writes a benchmark workload as JSON for the Python peers, so transformers and the roofline see
 * the very requests `edgeserve bench` sends (same flags, same seed):
 *   npx tsx bench/export-workload.ts --dataset nano-vllm --vocab-size 128256 --out nano.json
 */
import { writeFileSync } from 'node:fs';
import { parseOptions } from '../shared/config.ts';
import { buildDataset, promptTokenIds } from './dataset.ts';
import { datasetOptionSpecs, datasetSpec } from './dataset-options.ts';

const specs = {
  ...datasetOptionSpecs,
  vocabSize: { type: 'int', min: 1, default: 10000, help: 'token ids are drawn from [0, N)' },
  seed: { type: 'int', default: 0, help: 'workload seed' },
  out: { type: 'string', meta: 'FILE', help: 'output JSON file' },
} as const;

export function exportWorkload(argv: string[]): { path: string; numRequests: number } {
  const o = parseOptions(specs, argv, {});
  if (!o.out) throw new RangeError('--out is required');
  const dataset = datasetSpec(o);
  const requests = buildDataset(dataset, { vocabSize: o.vocabSize, seed: o.seed }).map((r) => ({
    prompt_token_ids: promptTokenIds(r),
    output_len: r.outputLen,
  }));
  const doc = { dataset, seed: o.seed, vocabSize: o.vocabSize, requests };
  writeFileSync(o.out, JSON.stringify(doc));
  return { path: o.out, numRequests: requests.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { path, numRequests } = exportWorkload(process.argv.slice(2));
  console.log(`${numRequests} requests → ${path}`);
}
