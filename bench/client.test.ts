import { describe, expect, it } from 'vitest';
import { carriesOutput, endpointPath, requestBody, type Target } from './client.ts';
import type { BenchRequest } from './dataset.ts';
import { WORDS } from './words.ts';

const target: Target = {
  baseUrl: 'http://127.0.0.1:1',
  endpoint: '/v1/completions',
  model: 'm',
  apiKey: null,
  promptFormat: 'tokens',
  ignoreEos: true,
  temperature: 0,
};
const req: BenchRequest = {
  index: 0,
  prefixTokenIds: [1, 2],
  tokenIds: [3],
  promptLen: 3,
  outputLen: 9,
};

describe('requestBody', () => {
  it('sends token-id prompts with streaming usage, max_tokens and ignore_eos', () => {
    expect(requestBody(target, req)).toEqual({
      model: 'm',
      prompt: [1, 2, 3],
      max_tokens: 9,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
      ignore_eos: true,
    });
  });

  it('renders words for text prompts and a system message for a chat prefix', () => {
    const text = requestBody({ ...target, promptFormat: 'text', ignoreEos: false }, req);
    expect(text.prompt).toBe([WORDS[1], WORDS[2], WORDS[3]].join(' '));
    expect(text).not.toHaveProperty('ignore_eos');
    const chat = requestBody({ ...target, endpoint: '/v1/chat/completions' }, req);
    expect(chat.messages).toEqual([
      { role: 'system', content: `${WORDS[1]} ${WORDS[2]}` },
      { role: 'user', content: WORDS[3] },
    ]);
  });
});

describe('carriesOutput', () => {
  it('counts text chunks, empty mid-stream chunks, not the closing or role-only ones', () => {
    expect(carriesOutput({ text: 'a', finish_reason: null }, false)).toBe(true);
    expect(carriesOutput({ text: '', finish_reason: null }, false)).toBe(true);
    expect(carriesOutput({ text: '', finish_reason: 'length' }, false)).toBe(false);
    expect(carriesOutput({ text: 'end', finish_reason: 'stop' }, false)).toBe(true);
    expect(carriesOutput({ delta: { role: 'assistant', content: '' } }, true)).toBe(false);
    expect(carriesOutput({ delta: { content: 'x' }, finish_reason: null }, true)).toBe(true);
    expect(carriesOutput({ delta: {}, finish_reason: 'stop' }, true)).toBe(false);
  });
});

describe('endpointPath', () => {
  it('keeps a base URL path prefix', () => {
    expect(endpointPath('http://h:1/edge/', '/v1/completions')).toBe('/edge/v1/completions');
    expect(endpointPath('http://h:1', '/v1/completions')).toBe('/v1/completions');
  });
});
