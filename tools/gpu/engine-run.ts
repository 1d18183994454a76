/** Runs token-id requests through LLMEngine over any runner and collects each one's output ids. */
import { LLMEngine } from '../../backend/engine/engine.ts';
import {
  defaultSamplingParams,
  type SamplingParams,
} from '../../backend/engine/sampling-params.ts';
import type { Runner } from '../../backend/runner/runner.ts';

export interface EngineRequestSpec {
  prompt: number[];
  maxTokens: number;
  params?: Partial<SamplingParams>;
}

export interface EngineLimits {
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  maxModelLen: number;
}

export function makeEngine(runner: Runner, limits: EngineLimits): LLMEngine {
  return new LLMEngine(runner, {
    ...limits,
    maxQueueLen: 100000,
    eosTokenIds: [],
    enablePrefixCaching: false,
    onError: (err, where) => console.error(`engine error in ${where}:`, err),
  });
}

async function collect(engine: LLMEngine, id: string, r: EngineRequestSpec): Promise<number[]> {
  const params = defaultSamplingParams({
    temperature: 0,
    ignoreEos: true,
    maxTokens: r.maxTokens,
    ...r.params,
  });
  const out: number[] = [];
  for await (const o of engine.generate({ requestId: id, promptTokenIds: r.prompt, params }))
    out.push(...o.newTokenIds);
  return out;
}

/** All requests at once; resolves with each request's output ids, in order. */
export function runAll(
  engine: LLMEngine,
  requests: EngineRequestSpec[],
  tag = 'r',
): Promise<number[][]> {
  return Promise.all(requests.map((r, i) => collect(engine, `${tag}-${i}`, r)));
}

function lcg(seed: number) {
  let x = seed >>> 0;
  return (lo: number, hi: number) => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return lo + (x % (hi - lo + 1));
  };
}

/** nano-vllm's benchmark: 256 requests, prompt and output lengths uniform in [100, 1024], T 0.6. */
export function nanoVllmRequests(): EngineRequestSpec[] {
  const rand = lcg(0);
  return Array.from({ length: 256 }, () => ({
    prompt: Array.from({ length: rand(100, 1024) }, () => rand(0, 10000)),
    maxTokens: rand(100, 1024),
    params: { temperature: 0.6 },
  }));
}
