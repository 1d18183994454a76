import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter } from '../edge/rate-limit.ts';
import { bearer, chatBody, post, startEdge, testConfig } from './edge-helpers.ts';
import { type StubUpstream, startStubUpstream } from './stub-upstream.ts';

describe('RateLimiter', () => {
  const limits = { requestsPerMinute: 2, tokensPerMinute: 100 };

  it('refuses once the request bucket is empty and refills over time', () => {
    let now = 0;
    const limiter = new RateLimiter(() => now);
    expect(limiter.take('a', limits).allowed).toBe(true);
    expect(limiter.take('a', limits).allowed).toBe(true);
    const refused = limiter.take('a', limits);
    expect(refused.allowed).toBe(false);
    if (!refused.allowed) expect(refused.retryAfterSeconds).toBe(30);
    expect(limiter.take('b', limits).allowed).toBe(true);
    now += 30_000;
    expect(limiter.take('a', limits).allowed).toBe(true);
  });

  it('debits used tokens and refuses while the token bucket is empty', () => {
    let now = 0;
    const limiter = new RateLimiter(() => now);
    const big = { requestsPerMinute: 100, tokensPerMinute: 100 };
    expect(limiter.take('a', big).allowed).toBe(true);
    limiter.charge('a', big, 150);
    const refused = limiter.take('a', big);
    expect(refused.allowed).toBe(false);
    expect(refused.headers['x-ratelimit-remaining-tokens']).toBe('0');
    now += 60_000;
    expect(limiter.take('a', big).allowed).toBe(true);
  });
});

describe('edge rate limits', () => {
  let stub: StubUpstream;
  beforeAll(async () => {
    stub = await startStubUpstream({ reply: 'twelve chars' });
  });
  afterAll(() => stub.close());

  it('sends the limit headers and answers 429 with retry-after when exhausted', async () => {
    const edge = await startEdge(
      testConfig([stub.url], { limits: { requestsPerMinute: 3, tokensPerMinute: 1_000_000 } }),
    );
    try {
      const headers = await bearer('limited');
      const remaining: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await post(`${edge.url}/v1/chat/completions`, chatBody(`q${i}`), headers);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-ratelimit-limit-requests')).toBe('3');
        expect(res.headers.get('x-ratelimit-limit-tokens')).toBe('1000000');
        remaining.push(res.headers.get('x-ratelimit-remaining-requests')!);
        await res.text();
      }
      expect(remaining).toEqual(['2', '1', '0']);
      const refused = await post(`${edge.url}/v1/chat/completions`, chatBody('q'), headers);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const body = await refused.json();
      expect(body.error.type).toBe('rate_limit_exceeded');
      const other = await post(
        `${edge.url}/v1/chat/completions`,
        chatBody('q'),
        await bearer('other'),
      );
      expect(other.status).toBe(200);
      await other.text();
    } finally {
      await edge.close();
    }
  });

  it('counts tokens from the response usage, streamed or not', async () => {
    const edge = await startEdge(
      testConfig([stub.url], { limits: { requestsPerMinute: 600, tokensPerMinute: 10 } }),
    );
    try {
      const headers = await bearer('tokens');
      const first = await post(
        `${edge.url}/v1/chat/completions`,
        chatBody('a long enough question', { stream: true }),
        headers,
      );
      expect(first.status).toBe(200);
      const text = await first.text();
      expect(text).not.toContain('"usage"');
      const second = await post(`${edge.url}/v1/chat/completions`, chatBody('next'), headers);
      expect(second.status).toBe(429);
      expect(second.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
    } finally {
      await edge.close();
    }
  });
});
