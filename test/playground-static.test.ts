/**
 * The playground's HTTP surface on a real Node edge (and on workerd when Miniflare is installed):
 * exact-path static assets with ETags, GET/HEAD only, and the authenticated dashboard snapshot.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeApp } from '../edge/app.ts';
import type { EdgeDeps } from '../edge/context.ts';
import type { NodeEdge } from '../edge/node.ts';
import { PLAYGROUND_ASSETS } from '../edge/playground/assets.ts';
import { SNAPSHOT_REUSE_MS } from '../edge/playground/dashboard-route.ts';
import {
  bearer,
  hasMiniflare,
  SECRET,
  startEdge,
  startWorkerd,
  testConfig,
  token,
} from './edge-helpers.ts';
import { type StubUpstream, startStubUpstream } from './stub-upstream.ts';

let stub: StubUpstream;
let edge: NodeEdge;

beforeAll(async () => {
  stub = await startStubUpstream();
  edge = await startEdge(testConfig([stub.url, 'http://127.0.0.1:9']));
});
afterAll(async () => {
  await edge?.close();
  await stub?.close();
});

const get = (path: string, init: RequestInit = {}) => fetch(`${edge.url}${path}`, init);

describe('playground static assets (Node edge)', () => {
  it('serves every asset at its path with its content type, ETag and a strict CSP', async () => {
    for (const [path, asset] of Object.entries(PLAYGROUND_ASSETS)) {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(asset.contentType);
      expect(res.headers.get('etag')).toBe(asset.etag);
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toBe(asset.body);
    }
  });

  it('answers 304 to a matching If-None-Match and HEAD with headers only', async () => {
    const asset = PLAYGROUND_ASSETS['/playground.js']!;
    const cached = await get('/playground.js', { headers: { 'if-none-match': `W/${asset.etag}` } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
    const head = await get('/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(PLAYGROUND_ASSETS['/']!.bytes));
    expect(await head.text()).toBe('');
  });

  it('refuses other methods with 405 and allow: GET, HEAD', async () => {
    const res = await get('/', { method: 'POST', body: '{}' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect((await res.json()).error.code).toBe('method_not_allowed');
  });

  it('serves nothing outside the exact paths of the map', async () => {
    for (const path of [
      '/dashboard/',
      '/playground.js/x',
      '/src/main.ts',
      '/%2e%2e/package.json',
      '/index.html',
    ])
      expect((await get(path)).status, path).toBe(404);
  });
});

describe('GET /v1/dashboard', () => {
  it('requires a token', async () => {
    const res = await get('/v1/dashboard');
    expect(res.status).toBe(401);
    expect((await res.json()).error.type).toBe('authentication_error');
  });

  it('returns edge metrics and each backend with its state and scrape result', async () => {
    // Read to the end: the edge counts a request when its body has ended.
    await (await fetch(`${edge.url}/v1/models`, { headers: await bearer() })).text();
    const res = await get('/v1/dashboard', { headers: await bearer() });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.json();
    expect(body.edge.edge_requests_total).toContainEqual({
      labels: { route: '/v1/models', status: '200' },
      value: 1,
    });
    const [live, dead] = body.backends;
    // The stub has no /metrics: that is reported per backend, not as a failed snapshot.
    expect(live).toMatchObject({
      url: stub.url,
      metrics: null,
      scrapeError: 'metrics answered 404',
    });
    expect(dead).toMatchObject({ url: 'http://127.0.0.1:9', metrics: null });
    expect(dead.scrapeError).toBeTruthy();
  });

  it('shares one backend scrape among callers within the reuse window', async () => {
    let clock = 1_000_000;
    const scraped: string[] = [];
    const app = createEdgeApp(testConfig(['http://b1', 'http://b2']), {
      now: () => clock,
      // Only status and text() are read, which a fetch Response and an UpstreamResponse share.
      fetchUpstream: (async (url: string) => {
        scraped.push(url);
        return new Response('edgeserve:num_requests_running 2\n');
      }) as unknown as EdgeDeps['fetchUpstream'],
    });
    const headers = { authorization: `Bearer ${await token()}` };
    const snapshot = async () =>
      (await app.fetch(new Request('http://edge/v1/dashboard', { headers }))).json();
    const [first] = await Promise.all([snapshot(), snapshot()]);
    expect(first.backends[1].metrics['edgeserve:num_requests_running']).toEqual([
      { labels: {}, value: 2 },
    ]);
    expect(scraped).toEqual(['http://b1/metrics', 'http://b2/metrics']);
    clock += SNAPSHOT_REUSE_MS;
    await snapshot();
    expect(scraped).toHaveLength(4);
  });
});

describe.skipIf(!hasMiniflare)('playground on workerd (Miniflare)', () => {
  // biome-ignore lint/suspicious/noExplicitAny: Miniflare is imported only when installed
  let mf: any;
  beforeAll(async () => {
    mf = await startWorkerd({ JWT_SECRET: SECRET, BACKEND_URLS: stub.url });
  });
  afterAll(() => mf?.dispose());

  it('serves the same assets and the dashboard snapshot', async () => {
    const page = await mf.dispatchFetch('http://edge.test/dashboard');
    expect(page.status).toBe(200);
    expect(page.headers.get('etag')).toBe(PLAYGROUND_ASSETS['/dashboard']!.etag);
    expect(await page.text()).toBe(PLAYGROUND_ASSETS['/dashboard']!.body);
    const snapshot = await mf.dispatchFetch('http://edge.test/v1/dashboard', {
      headers: { authorization: `Bearer ${await token()}` },
    });
    expect(snapshot.status).toBe(200);
    expect((await snapshot.json()).backends[0].url).toBe(stub.url);
  });
});
