/**
 * Per-`sub` rate limits: two token buckets, requests/min and tokens/min, each refilled
 * continuously. A request takes one request token up front and is refused while the token bucket
 * is empty; the tokens it really used (the response's `usage`) are debited when it ends, so the
 * bucket may go negative and then holds the next request back until it has refilled.
 */
import { LRUCache } from 'lru-cache';
import type { RateLimits } from './config.ts';

interface Buckets {
  requests: number;
  tokens: number;
  updatedAt: number;
}

export type RateDecision =
  | { allowed: true; headers: Record<string, string> }
  | { allowed: false; headers: Record<string, string>; retryAfterSeconds: number; reason: string };

export class RateLimiter {
  private readonly buckets: LRUCache<string, Buckets>;

  constructor(
    private readonly now: () => number = Date.now,
    maxCallers = 100_000,
  ) {
    this.buckets = new LRUCache({ max: maxCallers });
  }

  /** Takes one request for `sub` if both buckets allow it. */
  take(sub: string, limits: RateLimits): RateDecision {
    const b = this.refill(sub, limits);
    if (b.requests < 1) {
      const wait = ((1 - b.requests) * 60) / limits.requestsPerMinute;
      return this.refuse(b, limits, wait, 'requests per minute');
    }
    if (b.tokens <= 0) {
      const wait = ((1 - b.tokens) * 60) / limits.tokensPerMinute;
      return this.refuse(b, limits, wait, 'tokens per minute');
    }
    b.requests -= 1;
    return { allowed: true, headers: headersFor(b, limits) };
  }

  /** Debits tokens a finished request used. */
  charge(sub: string, limits: RateLimits, numTokens: number): void {
    if (!(numTokens > 0)) return;
    this.refill(sub, limits).tokens -= numTokens;
  }

  private refuse(b: Buckets, limits: RateLimits, waitSeconds: number, what: string): RateDecision {
    return {
      allowed: false,
      headers: headersFor(b, limits),
      retryAfterSeconds: Math.max(1, Math.ceil(waitSeconds)),
      reason: `Rate limit reached: ${what}.`,
    };
  }

  private refill(sub: string, limits: RateLimits): Buckets {
    const now = this.now();
    let b = this.buckets.get(sub);
    if (!b) {
      b = { requests: limits.requestsPerMinute, tokens: limits.tokensPerMinute, updatedAt: now };
      this.buckets.set(sub, b);
      return b;
    }
    const minutes = Math.max(0, now - b.updatedAt) / 60_000;
    b.requests = Math.min(
      limits.requestsPerMinute,
      b.requests + minutes * limits.requestsPerMinute,
    );
    b.tokens = Math.min(limits.tokensPerMinute, b.tokens + minutes * limits.tokensPerMinute);
    b.updatedAt = now;
    return b;
  }
}

function headersFor(b: Buckets, limits: RateLimits): Record<string, string> {
  return {
    'x-ratelimit-limit-requests': String(limits.requestsPerMinute),
    'x-ratelimit-remaining-requests': String(Math.max(0, Math.floor(b.requests))),
    'x-ratelimit-limit-tokens': String(limits.tokensPerMinute),
    'x-ratelimit-remaining-tokens': String(Math.max(0, Math.floor(b.tokens))),
  };
}
