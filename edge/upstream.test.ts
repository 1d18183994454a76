import { describe, expect, it } from 'vitest';
import { defaultConfig } from './config.ts';
import { BackendRouter } from './route.ts';
import { Backend, BackendPool, fromFetchResponse } from './upstream.ts';

const routing = (urls: string[] = ['http://a', 'http://b']) => ({
  ...defaultConfig().routing,
  urls,
  circuitBreakAfterFailures: 3,
  circuitOpenMs: 1000,
  maxOutstandingPerBackend: 2,
  affinitySlack: 1,
});
const noFetch = async () => fromFetchResponse(new Response(null, { status: 200 }));

describe('Backend circuit breaker', () => {
  it('opens after N failures in a row, half-opens after the cooldown, closes on success', () => {
    const b = new Backend('http://a', routing());
    b.requestFailed(0, 'x');
    b.requestFailed(0, 'x');
    expect(b.circuit(0)).toBe('closed');
    b.requestFailed(0, 'x');
    expect(b.circuit(10)).toBe('open');
    expect(b.available(10)).toBe(false);
    expect(b.circuit(1000)).toBe('half-open');
    expect(b.available(1000)).toBe(true);
    b.requestFailed(1000, 'x');
    expect(b.circuit(1500)).toBe('open');
    b.requestSucceeded();
    expect(b.circuit(1500)).toBe('closed');
  });

  it('turns unhealthy after consecutive failed health checks and back on one success', () => {
    const b = new Backend('http://a', { ...routing(), unhealthyAfterFailures: 2 });
    b.healthCheckFailed('down');
    expect(b.healthy).toBe(true);
    b.healthCheckFailed('down');
    expect(b.healthy).toBe(false);
    b.healthCheckPassed();
    expect(b.healthy).toBe(true);
  });
});

describe('BackendRouter.pick', () => {
  const setup = () => {
    const config = routing();
    const pool = new BackendPool(config, noFetch, () => 0);
    return { pool, router: new BackendRouter(pool, config, noFetch, () => 0) };
  };

  it('says busy when every backend is at its in-flight cap, down when none is healthy', () => {
    const { pool, router } = setup();
    for (const b of pool.backends) b.outstanding = 2;
    expect(router.pick(undefined, new Set())).toBe('busy');
    for (const b of pool.backends) b.markUnhealthy('gone');
    expect(router.pick(undefined, new Set())).toBe('down');
  });

  it('leaves the preferred backend once it is more than the slack busier than the least loaded', () => {
    const { pool, router } = setup();
    const preferred = router.pick('conversation', new Set()) as Backend;
    const other = pool.backends.find((b) => b !== preferred)!;
    preferred.outstanding = 1;
    expect(router.pick('conversation', new Set())).toBe(preferred);
    pool.config.maxOutstandingPerBackend = 10;
    preferred.outstanding = 2;
    expect(router.pick('conversation', new Set())).toBe(other);
    expect(router.pick('conversation', new Set([other]))).toBe(preferred);
  });
});

describe('BackendPool.setUrls', () => {
  it('keeps known backends (with their state) by URL, adds new ones, drops removed ones', () => {
    const pool = new BackendPool(routing(['http://a', 'http://b']), noFetch, () => 0);
    const [a, b] = pool.backends;
    a!.outstanding = 1;
    b!.markUnhealthy('gone');
    pool.setUrls(['http://b', 'http://c', 'http://c']);
    expect(pool.backends.map((x) => x.url)).toEqual(['http://b', 'http://c']);
    expect(pool.backends[0]).toBe(b);
    expect(pool.backends[0]!.healthy).toBe(false);
    expect(pool.backends[1]!.healthy).toBe(true);
    pool.setUrls([]);
    expect(pool.backends).toEqual([]);
    expect(pool.anyHealthy()).toBe(false);
  });
});
