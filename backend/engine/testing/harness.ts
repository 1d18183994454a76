/** Helpers shared by the engine's tests: an engine over the fake runner, and a reference generator. */
import type { Registry } from '../../../shared/metrics.ts';
import type { SchedulerOutput } from '../../runner/runner.ts';
import { type EngineRequest, LLMEngine, type RequestOutput } from '../engine.ts';
import { defaultSamplingParams, type SamplingParams } from '../sampling-params.ts';
import { FakeRunner, mixKv } from './fake-runner.ts';

export const VOCAB_SIZE = 64;
export const EOS = 0;

export interface HarnessOptions {
  numBlocks?: number;
  blockSize?: number;
  maxNumSeqs?: number;
  maxNumBatchedTokens?: number;
  maxModelLen?: number;
  maxQueueLen?: number;
  enablePrefixCaching?: boolean;
  onExecute?: (batch: SchedulerOutput) => void | Promise<void>;
  metrics?: Registry;
  now?: () => number;
  stepTimeoutSeconds?: number;
}

export function makeEngine(o: HarnessOptions = {}) {
  const numBlocks = o.numBlocks ?? 64;
  const blockSize = o.blockSize ?? 16;
  const maxNumSeqs = o.maxNumSeqs ?? 8;
  const maxNumBatchedTokens = o.maxNumBatchedTokens ?? 256;
  const runner = new FakeRunner({
    numBlocks,
    blockSize,
    vocabSize: VOCAB_SIZE,
    maxNumSeqs,
    maxNumBatchedTokens,
    onExecute: (batch) => o.onExecute?.(batch),
  });
  const errors: unknown[] = [];
  const engine = new LLMEngine(runner, {
    maxNumSeqs,
    maxNumBatchedTokens,
    maxModelLen: o.maxModelLen ?? Math.min(256, numBlocks * blockSize),
    maxQueueLen: o.maxQueueLen ?? 64,
    eosTokenIds: [EOS],
    enablePrefixCaching: o.enablePrefixCaching,
    vocabSize: VOCAB_SIZE,
    metrics: o.metrics,
    now: o.now,
    stepTimeoutSeconds: o.stepTimeoutSeconds,
    onError: (err) => errors.push(err),
  });
  return { engine, runner, errors };
}

/** A deterministic pseudo-random prompt (token ids 1..VOCAB_SIZE-1, so never EOS). */
export function promptOf(seed: number, length: number): number[] {
  let x = (seed * 2654435761 + 12345) >>> 0;
  return Array.from({ length }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return 1 + ((x >>> 8) % (VOCAB_SIZE - 1));
  });
}

let nextRequest = 0;
export function request(
  promptTokenIds: number[],
  params: Partial<SamplingParams> = {},
  extra: Partial<EngineRequest> = {},
): EngineRequest {
  return {
    requestId: `req-${nextRequest++}`,
    promptTokenIds,
    params: defaultSamplingParams({ temperature: 0, maxTokens: 16, ...params }),
    ...extra,
  };
}

export interface Collected {
  tokens: number[];
  outputs: RequestOutput[];
  last: RequestOutput;
}

/** Runs a request to its end. Starts synchronously: the request is queued before this returns. */
export async function collect(engine: LLMEngine, req: EngineRequest): Promise<Collected> {
  const outputs: RequestOutput[] = [];
  for await (const out of engine.generate(req)) outputs.push(out);
  return {
    tokens: outputs.flatMap((o) => o.newTokenIds),
    outputs,
    last: outputs[outputs.length - 1]!,
  };
}

/**
 * What the fake model generates for a prompt when run alone, computed without any engine: the
 * reference every batched, chunked, preempted or cached run must reproduce.
 */
export function referenceTokens(
  prompt: number[],
  p: { maxTokens: number; ignoreEos?: boolean; minTokens?: number; stopTokenIds?: number[] },
): number[] {
  let kv = 0x2545f491;
  prompt.forEach((t, i) => {
    kv = mixKv(kv, t, i);
  });
  const out: number[] = [];
  const stops = p.stopTokenIds ?? [];
  while (out.length < p.maxTokens) {
    const banned = out.length < (p.minTokens ?? 0) ? [...(p.ignoreEos ? [] : [EOS]), ...stops] : [];
    let token = kv % VOCAB_SIZE;
    while (banned.includes(token)) token = (token + 1) % VOCAB_SIZE;
    out.push(token);
    if (
      out.length >= (p.minTokens ?? 0) &&
      (stops.includes(token) || (!p.ignoreEos && token === EOS))
    )
      break;
    kv = mixKv(kv, token, prompt.length + out.length - 1);
  }
  return out;
}

/** Which sequence of a batch carries this prompt (batches name sequences by id only). */
export function seqIdOf(runner: FakeRunner, prompt: number[]): number | undefined {
  for (const batch of runner.batches)
    for (const s of batch.sequences)
      if (
        s.promptTokenIds.length === prompt.length &&
        s.promptTokenIds.every((t, i) => t === prompt[i])
      )
        return s.seqId;
  return undefined;
}
