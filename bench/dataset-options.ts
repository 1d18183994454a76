/** The workload flags shared by `bench serve` and the offline benchmarks (vLLM's names). */
import type { Options } from '../shared/config.ts';
import type { DatasetSpec } from './dataset.ts';

export const datasetOptionSpecs = {
  dataset: {
    type: 'string',
    choices: ['random', 'nano-vllm', 'prefix'],
    default: 'random',
    help: 'workload',
  },
  numPrompts: {
    type: 'int',
    min: 1,
    help: 'requests to send (default: 1000 random, 256 nano-vllm, 256 prefix)',
  },
  randomInputLen: { type: 'int', min: 1, default: 1024, help: 'random: mean prompt tokens' },
  randomOutputLen: { type: 'int', min: 1, default: 128, help: 'random: mean output tokens' },
  randomRangeRatio: {
    type: 'number',
    min: 0,
    max: 0.999,
    default: 0,
    help: 'random: lengths uniform in len*[1-r, 1+r]',
  },
  nanoVllmMinLen: { type: 'int', min: 1, default: 100, help: 'nano-vllm: shortest prompt/output' },
  nanoVllmMaxLen: { type: 'int', min: 1, default: 1024, help: 'nano-vllm: longest prompt/output' },
  prefixRepetitionPrefixLen: {
    type: 'int',
    min: 1,
    default: 256,
    help: 'prefix: shared prefix tokens',
  },
  prefixRepetitionSuffixLen: {
    type: 'int',
    min: 1,
    default: 256,
    help: 'prefix: per-request tokens after it',
  },
  prefixRepetitionNumPrefixes: {
    type: 'int',
    min: 1,
    default: 10,
    help: 'prefix: distinct prefixes',
  },
  prefixRepetitionOutputLen: { type: 'int', min: 1, default: 128, help: 'prefix: output tokens' },
} as const;

export type DatasetOptions = Options<typeof datasetOptionSpecs>;

export function datasetSpec(o: DatasetOptions): DatasetSpec {
  switch (o.dataset) {
    case 'nano-vllm':
      return {
        name: 'nano-vllm',
        numPrompts: o.numPrompts ?? 256,
        minLen: o.nanoVllmMinLen,
        maxLen: o.nanoVllmMaxLen,
      };
    case 'prefix':
      return {
        name: 'prefix',
        numPrompts: o.numPrompts ?? 256,
        numPrefixes: o.prefixRepetitionNumPrefixes,
        prefixLen: o.prefixRepetitionPrefixLen,
        suffixLen: o.prefixRepetitionSuffixLen,
        outputLen: o.prefixRepetitionOutputLen,
      };
    default:
      return {
        name: 'random',
        numPrompts: o.numPrompts ?? 1000,
        inputLen: o.randomInputLen,
        outputLen: o.randomOutputLen,
        rangeRatio: o.randomRangeRatio,
      };
  }
}
