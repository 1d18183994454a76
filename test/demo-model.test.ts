/**
 * The shipped demo model against Hugging Face transformers: greedy continuations recorded on the
 * GPU machine (tools/demo-model/fixture.py, float32) must come out of our runners token for token.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LLMEngine } from '../backend/engine/engine.ts';
import { defaultSamplingParams } from '../backend/engine/sampling-params.ts';
import { loadModelSpec } from '../backend/model/config.ts';
import { loadWeights } from '../backend/model/loader.ts';
import { ModelTokenizer } from '../backend/model/tokenizer.ts';
import { createCpuRunner } from '../backend/runner/cpu/cpu-runner.ts';
import type { Runner } from '../backend/runner/runner.ts';

const MODEL_DIR = fileURLToPath(new URL('../models/demo', import.meta.url));
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/demo-greedy.json', import.meta.url), 'utf8'),
) as {
  max_new_tokens: number;
  cases: { prompt: string; prompt_ids: number[]; output_ids: number[]; output_text: string }[];
};

let engine: LLMEngine;
let tokenizer: ModelTokenizer;

beforeAll(async () => {
  const spec = await loadModelSpec(MODEL_DIR);
  const runner: Runner = await createCpuRunner({
    spec,
    weights: await loadWeights(MODEL_DIR, spec),
    numBlocks: 64,
    blockSize: 16,
  });
  tokenizer = await ModelTokenizer.load(MODEL_DIR);
  engine = new LLMEngine(runner, {
    maxNumSeqs: 8,
    maxNumBatchedTokens: 256,
    maxModelLen: 1024,
    maxQueueLen: 16,
    eosTokenIds: spec.eosTokenIds,
    vocabSize: spec.vocabSize,
  });
});
afterAll(() => engine?.close());

async function greedy(promptTokenIds: number[], maxTokens: number): Promise<number[]> {
  const params = defaultSamplingParams({ temperature: 0, maxTokens, ignoreEos: true });
  const ids: number[] = [];
  for await (const out of engine.generate({
    requestId: `demo-${Math.random()}`,
    promptTokenIds,
    params,
  }))
    ids.push(...out.newTokenIds);
  return ids;
}

describe('demo model vs Hugging Face transformers (CPU runner, fp32)', () => {
  it('tokenizes each prompt to the ids transformers saw', () => {
    for (const c of fixture.cases)
      expect(tokenizer.encode(c.prompt, { addSpecialTokens: false })).toEqual(c.prompt_ids);
  });

  it('reproduces every greedy continuation token for token, all prompts batched together', async () => {
    const outputs = await Promise.all(
      fixture.cases.map((c) => greedy(c.prompt_ids, fixture.max_new_tokens)),
    );
    outputs.forEach((ids, i) => {
      expect(ids).toEqual(fixture.cases[i]!.output_ids);
      expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe(
        fixture.cases[i]!.output_text,
      );
    });
  });
});
