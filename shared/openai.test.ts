import { describe, expect, it } from 'vitest';
import { HttpError } from './errors.ts';
import { parseChatRequest, parseCompletionRequest } from './openai.ts';

const chat = (extra: Record<string, unknown>) => ({
  model: 'm',
  messages: [{ role: 'user', content: 'hi' }],
  ...extra,
});

function rejection(fn: () => unknown): {
  status: number;
  param: string | null;
  code: string | null;
} {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    return { status: err.status, param: err.param, code: err.code };
  }
  throw new Error('expected a rejection');
}

describe('request validation', () => {
  it('accepts OpenAI and vLLM fields with their types', () => {
    expect(() =>
      parseChatRequest(
        chat({
          temperature: 0.5,
          top_k: 20,
          min_p: 0.1,
          seed: 3,
          stop: ['x'],
          stream: true,
          stream_options: { include_usage: true },
          logprobs: true,
          top_logprobs: 2,
          priority: 1,
          user: 'u',
        }),
      ),
    ).not.toThrow();
    expect(() =>
      parseCompletionRequest({
        model: 'm',
        prompt: [[1, 2], [3]],
        echo: true,
        logprobs: 1,
        ignore_eos: true,
      }),
    ).not.toThrow();
  });

  it('names an unknown field instead of dropping it', () => {
    expect(rejection(() => parseChatRequest(chat({ temprature: 0 })))).toEqual({
      status: 400,
      param: 'temprature',
      code: 'unsupported_parameter',
    });
    expect(
      rejection(() => parseCompletionRequest({ model: 'm', prompt: 'x', messages: [] })).param,
    ).toBe('messages');
  });

  it.each([
    ['tools', { tools: [{ type: 'function', function: { name: 'f' } }] }],
    ['tool_choice', { tool_choice: 'required' }],
    ['response_format', { response_format: { type: 'json_object' } }],
    ['logit_bias', { logit_bias: { '50256': -100 } }],
  ])('refuses %s it cannot honour', (param, extra) => {
    expect(rejection(() => parseChatRequest(chat(extra)))).toMatchObject({ status: 400, param });
  });

  it('accepts the no-op forms of fields it does not implement', () => {
    expect(() =>
      parseChatRequest(
        chat({ tools: [], tool_choice: 'none', response_format: { type: 'text' }, logit_bias: {} }),
      ),
    ).not.toThrow();
    expect(() => parseCompletionRequest({ model: 'm', prompt: 'x', best_of: 1 })).not.toThrow();
    expect(
      rejection(() => parseCompletionRequest({ model: 'm', prompt: 'x', best_of: 3 })).param,
    ).toBe('best_of');
  });

  it('names the param of a wrongly typed field', () => {
    expect(rejection(() => parseChatRequest(chat({ temperature: 'hot' }))).param).toBe(
      'temperature',
    );
    expect(
      rejection(() => parseChatRequest(chat({ messages: [{ role: 'wizard', content: 'x' }] })))
        .param,
    ).toBe('messages[0].role');
    expect(
      rejection(() =>
        parseChatRequest(chat({ messages: [{ role: 'user', content: [{ type: 'image_url' }] }] })),
      ).param,
    ).toBe('messages[0].content[0].type');
    expect(rejection(() => parseCompletionRequest({ model: 'm', prompt: [1, 'a'] })).param).toBe(
      'prompt',
    );
    expect(
      rejection(() => parseChatRequest(chat({ stream_options: { include_usage: true } }))).param,
    ).toBe('stream_options');
  });
});
