import { describe, expect, it } from 'vitest';
import { HttpError } from '../../shared/errors.ts';
import { parseSamplingParams, toSamplingSpec } from './sampling-params.ts';

function rejects(
  body: Record<string, unknown>,
  param: string,
  api: 'chat' | 'completion' = 'chat',
) {
  try {
    parseSamplingParams(body, api);
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    const e = err as HttpError;
    expect([e.status, e.type, e.param]).toEqual([400, 'invalid_request_error', param]);
    expect(e.message).toContain(param);
    return;
  }
  throw new Error(`expected ${JSON.stringify(body)} to be rejected`);
}

describe('parseSamplingParams', () => {
  it('fills OpenAI/vLLM defaults', () => {
    const p = parseSamplingParams({}, 'chat');
    expect(p).toEqual({
      temperature: 1,
      topP: 1,
      topK: 0,
      minP: 0,
      seed: null,
      stop: [],
      stopTokenIds: [],
      ignoreEos: false,
      minTokens: 0,
      maxTokens: null,
      presencePenalty: 0,
      frequencyPenalty: 0,
      repetitionPenalty: 1,
      n: 1,
      logprobs: null,
      priority: 0,
    });
    expect(parseSamplingParams({}, 'completion').maxTokens).toBe(16);
    expect(parseSamplingParams({ max_tokens: null }, 'completion').maxTokens).toBeNull();
  });

  it('reads every field', () => {
    const p = parseSamplingParams(
      {
        temperature: 0.5,
        top_p: 0.9,
        top_k: 40,
        min_p: 0.05,
        seed: 7,
        stop: 'END',
        stop_token_ids: [2, 3],
        ignore_eos: true,
        min_tokens: 4,
        max_tokens: 10,
        presence_penalty: -1,
        frequency_penalty: 2,
        repetition_penalty: 1.1,
        n: 3,
        logprobs: true,
        top_logprobs: 5,
        priority: -2,
      },
      'chat',
    );
    expect(p).toMatchObject({
      temperature: 0.5,
      topP: 0.9,
      topK: 40,
      minP: 0.05,
      seed: 7,
      stop: ['END'],
      stopTokenIds: [2, 3],
      ignoreEos: true,
      minTokens: 4,
      maxTokens: 10,
      presencePenalty: -1,
      frequencyPenalty: 2,
      repetitionPenalty: 1.1,
      n: 3,
      logprobs: 5,
      priority: -2,
    });
  });

  it('treats top_k -1 as off, and nulls as absent', () => {
    expect(parseSamplingParams({ top_k: -1 }, 'chat').topK).toBe(0);
    expect(parseSamplingParams({ temperature: null, seed: null }, 'chat')).toMatchObject({
      temperature: 1,
      seed: null,
    });
  });

  it('prefers max_completion_tokens on chat', () => {
    expect(parseSamplingParams({ max_tokens: 5, max_completion_tokens: 9 }, 'chat').maxTokens).toBe(
      9,
    );
  });

  it('takes logprobs as a boolean on chat and as a count on completions', () => {
    expect(parseSamplingParams({ logprobs: true }, 'chat').logprobs).toBe(0);
    expect(parseSamplingParams({ logprobs: false, top_logprobs: 0 }, 'chat').logprobs).toBeNull();
    expect(parseSamplingParams({ logprobs: 3 }, 'completion').logprobs).toBe(3);
    rejects({ logprobs: 3 }, 'logprobs', 'chat');
    rejects({ logprobs: true }, 'logprobs', 'completion');
    rejects({ logprobs: 21 }, 'logprobs', 'completion');
    rejects({ top_logprobs: 2 }, 'top_logprobs');
    rejects({ logprobs: true, top_logprobs: 21 }, 'top_logprobs');
  });

  it('rejects out-of-range values naming the field', () => {
    rejects({ temperature: 2.5 }, 'temperature');
    rejects({ temperature: -0.1 }, 'temperature');
    rejects({ top_p: 0 }, 'top_p');
    rejects({ top_p: 1.01 }, 'top_p');
    rejects({ top_k: -2 }, 'top_k');
    rejects({ top_k: 1.5 }, 'top_k');
    rejects({ min_p: 1.5 }, 'min_p');
    rejects({ presence_penalty: 2.1 }, 'presence_penalty');
    rejects({ frequency_penalty: -3 }, 'frequency_penalty');
    rejects({ repetition_penalty: 0 }, 'repetition_penalty');
    rejects({ repetition_penalty: 2.5 }, 'repetition_penalty');
    rejects({ n: 0 }, 'n');
    rejects({ n: 17 }, 'n');
    rejects({ max_tokens: 0 }, 'max_tokens');
    rejects({ max_completion_tokens: 0 }, 'max_completion_tokens');
    rejects({ min_tokens: 5, max_tokens: 4 }, 'min_tokens');
    rejects({ seed: 1.5 }, 'seed');
    rejects({ priority: 0.5 }, 'priority');
  });

  it('rejects wrong types naming the field', () => {
    rejects({ temperature: '1' }, 'temperature');
    rejects({ ignore_eos: 'yes' }, 'ignore_eos');
    rejects({ stop: 5 }, 'stop');
    rejects({ stop: ['a', 1] }, 'stop');
    rejects({ stop: [''] }, 'stop');
    rejects({ stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }, 'stop');
    rejects({ stop_token_ids: [1, -1] }, 'stop_token_ids');
    rejects({ stop_token_ids: 'x' }, 'stop_token_ids');
    rejects({ seed: '1' }, 'seed');
  });

  it('accepts up to 16 stop sequences', () => {
    const stop = Array.from({ length: 16 }, (_, i) => `s${i}`);
    expect(parseSamplingParams({ stop }, 'chat').stop).toEqual(stop);
  });
});

describe('toSamplingSpec', () => {
  it('maps params to the runner spec, tiny temperatures becoming greedy', () => {
    const p = parseSamplingParams(
      { temperature: 1e-7, top_k: 5, seed: 3, logprobs: 2, repetition_penalty: 1.2 },
      'completion',
    );
    expect(toSamplingSpec(p)).toEqual({
      temperature: 0,
      topP: 1,
      topK: 5,
      minP: 0,
      presencePenalty: 0,
      frequencyPenalty: 0,
      repetitionPenalty: 1.2,
      seed: 3,
      logprobs: 2,
    });
    expect(toSamplingSpec(parseSamplingParams({ temperature: 0.7 }, 'chat')).temperature).toBe(0.7);
  });
});
