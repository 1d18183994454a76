import { describe, expect, it } from 'vitest';
import { type RequestOutput, RequestStream } from './request-stream.ts';

const out = (
  tokens: number[],
  finished = false,
  extra: Partial<RequestOutput> = {},
): RequestOutput => ({
  requestId: 'r',
  newTokenIds: tokens,
  newLogprobs: tokens.map((tokenId) => ({ tokenId, logprob: -tokenId })),
  finished,
  finishReason: finished ? 'length' : null,
  numPromptTokens: 3,
  numCachedTokens: 0,
  numOutputTokens: tokens[tokens.length - 1] ?? 0,
  ...extra,
});

describe('RequestStream', () => {
  it('merges outputs a slow consumer missed, keeping prompt logprobs and the last counts', async () => {
    const s = new RequestStream();
    s.push(out([1], false, { promptLogprobs: [null] }));
    s.push(out([2]));
    s.push(out([3], true));
    const merged = await s.next();
    expect(merged).toMatchObject({
      newTokenIds: [1, 2, 3],
      finished: true,
      numOutputTokens: 3,
      promptLogprobs: [null],
    });
    expect(merged!.newLogprobs.map((l) => l.tokenId)).toEqual([1, 2, 3]);
    expect(await s.next()).toBeNull();
  });

  it('wakes a waiting consumer, and throws a failure after delivering what came before', async () => {
    const s = new RequestStream();
    const pending = s.next();
    s.push(out([1]));
    expect((await pending)!.newTokenIds).toEqual([1]);
    s.push(out([2]));
    s.fail(new Error('boom'));
    expect((await s.next())!.newTokenIds).toEqual([2]);
    await expect(s.next()).rejects.toThrow('boom');
    s.push(out([3]));
    await expect(s.next()).rejects.toThrow('boom');
  });
});
