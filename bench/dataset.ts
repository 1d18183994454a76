/**
 * Benchmark workloads as plain data: each request is a prompt (token ids, optionally behind a
 * shared prefix) and the number of tokens to generate. Everything is drawn from one seeded RNG,
 * so a workload is reproducible from its flags alone.
 */
import { createRng, type Rng } from './rng.ts';

export interface BenchRequest {
  index: number;
  /** Shared prefix (a "system prompt"); empty when the dataset has none. */
  prefixTokenIds: number[];
  /** The request's own tokens, after the prefix. */
  tokenIds: number[];
  /** prefixTokenIds.length + tokenIds.length. */
  promptLen: number;
  /** Tokens to generate (sent as max_tokens; with ignore_eos the server generates exactly this). */
  outputLen: number;
}

export interface RandomDatasetSpec {
  name: 'random';
  numPrompts: number;
  inputLen: number;
  outputLen: number;
  /** Lengths are uniform in [len*(1-r), len*(1+r)]. */
  rangeRatio: number;
}

/** nano-vllm's benchmark: input and output lengths uniform in [minLen, maxLen]. */
export interface NanoVllmDatasetSpec {
  name: 'nano-vllm';
  numPrompts: number;
  minLen: number;
  maxLen: number;
}

/** Requests that share one of a few long system prompts: shows what prefix caching saves. */
export interface PrefixDatasetSpec {
  name: 'prefix';
  numPrompts: number;
  numPrefixes: number;
  prefixLen: number;
  suffixLen: number;
  outputLen: number;
}

export type DatasetSpec = RandomDatasetSpec | NanoVllmDatasetSpec | PrefixDatasetSpec;

export interface TokenSpace {
  /** Token ids are drawn uniformly from [0, vocabSize). */
  vocabSize: number;
  seed: number;
}

const randomIds = (rng: Rng, count: number, vocabSize: number): number[] =>
  Array.from({ length: count }, () => rng.int(0, vocabSize - 1));

/** Uniform integer in [len*(1-r), len*(1+r)], at least 1. */
function spread(rng: Rng, len: number, ratio: number): number {
  const lo = Math.max(1, Math.floor(len * (1 - ratio)));
  const hi = Math.max(lo, Math.ceil(len * (1 + ratio)));
  return rng.int(lo, hi);
}

function request(index: number, prefix: number[], tokenIds: number[], outputLen: number) {
  return {
    index,
    prefixTokenIds: prefix,
    tokenIds,
    promptLen: prefix.length + tokenIds.length,
    outputLen,
  };
}

function randomDataset(spec: RandomDatasetSpec, space: TokenSpace, rng: Rng): BenchRequest[] {
  if (spec.rangeRatio < 0 || spec.rangeRatio >= 1)
    throw new RangeError(`range ratio must be in [0, 1), got ${spec.rangeRatio}`);
  return Array.from({ length: spec.numPrompts }, (_, i) => {
    const inputLen = spread(rng, spec.inputLen, spec.rangeRatio);
    const outputLen = spread(rng, spec.outputLen, spec.rangeRatio);
    return request(i, [], randomIds(rng, inputLen, space.vocabSize), outputLen);
  });
}

function nanoVllmDataset(spec: NanoVllmDatasetSpec, space: TokenSpace, rng: Rng): BenchRequest[] {
  if (spec.minLen < 1 || spec.maxLen < spec.minLen)
    throw new RangeError(`need 1 <= min len <= max len, got ${spec.minLen}..${spec.maxLen}`);
  return Array.from({ length: spec.numPrompts }, (_, i) => {
    const inputLen = rng.int(spec.minLen, spec.maxLen);
    const outputLen = rng.int(spec.minLen, spec.maxLen);
    return request(i, [], randomIds(rng, inputLen, space.vocabSize), outputLen);
  });
}

function prefixDataset(spec: PrefixDatasetSpec, space: TokenSpace, rng: Rng): BenchRequest[] {
  if (spec.numPrefixes < 1) throw new RangeError('need at least one prefix');
  const prefixes = Array.from({ length: spec.numPrefixes }, () =>
    randomIds(rng, spec.prefixLen, space.vocabSize),
  );
  return Array.from({ length: spec.numPrompts }, (_, i) => {
    const prefix = prefixes[i % spec.numPrefixes]!;
    return request(i, prefix, randomIds(rng, spec.suffixLen, space.vocabSize), spec.outputLen);
  });
}

export function buildDataset(spec: DatasetSpec, space: TokenSpace): BenchRequest[] {
  if (!(space.vocabSize >= 1)) throw new RangeError(`vocab size must be >= 1`);
  const rng = createRng(space.seed);
  switch (spec.name) {
    case 'random':
      return randomDataset(spec, space, rng);
    case 'nano-vllm':
      return nanoVllmDataset(spec, space, rng);
    case 'prefix':
      return prefixDataset(spec, space, rng);
  }
}

/** The whole prompt as one token-id array. */
export const promptTokenIds = (req: BenchRequest): number[] =>
  req.prefixTokenIds.length ? [...req.prefixTokenIds, ...req.tokenIds] : req.tokenIds;
